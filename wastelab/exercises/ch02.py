"""Self-checks for chapter 2, the data set: object sizes, the majority guess, a split.

Also the references ``relative_sizes`` and ``stratified_indices`` that the chapter's
solutions show.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..data.coco_stats import coco_statistics
from ..data.splits import Splits
from ..data.taco import TacoIndex, parse_annotations
from .core import CheckFailed, check_value, self_check


def stratified_indices(
    y: np.ndarray, fractions: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shuffled train/validation/test indices of labels ``y`` (N,), class shares kept.

    Each class is shuffled and cut by ``fractions`` on its own. Returns three int arrays
    whose union is ``0 .. N-1``. Same seed, same split.
    """
    y = np.asarray(y)
    rng = np.random.default_rng(seed)
    parts: tuple[list[np.ndarray], ...] = ([], [], [])
    for label in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == label))  # this class only, shuffled
        n_train = round(fractions[0] * len(idx))
        n_val = round(fractions[1] * len(idx))
        for part, chunk in zip(
            parts, np.split(idx, [n_train, n_train + n_val]), strict=True
        ):
            part.append(chunk)
    # mix the classes within each split, so that they do not come in blocks
    train, val, test = (rng.permutation(np.concatenate(part)) for part in parts)
    return train, val, test


_SPLITS = ("train", "validation", "test")


def _split_cases() -> list[tuple[np.ndarray, tuple[float, float, float], int, str]]:
    """(labels, fractions, seed, description) for check_stratified_indices."""
    rng = np.random.default_rng(2)
    sorted_labels = np.repeat([0, 1], [70, 30])
    rare = rng.permutation(np.repeat([0, 1], [900, 100]))
    three = rng.permutation(np.repeat([0, 1, 2], [30, 20, 10]))
    return [
        (
            sorted_labels,
            (0.8, 0.1, 0.1),
            0,
            "100 labels sorted by class, 30 % of class 1",
        ),
        (rare, (0.8, 0.1, 0.1), 1, "1,000 shuffled labels, 10 % of class 1"),
        (
            three,
            (0.6, 0.2, 0.2),
            2,
            "60 labels of three classes (30, 20, 10), split 60/20/20",
        ),
    ]


def _fail(where: str, problem: str, hint: str) -> None:
    raise CheckFailed(f"my_stratified_indices: {where}: {problem}\n  hint: {hint}")


def _as_index_arrays(result: Any, n: int, where: str) -> list[np.ndarray]:
    if not isinstance(result, (tuple, list)) or len(result) != 3:
        _fail(
            where,
            f"returned {type(result).__name__}, expected three index arrays",
            "return a tuple (train_idx, val_idx, test_idx)",
        )
    arrays = []
    for name, part in zip(_SPLITS, result, strict=True):
        arr = np.asarray(part)
        if arr.ndim != 1 or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
            _fail(
                where,
                f"the {name} indices have shape {arr.shape} and dtype {arr.dtype}",
                "each part must be a 1-D array of integer positions into y, e.g. from "
                "np.flatnonzero(y == label)",
            )
        arrays.append(arr.astype(np.int64))
    together = np.concatenate(arrays)
    if together.size != n or not np.array_equal(np.sort(together), np.arange(n)):
        counts = np.bincount(together[(together >= 0) & (together < n)], minlength=n)
        _fail(
            where,
            f"the three parts hold {together.size} indices for {n} labels "
            f"({int(np.sum(counts == 0))} missing, {int(np.sum(counts > 1))} repeated)",
            "every index 0 .. N-1 must land in exactly one split: cut each shuffled "
            "class into three consecutive pieces, e.g. with "
            "np.split(idx, [n_train, n_train + n_val])",
        )
    return arrays


def _call(
    answer: Callable, y: np.ndarray, fractions: tuple, seed: int, where: str
) -> Any:
    try:
        return answer(y.copy(), fractions, seed)
    except NotImplementedError:
        raise
    except Exception as err:
        raise CheckFailed(
            f"my_stratified_indices: {where}: raised {type(err).__name__}: {err}"
        ) from err


