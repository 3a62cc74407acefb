"""Chapter 10 self-check: the reference class weights pass, typical mistakes fail with the
right hint, an unfinished stub passes through as NotImplementedError."""

import numpy as np
import pytest

from wastelab.data.pipeline import class_weights
from wastelab.exercises import CheckFailed
from wastelab.exercises.ch10 import check_class_weights


def _stub(y):
    raise NotImplementedError("Exercise 10.1: write my_class_weights")


def test_reference_passes_and_stub_is_not_done_yet(capsys):
    assert check_class_weights(class_weights) is None
    assert "✓ my_class_weights: all 4 checks passed" in capsys.readouterr().out
    with pytest.raises(NotImplementedError):
        check_class_weights(_stub)


def test_other_correct_answer_passes(capsys):
    def with_numpy_keys(y):
        values, counts = np.unique(y, return_counts=True)
        return {
            v: len(y) / len(values) / c for v, c in zip(values, counts, strict=True)
        }

    check_class_weights(with_numpy_keys)
    assert "all 4 checks passed" in capsys.readouterr().out


def _inverse_share(y):
    counts = np.bincount(y)
    return {c: counts[c] / len(y) for c in range(len(counts))}


def _no_k(y):
    counts = np.bincount(y)
    return {c: len(y) / counts[c] for c in range(len(counts))}


def _two_classes_assumed(y):
    counts = np.bincount(y)
    return {c: len(y) / (2 * counts[c]) for c in range(len(counts))}


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (_inverse_share, "LARGER weight"),
        (_no_k, "divide by the number of classes"),
        (_two_classes_assumed, "count the classes present"),
        (lambda y: list(class_weights(y).values()), "return a dict"),
        (lambda y: {0: 1.0}, r"no weight for class\(es\) \[1\]"),
    ],
)
def test_mistakes_fail_with_the_right_hint(wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_class_weights(wrong, verbose=False)
