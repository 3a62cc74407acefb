"""Chapter 2 self-checks: the reference passes, typical mistakes fail with the right hint."""

import numpy as np
import pytest

from wastelab.data import Splits, stratified_split
from wastelab.exercises import CheckFailed
from wastelab.exercises.ch02 import (
    check_majority_accuracy,
    check_stratified_indices,
    stratified_indices,
)


def _stub(*args):
    raise NotImplementedError("Exercise 2.2: write my_stratified_indices")


@pytest.mark.parametrize(
    "n0, n1, fractions",
    [
        (70, 30, (0.8, 0.1, 0.1)),
        (5, 2, (0.8, 0.1, 0.1)),
        (3, 3, (0.5, 0.5, 0.0)),
        (1, 9, (0.6, 0.2, 0.2)),
    ],
)
def test_reference_split_keeps_class_shares(n0, n1, fractions):
    y = np.random.default_rng(0).permutation(np.repeat([0, 1], [n0, n1]))
    parts = stratified_indices(y, fractions, seed=3)
    assert np.array_equal(np.sort(np.concatenate(parts)), np.arange(len(y)))
    for label, n in ((0, n0), (1, n1)):
        for part, fraction in zip(parts, fractions, strict=True):
            assert abs(np.sum(y[part] == label) - fraction * n) <= 1
    again = stratified_indices(y, fractions, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(parts, again, strict=True))


def test_reference_and_other_correct_answers_pass(capsys):
    assert check_stratified_indices(stratified_indices) == 4
    assert "✓" in capsys.readouterr().out

    def with_sklearn(y, fractions, seed):  # a different correct answer also passes
        from sklearn.model_selection import train_test_split

        ids = np.arange(len(y))
        train, rest = train_test_split(
            ids, train_size=fractions[0], stratify=y, random_state=seed
        )
        share = fractions[1] / (fractions[1] + fractions[2])
        val, test = train_test_split(
            rest, train_size=share, stratify=y[rest], random_state=seed
        )
        return train, val, test

    assert check_stratified_indices(with_sklearn, verbose=False) == 4


def test_stub_is_not_done_yet():
    with pytest.raises(NotImplementedError):
        check_stratified_indices(_stub)


def _unstratified(y, fractions, seed):
    idx = np.random.default_rng(seed).permutation(len(y))
    a, b = round(fractions[0] * len(y)), round((fractions[0] + fractions[1]) * len(y))
    return idx[:a], idx[a:b], idx[b:]


def _unshuffled(y, fractions, seed):
    parts = ([], [], [])
    for label in np.unique(y):
        idx = np.flatnonzero(y == label)
        a, b = round(fractions[0] * len(idx)), round(fractions[1] * len(idx))
        for part, chunk in zip(parts, np.split(idx, [a, a + b]), strict=True):
            part.append(chunk)
    return tuple(np.concatenate(p) for p in parts)


def _global_random(y, fractions, seed):
    parts = ([], [], [])
    for label in np.unique(y):
        idx = np.random.permutation(np.flatnonzero(y == label))
        a, b = round(fractions[0] * len(idx)), round(fractions[1] * len(idx))
        for part, chunk in zip(parts, np.split(idx, [a, a + b]), strict=True):
            part.append(chunk)
    return tuple(np.concatenate(p) for p in parts)


