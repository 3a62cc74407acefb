"""Self-checks for chapter 10, doing better: balanced class weights.

The reference is :func:`wastelab.data.pipeline.class_weights`. The check prints a one-line
verdict or raises ``CheckFailed`` with a hint, as in :mod:`wastelab.exercises.ch03`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..data.pipeline import class_weights
from .core import Case, CheckFailed, run_checks, self_check


def _as_weight_vector(my_class_weights: Callable) -> Callable:
    """Call the reader's function and turn its ``{class: weight}`` dict into a vector."""

    def run(y: np.ndarray) -> np.ndarray:
        got = my_class_weights(y)
        if not isinstance(got, dict):
            raise CheckFailed(
                f"my_class_weights: return a dict {{class id: weight}}, as Keras' class_weight "
                f"wants, e.g. {{0: 0.71, 1: 1.67}}; got {type(got).__name__}"
            )
        classes = range(int(np.max(y)) + 1)
        missing = [c for c in classes if c not in got]
        if missing:
            raise CheckFailed(
                f"my_class_weights: no weight for class(es) {missing}; the dict "
                f"needs one entry per class id 0..{max(classes)}, got keys "
                f"{sorted(got)}"
            )
        return np.array([float(got[c]) for c in classes])

    return run


def _expected(y: np.ndarray) -> np.ndarray:
    weights = class_weights(y)
    return np.array([weights[c] for c in sorted(weights)])


def _diagnose(my_class_weights: Callable, y: np.ndarray) -> str:
    """A hint for the first case, naming the slip when the answer matches a typical one."""
    formula = (
        "n / (k * count): 4 labels, 2 classes; class 0 occurs 3 times -> "
        "4 / (2 * 3) = 0.667, class 1 once -> 4 / (2 * 1) = 2.0"
    )
    try:
        got = _as_weight_vector(my_class_weights)(y)
    except Exception:  # NotImplementedError and crashes are reported by run_checks
        return formula
    counts = np.bincount(y).astype(float)
    if got.shape == counts.shape and np.allclose(got, counts / len(y)):
        return (
            formula
            + "; these are the class shares: the rare class must get the LARGER weight"
        )
    if got.shape == counts.shape and np.allclose(got, len(y) / counts):
        return (
            formula
            + "; divide by the number of classes k too, not only by the count: then "
            "the weights average to 1 over the training images and the loss keeps its size"
        )
    return formula


@self_check
def check_class_weights(my_class_weights: Callable, verbose: bool = True) -> None:
    """Check ``my_class_weights(y)``: the "balanced" weights ``n / (k * count)`` as a dict.

    Cases: a tiny 3-to-1 example, the book's 70/30 split, balanced classes and three classes.
    """
    small = np.array([0, 0, 0, 1])
    book = np.array([0] * 840 + [1] * 360)
    balanced = np.array([0, 1] * 50)
    three = np.array([0] * 50 + [1] * 30 + [2] * 20)
    cases = [
        Case((small,), _expected(small), hint=_diagnose(my_class_weights, small)),
        Case(
            (book,),
            _expected(book),
            hint="divide by the number of classes k too, not only by the count: then the "
            "weights average to 1 over the training images, so the loss keeps its size "
            "(840 other and 360 bottles give 0.714 and 1.667)",
        ),
        Case(
            (balanced,),
            _expected(balanced),
            hint="with equally frequent classes every weight must be 1.0",
        ),
        Case(
            (three,),
            _expected(three),
            hint="count the classes present (k = 3 here) instead of assuming two: "
            "100 / (3 * 50), 100 / (3 * 30), 100 / (3 * 20)",
        ),
    ]
    run_checks(
        "my_class_weights", _as_weight_vector(my_class_weights), cases, verbose=verbose
    )
