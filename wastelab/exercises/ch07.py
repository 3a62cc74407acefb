"""Self-checks for chapter 7, measuring what matters: precision, recall and F1 from the four
counts of a confusion matrix, and the scores of a majority guess.

Reference answers (tested, shown in the chapter's solutions):

- :func:`precision_recall_f1`: the three scores of the positive class from TP, FP, FN, TN;
- :func:`survey_majority_accuracy_answer`, :func:`survey_majority_f1_answer`: the value
  exercise, a majority guess on a litter survey of :data:`SURVEY_PHOTOS` photos.

Each ``check_*`` prints a one-line verdict when every case passes and raises
:class:`~wastelab.exercises.core.CheckFailed` (saying which input failed, with a hint) at
the first wrong one; an answer that still raises ``NotImplementedError`` passes it through.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .ch03 import _strict
from .core import Case, CheckFailed, check_value, run_checks, self_check

# The value exercise: a survey of photos, few of which show a bottle.
SURVEY_PHOTOS = 2000
SURVEY_BOTTLES = 140


def precision_recall_f1(
    tp: int, fp: int, fn: int, tn: int
) -> tuple[float, float, float]:
    """Precision, recall and F1 of the positive class from the four counts.

    precision = TP / (TP + FP), recall = TP / (TP + FN), F1 = 2 P R / (P + R), their
    harmonic mean. A ratio with an empty denominator (nothing predicted positive, no true
    positives at all) counts as 0, as in scikit-learn with ``zero_division=0``. TN plays no
    part: these scores look at the positive class only.
    """
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return float(precision), float(recall), float(f1)


def _as_three(answer: Callable) -> Callable:
    """``answer`` with its result as a float array of shape (3,), or a clear TypeError."""

    def run(*args):
        got = answer(*args)
        try:
            arr = np.asarray(got, dtype=float)
        except (TypeError, ValueError):
            arr = None
        if arr is None or arr.shape != (3,):
            raise TypeError(
                f"return a tuple (precision, recall, f1) of three numbers, got "
                f"{type(got).__name__} {got!r:.60}"
            )
        return arr

    return run


_PRF_HINT = (
    "precision = TP / (TP + FP) (how many alarms were right), recall = TP / (TP + FN) "
    "(how many bottles were found), F1 = 2 * P * R / (P + R); return (precision, "
    "recall, f1) in that order"
)


def _prf_hint(answer: Callable, counts: tuple[int, int, int, int]) -> str:
    """A hint naming the typical slip that ``answer``'s result on ``counts`` shows."""
    p, r, f = precision_recall_f1(*counts)
    try:
        with np.errstate(all="ignore"):
            got = np.asarray(answer(*counts), dtype=float).ravel()
    except Exception:  # the checks report the crash itself
        return _PRF_HINT
    if got.shape != (3,):
        return _PRF_HINT
    slips = [
        (
            (r, p, f),
            "precision and recall are swapped: precision divides by TP + FP (the "
            "false alarms, FP), recall by TP + FN (the missed bottles, FN)",
        ),
        (
            (p, r, (p + r) / 2),
            "F1 is the harmonic mean 2 * P * R / (P + R), not the plain "
            "average (P + R) / 2: it stays low unless BOTH are high",
        ),
        (
            (r, p, (p + r) / 2),
            "precision and recall are swapped, and F1 is the harmonic mean "
            "2 * P * R / (P + R), not (P + R) / 2",
        ),
    ]
    for wrong, hint in slips:
        if np.allclose(got, wrong, rtol=1e-6):
            return hint
    right_p, right_r = np.isclose(got[0], p), np.isclose(got[1], r)
    if right_p and not right_r:
        return (
            "recall divides by TP + FN (all true bottles): the share of bottles found. "
            "TN plays no part"
        )
    if right_r and not right_p:
        return (
            "precision divides by TP + FP (all predicted bottles): the share of alarms "
            "that were right. TN plays no part"
        )
    if right_p and right_r:
        return "precision and recall are right; F1 = 2 * P * R / (P + R)"
    return _PRF_HINT


_ZERO_HINT = (
    "nothing here is predicted positive (TP + FP = 0) or nothing is truly positive "
    "(TP + FN = 0): the ratio is 0 / 0. Return 0.0 for it, as scikit-learn does with "
    "zero_division=0, e.g. `tp / (tp + fp) if tp + fp else 0.0`; F1 is then 0 too"
)