@self_check
def check_stratified_indices(
    my_stratified_indices: Callable, verbose: bool = True
) -> int:
    """Check ``my_stratified_indices(y, fractions, seed)`` by what a split must do.

    On several label arrays: three index arrays that together hold every index once,
    each class split by ``fractions`` (within one image), and a shuffle that depends on
    ``seed``
    only. Any correct split passes, not just the reference's.
    """
    if not callable(my_stratified_indices):
        raise CheckFailed(
            "my_stratified_indices: expected a function, got "
            f"{type(my_stratified_indices).__name__}"
        )
    cases = _split_cases()
    for number, (y, fractions, seed, what) in enumerate(cases, start=1):
        where = f"case {number} ({what})"
        parts = _as_index_arrays(
            _call(my_stratified_indices, y, fractions, seed, where), len(y), where
        )
        for label in np.unique(y):
            n_label = int(np.sum(y == label))
            for name, part, fraction in zip(_SPLITS, parts, fractions, strict=True):
                got, want = int(np.sum(y[part] == label)), fraction * n_label
                if abs(got - want) > 1 + 1e-9:
                    _fail(
                        where,
                        f"the {name} split holds {got} images of class {label}, "
                        f"expected about {want:g} ({fraction:g} of {n_label})",
                        "split each class on its own: for every label in "
                        "np.unique(y), take its indices np.flatnonzero(y == label), "
                        "shuffle them, and cut them by the fractions; a split of all "
                        "indices at once does not keep the class shares, and an "
                        "unshuffled one takes its test images from the "
                        "end of the list",
                    )
    y, fractions, seed, what = cases[0]
    where = f"case 1 ({what}) called twice"
    first = _call(my_stratified_indices, y, fractions, seed, where)
    again = _call(my_stratified_indices, y, fractions, seed, where)
    if not all(np.array_equal(a, b) for a, b in zip(first, again, strict=True)):
        _fail(
            where,
            "the same seed gave two different splits",
            "draw every random number from one generator made from the seed, "
            "rng = np.random.default_rng(seed), not from np.random's global state",
        )
    other = _call(
        my_stratified_indices, y, fractions, seed + 1, f"case 1 ({what}), seed + 1"
    )
    if all(
        np.array_equal(np.sort(a), np.sort(b))
        for a, b in zip(first, other, strict=True)
    ):
        _fail(
            f"case 1 ({what})",
            f"seeds {seed} and {seed + 1} put the same images in each split",
            "shuffle each class with the seed's generator (rng.permutation(idx)) "
            "before cutting it; otherwise the test set is always the last images of "
            "each class",
        )
    if verbose:
        print(f"✓ my_stratified_indices: all {len(cases) + 1} checks passed")
    return len(cases) + 1


@self_check
def check_majority_accuracy(accuracy: Any, data: Splits, verbose: bool = True) -> None:
    """Check the accuracy of always answering "no bottle" on ``data``'s test split."""
    bottle = data.class_names.index("bottle") if "bottle" in data.class_names else 1
    expected = float(np.mean(data.y_test != bottle))
    hint = (
        "count the test images without a bottle, np.sum(data.y_test == 0), and divide "
        "by the number of test images"
    )
    try:
        value = float(accuracy)
    except (TypeError, ValueError):
        value = None
    if value is not None:
        if np.isclose(value, 1 - expected) and not np.isclose(expected, 0.5):
            hint = (
                "that is the share of bottles; the guess 'no bottle' is right for "
                "every image WITHOUT a bottle"
            )
        elif np.isclose(value, 100 * expected):
            hint = (
                "give the accuracy as a fraction between 0 and 1, not as a percentage"
            )
        elif not np.isclose(value, expected) and np.isclose(
            value, float(np.mean(data.y_train != bottle))
        ):
            hint = (
                "that is the training split's accuracy: use the test labels, "
                "data.y_test"
            )
    check_value(
        "accuracy of always answering 'no bottle' (test split)",
        accuracy,
        expected,
        hint=hint,
        verbose=verbose,
    )


