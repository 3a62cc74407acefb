"""Chapter 10 self-checks: the references pass, typical mistakes fail with the right
hint, an unfinished stub passes through as NotImplementedError; the modelling check
measures a model with the chapter's protocol."""

import re
from pathlib import Path

import keras
import numpy as np
import pytest

from wastelab import crossval
from wastelab.exercises import CheckFailed, ch10
from wastelab.exercises.ch10 import (
    build_deeper_cnn,
    check_flip_average,
    check_oversample,
    check_recipe,
    oversample_indices,
    paired_verdict,
)
from wastelab.models import build_cnn

CHAPTER = Path(__file__).resolve().parents[2] / "book" / "10_better.md"


def _stub(*args, **kwargs):
    raise NotImplementedError("Exercise 10: not written yet")


# ------------------------------------------------------------------ oversampling


def test_oversample_reference_passes_and_stub_is_not_done_yet(capsys):
    assert check_oversample(oversample_indices) is None
    assert "✓ my_oversample: all 4 checks passed" in capsys.readouterr().out
    with pytest.raises(NotImplementedError):
        check_oversample(_stub)


def test_oversample_reference_balances_keeps_everything_and_is_seeded():
    y = np.array([0] * 7 + [1] * 2 + [2] * 3)
    idx = oversample_indices(y, seed=3)
    assert np.bincount(y[idx]).tolist() == [7, 7, 7]
    assert set(idx.tolist()) == set(range(len(y)))
    np.testing.assert_array_equal(idx, oversample_indices(y, seed=3))
    assert not np.array_equal(idx, oversample_indices(y, seed=4))


def _sorted_oversample(y, seed=0):
    return np.sort(oversample_indices(y, seed))


def _unseeded(y, seed=0):
    return np.random.permutation(oversample_indices(y, seed))


def _undersample(y, seed=0):
    rng = np.random.default_rng(seed)
    n = np.bincount(y).min()
    keep = [rng.choice(np.flatnonzero(y == c), n, replace=False) for c in np.unique(y)]
    return rng.permutation(np.concatenate(keep))


def _all_with_replacement(y, seed=0):
    rng = np.random.default_rng(seed)
    n = np.bincount(y).max()
    parts = [rng.choice(np.flatnonzero(y == c), n) for c in np.unique(y)]
    return rng.permutation(np.concatenate(parts))


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda y, seed=0: np.arange(len(y)), "class counts after oversampling"),
        (_undersample, "class counts after oversampling"),
        (_all_with_replacement, "never appear|needs no copies"),
        (_sorted_oversample, "shuffle"),
        (_unseeded, "same seed"),
        (lambda y, seed=0: oversample_indices(y).astype(float), "integer indices"),
        (lambda y, seed=0: oversample_indices(y) + len(y), "must lie in"),
        (lambda y, seed=0: y.missing, r"case 1 \(3 to 1\) raised AttributeError"),
    ],
)
def test_oversample_mistakes_fail_with_the_right_hint(wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_oversample(wrong, verbose=False)


# ------------------------------------------------------------------ flip TTA


def test_flip_reference_passes_and_stub_is_not_done_yet(capsys):
    check_flip_average(crossval.flip_average)
    assert "✓ my_flip_average: all 2 checks passed" in capsys.readouterr().out
    with pytest.raises(NotImplementedError):
        check_flip_average(_stub)


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda predict, x: predict(x), "predict\\(x\\) alone"),
        (lambda predict, x: (predict(x) + predict(x[:, ::-1])) / 2, "upside down"),
        (lambda predict, x: predict(x) + predict(x[:, :, ::-1]), "take the mean"),
    ],
)
def test_flip_mistakes_fail_with_the_right_hint(wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_flip_average(wrong, verbose=False)


def test_flip_hints_never_name_the_reference():
    with pytest.raises(CheckFailed) as failure:
        check_flip_average(lambda predict, x: predict(x), verbose=False)
    assert "flip_average" not in str(failure.value).replace("my_flip_average", "")


# ------------------------------------------------------------------ a recipe of one's own


def test_the_chapter_trains_its_folds_as_the_check_does():
    text = CHAPTER.read_text()
    match = re.search(r"^EPOCHS, BATCH = (\d+), (\d+)", text, re.M)
    assert match, "chapter 10 no longer sets EPOCHS, BATCH"
    assert (int(match[1]), int(match[2])) == (ch10.FOLD_EPOCHS, ch10.FOLD_BATCH)
    assert "n_splits=5" in text


@pytest.fixture(scope="module")
def tiny():
    """40 colour images 16x16 (bright ones are bottles) and 2 stratified folds."""
    rng = np.random.default_rng(0)
    y = np.array([0, 1] * 20)
    x = (rng.random((40, 16, 16, 3)) * 120 + 100 * y[:, None, None, None]).astype(
        np.uint8
    )
    return x, y, crossval.stratified_folds(y, n_splits=2, seed=0)


def test_cross_validate_scores_every_image_once(tiny):
    x, y, folds = tiny
    oof = ch10.cross_validate(build_deeper_cnn, x, y, folds, epochs=1)
    assert oof.shape == (40,) and np.all((oof >= 0) & (oof <= 1))


def _dense_model(n_out=2, width=4):
    def build(input_shape, seed=0):
        inputs = keras.Input(shape=input_shape)
        h = keras.layers.Flatten()(inputs)
        h = keras.layers.Dense(width, activation="relu")(h)
        return keras.Model(inputs, keras.layers.Dense(n_out, activation="softmax")(h))

    return build


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda shape, seed=0: "a model", "return a keras.Model"),
        (_dense_model(n_out=3), "2 class probabilities"),
        (_dense_model(width=200), "parameters; stay under"),
        (lambda shape, seed=0: build_cnn(shape), "course CNN"),
        (lambda shape, seed=0: _dense_model()((8, 8, 3)), "takes images"),
    ],
)
def test_recipe_architecture_mistakes_fail_before_any_training(
    wrong, hint, tiny, monkeypatch
):
    monkeypatch.setattr(ch10, "cross_validate", _must_not_train)
    x, y, folds = tiny
    with pytest.raises(CheckFailed, match=hint):
        check_recipe(wrong, x, y, folds, np.full(40, 0.5), verbose=False)