@self_check
def check_precision_recall_f1(
    my_precision_recall_f1: Callable, verbose: bool = True
) -> None:
    """Check ``my_precision_recall_f1(tp, fp, fn, tn)`` -> (precision, recall, f1).

    Cases: ordinary counts, a model with many false alarms (exposes swapped FP and FN), the
    same counts with far more true negatives (which must change nothing), a perfect model,
    and the two 0 / 0 cases (nothing predicted positive; no positives at all).
    """
    answer = _as_three(_strict(my_precision_recall_f1))
    typical = (30, 10, 20, 90)
    alarms = (5, 45, 1, 149)
    hint = _prf_hint(my_precision_recall_f1, alarms)
    cases = [
        Case(
            typical,
            precision_recall_f1(*typical),
            hint=_prf_hint(my_precision_recall_f1, typical),
        ),
        Case(alarms, precision_recall_f1(*alarms), hint=hint),
        Case(
            (30, 10, 20, 5000),
            precision_recall_f1(30, 10, 20, 5000),
            hint="TN must not matter: precision, recall and F1 only look at the positive "
            "class (TP, FP, FN). Using TN gives accuracy or specificity instead",
        ),
        Case(
            (12, 0, 0, 88),
            precision_recall_f1(12, 0, 0, 88),
            hint="a perfect model (no FP, no FN) has precision = recall = F1 = 1",
        ),
        Case((0, 0, 10, 90), precision_recall_f1(0, 0, 10, 90), hint=_ZERO_HINT),
        Case((0, 5, 0, 95), precision_recall_f1(0, 5, 0, 95), hint=_ZERO_HINT),
    ]
    run_checks("my_precision_recall_f1", answer, cases, verbose=verbose)


def survey_majority_accuracy_answer() -> float:
    """Accuracy of always answering "other" on the survey: the share of photos without a
    bottle, (2000 - 140) / 2000."""
    return (SURVEY_PHOTOS - SURVEY_BOTTLES) / SURVEY_PHOTOS


def survey_majority_f1_answer() -> float:
    """F1 of the bottle class for always answering "other": no bottle is ever found (TP = 0),
    so precision (0 / 0, counted as 0), recall and F1 are all 0."""
    _, _, f1 = precision_recall_f1(
        tp=0, fp=0, fn=SURVEY_BOTTLES, tn=SURVEY_PHOTOS - SURVEY_BOTTLES
    )
    return f1


def _number(value: Any, name: str) -> float:
    if value is Ellipsis or value is None:
        raise NotImplementedError(f"{name}: fill in your answer first")
    arr = np.asarray(value, dtype=float)
    if arr.size != 1:
        raise CheckFailed(f"{name}: expected one number, got shape {arr.shape}")
    return float(arr.ravel()[0])


@self_check
def check_majority_guess(
    majority_accuracy: Any, majority_f1: Any, verbose: bool = True
) -> None:
    """Check the survey's majority-guess accuracy and bottle F1 (shares between 0 and 1)."""
    accuracy = _number(majority_accuracy, "majority_accuracy")
    f1 = _number(majority_f1, "majority_f1")
    expected_acc = survey_majority_accuracy_answer()
    hint = (
        f"the majority guess answers 'other' for every photo, so it is right on every "
        f"photo without a bottle: {SURVEY_PHOTOS - SURVEY_BOTTLES} of {SURVEY_PHOTOS}"
    )
    if np.isclose(accuracy, 1 - expected_acc):
        hint = (
            "that is the share of photos WITH a bottle; the majority guess answers "
            "'other' and is right on the photos without one"
        )
    elif np.isclose(accuracy, 100 * expected_acc):
        hint = "give the accuracy as a share between 0 and 1, not in percent"
    check_value("majority_accuracy", accuracy, expected_acc, hint=hint, verbose=False)
    hint = (
        "F1 of the bottle class: the guess never says 'bottle', so TP = 0 and FP = 0. "
        "Precision is 0 / 0 (counted as 0), recall is 0 / 140 = 0, and F1 is 0"
    )
    if np.isnan(f1):
        hint = (
            "0 / 0 is undefined, but the convention (scikit-learn's zero_division=0, "
            "wastelab.metrics) counts it as 0: the answer is 0.0, not nan"
        )
    elif np.isclose(f1, expected_acc):
        hint = (
            "F1 is not accuracy: it is about the bottle class alone, and the guess "
            "finds no bottle at all"
        )
    check_value(
        "majority_f1", f1, survey_majority_f1_answer(), hint=hint, verbose=False
    )
    if verbose:
        print("✓ majority guess: accuracy and F1 both right")