def _overlapping(y, fractions, seed):
    train, val, test = stratified_indices(y, fractions, seed)
    return train, val, np.concatenate([test, val[:1]])


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (_unstratified, "split each class on its own"),
        (_unshuffled, "seeds 0 and 1 put the same images"),
        (_global_random, "same seed gave two different splits"),
        (_overlapping, "1 repeated"),
        (
            lambda y, fractions, seed: stratified_indices(y, fractions, seed)[:2],
            "three index arrays",
        ),
    ],
)
def test_split_mistakes(wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_stratified_indices(wrong, verbose=False)


def test_crashing_answer_is_reported():
    def crashes(y, fractions, seed):
        return y[len(y)]

    with pytest.raises(CheckFailed, match="raised IndexError"):
        check_stratified_indices(crashes, verbose=False)


@pytest.fixture
def tiny_splits():
    y = np.repeat([0, 1], [35, 15])
    x = np.zeros((len(y), 4, 4, 1), dtype=np.uint8)
    return stratified_split(x, y, seed=0)


def test_majority_accuracy(tiny_splits, capsys):
    right = float(np.mean(tiny_splits.y_test == 0))
    check_majority_accuracy(right, tiny_splits)
    assert "✓" in capsys.readouterr().out
    with pytest.raises(CheckFailed, match="share of bottles"):
        check_majority_accuracy(1 - right, tiny_splits, verbose=False)
    with pytest.raises(CheckFailed, match="percentage"):
        check_majority_accuracy(100 * right, tiny_splits, verbose=False)
    with pytest.raises(CheckFailed, match="divide by"):
        check_majority_accuracy(0.123, tiny_splits, verbose=False)
    with pytest.raises(NotImplementedError):
        check_majority_accuracy(..., tiny_splits, verbose=False)


def test_majority_accuracy_train_split_hint():
    # train and test shares differ here: 7 of 10 "other" in train, 1 of 2 in test
    y = np.array([0] * 7 + [1] * 3 + [0, 1])
    x = np.zeros((12, 2, 2, 1), dtype=np.uint8)
    s = Splits(x[:10], y[:10], x[:0], y[:0], x[10:], y[10:])
    with pytest.raises(CheckFailed, match="training split"):
        check_majority_accuracy(0.7, s, verbose=False)


# ------------------------------------------------------------------------ object sizes


@pytest.fixture(scope="module")
def taco_index():
    from pathlib import Path

    from wastelab.data.taco import parse_annotations

    root = Path(__file__).resolve().parents[2]
    return parse_annotations(root / "book" / "data" / "taco" / "annotations.json.xz")


def test_relative_sizes_reference_passes_on_the_shipped_taco_file(taco_index, capsys):
    from wastelab.exercises.ch02 import check_relative_sizes, relative_sizes

    assert check_relative_sizes(relative_sizes, taco_index) == 2
    assert "✓ my_relative_sizes: all 2 checks passed" in capsys.readouterr().out
    sizes = relative_sizes(taco_index)
    assert sizes.shape == (taco_index.n_annotations,) and 0 < sizes.min() <= 1


def test_relative_sizes_in_another_order_pass(taco_index):
    from wastelab.exercises.ch02 import check_relative_sizes, relative_sizes

    assert check_relative_sizes(lambda i: relative_sizes(i)[::-1], taco_index) == 2


def _no_sqrt(index):
    from wastelab.exercises.ch02 import relative_sizes

    return relative_sizes(index) ** 2


def _twice_sqrt(index):
    from wastelab.exercises.ch02 import relative_sizes

    return np.sqrt(relative_sizes(index))


def _per_photo(index):
    return np.ones(len(index.images))


def _first_photo_area(index):
    first = index.images[min(index.images)]
    area = first["width"] * first["height"]
    return np.array(
        [
            np.sqrt(a["bbox"][2] * a["bbox"][3] / area)
            for anns in index.annotations.values()
            for a in anns
        ]
    )


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (_no_sqrt, "take its square root"),
        (_twice_sqrt, "only once"),
        (_per_photo, "one value per photo"),
        (_first_photo_area, "ITS photo"),
        (lambda index: 1 / 0, "raised ZeroDivisionError"),
    ],
)
def test_relative_sizes_mistakes_get_hints(wrong, hint):
    from wastelab.exercises.ch02 import check_relative_sizes

    with pytest.raises(CheckFailed, match=hint):
        check_relative_sizes(wrong, verbose=False)


def test_relative_sizes_stub_is_not_done_yet():
    from wastelab.exercises.ch02 import check_relative_sizes

    def stub(index):
        raise NotImplementedError

    with pytest.raises(NotImplementedError):
        check_relative_sizes(stub)
    assert check_relative_sizes(stub, strict=False) is None  # the notebook's way