def relative_sizes(index: TacoIndex) -> np.ndarray:
    """Each annotated object's size relative to its photo: sqrt(box area / photo area).

    In image id order, and within a photo in the order of its annotations. Returns
    float64 of shape (number of annotations,).
    """
    sizes = []
    for image_id in sorted(index.images):
        image = index.images[image_id]
        photo_area = image["width"] * image["height"]
        for ann in index.annotations[image_id]:
            _, _, w, h = ann["bbox"]
            sizes.append(np.sqrt(w * h / photo_area))
    return np.array(sizes, dtype=np.float64)


def _size_cases(index: TacoIndex | None) -> list[tuple[TacoIndex, str]]:
    """(index, description) for check_relative_sizes: a tiny made-up file, ``index``."""
    tiny = {
        "images": [
            {"id": 0, "file_name": "a.jpg", "width": 100, "height": 100},
            {"id": 1, "file_name": "b.jpg", "width": 400, "height": 100},
            {"id": 2, "file_name": "c.jpg", "width": 50, "height": 50},
        ],
        "annotations": [
            {"id": 0, "image_id": 1, "category_id": 0, "bbox": [0, 0, 20, 50]},
            {"id": 1, "image_id": 0, "category_id": 0, "bbox": [10, 10, 10, 40]},
            {"id": 2, "image_id": 0, "category_id": 0, "bbox": [0, 0, 100, 100]},
            {"id": 3, "image_id": 1, "category_id": 0, "bbox": [300, 50, 100, 25]},
        ],
        "categories": [{"id": 0, "name": "Glass bottle", "supercategory": "Bottle"}],
    }
    cases = [
        (
            parse_annotations(tiny),
            "3 photos: 100x100 with boxes 10x40 and 100x100, 400x100 with boxes "
            "20x50 and 100x25, 50x50 without any",
        )
    ]
    if index is not None:
        cases.append((index, f"the {index.report.name} index"))
    return cases


@self_check
def check_relative_sizes(
    my_relative_sizes: Callable, index: TacoIndex | None = None, verbose: bool = True
) -> int:
    """Check ``my_relative_sizes(index)``: one size per annotation, sqrt(box / photo).

    Tried on a tiny made-up index and on ``index`` (e.g. TACO's); the sizes are
    compared as sorted values, so any order passes.
    """
    if not callable(my_relative_sizes):
        raise CheckFailed(
            "my_relative_sizes: expected a function, got "
            f"{type(my_relative_sizes).__name__}"
        )
    cases = _size_cases(index)
    for number, (case, what) in enumerate(cases, start=1):
        where = f"my_relative_sizes: case {number} ({what})"
        try:
            got = np.asarray(my_relative_sizes(case), dtype=np.float64)
        except NotImplementedError:
            raise
        except Exception as err:
            raise CheckFailed(f"{where}: raised {type(err).__name__}: {err}") from err
        want = np.sort(coco_statistics(case).relative_sizes)
        if got.shape != want.shape:
            hint = (
                "one value per photo: loop over the annotations of each photo, "
                "index.annotations[image_id], not over the photos"
                if got.size == len(case.images)
                else "one value for every annotation, index.annotations[image_id] "
                "for every image_id in index.images"
            )
            raise CheckFailed(
                f"{where}: gave {got.size} values, expected {want.size}\n  hint: {hint}"
            )
        got = np.sort(got)
        if np.allclose(got, want, rtol=1e-6):
            continue
        if np.allclose(got, want**2, rtol=1e-6):
            hint = "that is the box's share of the photo's area: take its square root"
        elif np.allclose(got**2, want, rtol=1e-6):
            hint = "these are square roots of the sizes: take the square root only once"
        else:
            hint = (
                "divide each box's area, w * h from its bbox [x, y, w, h], by the area "
                "of ITS photo, index.images[ann['image_id']], width times height"
            )
        raise CheckFailed(
            f"{where}: gave sorted sizes {np.round(got[:4], 4)}..., expected "
            f"{np.round(want[:4], 4)}...\n  hint: {hint}"
        )
    if verbose:
        print(f"✓ my_relative_sizes: all {len(cases)} checks passed")
    return len(cases)