def _must_not_train(*args, **kwargs):
    raise AssertionError("the architecture check should have failed first")


def test_recipe_reports_and_passes_a_model_that_ranks_bottles_first(
    tiny, monkeypatch, capsys
):
    x, y, _ = tiny
    folds = crossval.stratified_folds(y, n_splits=5, seed=0)
    monkeypatch.setattr(ch10, "cross_validate", lambda *a, **k: 0.2 + 0.6 * y)
    baseline = np.random.default_rng(1).random(40)
    result = check_recipe(build_deeper_cnn, x, y, folds, baseline)
    out = capsys.readouterr().out
    assert result["mean"] == pytest.approx(1.0) and result["verdict"] == "better"
    for text in (
        "mean out-of-fold F1 1.000",
        "confusion matrix",
        "clearly better",
        "✓",
    ):
        assert text in out
    assert "[[20  0]\n [ 0 20]]" in out


def test_recipe_fails_a_model_no_better_than_chance(tiny, monkeypatch):
    x, y, folds = tiny
    monkeypatch.setattr(ch10, "cross_validate", lambda *a, **k: 0.8 - 0.6 * y)
    with pytest.raises(CheckFailed, match="no better than random scores"):
        check_recipe(build_deeper_cnn, x, y, folds, y * 1.0, verbose=False)
    with pytest.raises(NotImplementedError):
        check_recipe(_stub, x, y, folds, y * 1.0)


@pytest.mark.parametrize(
    "per_fold, boot, verdict",
    [
        ({"low": 0.01, "high": 0.05}, {"low": 0.002, "high": 0.04}, "better"),
        ({"low": 0.01, "high": 0.05}, {"low": -0.01, "high": 0.04}, "unclear"),
        ({"low": -0.05, "high": -0.01}, {"low": -0.04, "high": -0.001}, "worse"),
        ({"low": -0.05, "high": 0.01}, {"low": -0.04, "high": -0.001}, "unclear"),
    ],
)
def test_paired_verdict_needs_both_intervals(per_fold, boot, verdict):
    assert paired_verdict(per_fold, boot) == verdict


def test_the_reference_model_is_the_deeper_cnn_of_the_solution():
    from wastelab.models import count_params

    model = build_deeper_cnn((50, 50, 3))
    convs = (3 * 9 + 1) * 16 + (16 * 9 + 1) * 16 + (16 * 9 + 1) * 32 + (32 * 9 + 1) * 32
    assert count_params(model) == convs + 3 * 3 * 32 * 2 + 2 < ch10.MAX_PARAMS
    assert model.output_shape == (None, 2)
