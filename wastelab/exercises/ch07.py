"""Self-checks for chapter 7, measuring what matters: the F-beta score from the counts
of a confusion matrix, and the scores of the two constant guesses on a litter survey.

The reference :func:`f_beta_score` is tested and shown in the chapter's solution. The
value exercise stores no answer: its check computes the expected scores from the
survey's counts, with :mod:`wastelab.metrics`, when it runs.

In a notebook each ``check_*`` prints one line: passed, wrong (which input failed, with
a hint) or not done yet. Elsewhere a wrong answer raises
:class:`~wastelab.exercises.core.CheckFailed` and an unfinished one its
``NotImplementedError``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from .core import Case, CheckFailed, check_value, run_checks, self_check


def f_beta_score(tp: int, fp: int, fn: int, beta: float = 1.0) -> float:
    """F-beta of the positive class from the counts: recall weighs beta times as much.

    F_beta = (1 + b^2) P R / (b^2 P + R) with precision P and recall R, which is
    (1 + b^2) TP / ((1 + b^2) TP + b^2 FN + FP) in counts: b = 1 gives F1, b = 2
    favours finding positives, b = 0.5 avoiding false alarms. Without a single true
    positive it is 0 (scikit-learn's ``zero_division=0``).
    """
    b2 = beta**2
    if tp == 0:
        return 0.0
    return float((1 + b2) * tp / ((1 + b2) * tp + b2 * fn + fp))


def _expected_f_beta(tp: int, fp: int, fn: int, beta: float) -> float:
    """F-beta as scikit-learn computes it, on labels with exactly these counts."""
    from sklearn.metrics import fbeta_score

    from ..metrics import labels_from_confusion_matrix

    y_true, y_pred = labels_from_confusion_matrix([[5, fp], [fn, tp]])  # TN: any
    return float(fbeta_score(y_true, y_pred, beta=beta, zero_division=0))


def _warnings_raise(answer: Callable) -> Callable:
    """``answer`` run with numpy's divide and invalid warnings raised as errors."""

    def run(*args):
        with warnings.catch_warnings(), np.errstate(divide="raise", invalid="raise"):
            warnings.simplefilter("error", RuntimeWarning)
            return answer(*args)

    return run


_GENERAL_HINT = (
    "F_beta = (1 + beta^2) * P * R / (beta^2 * P + R), with precision P = TP / (TP + "
    "FP) and recall R = TP / (TP + FN)"
)


def _f_beta_hint(answer: Callable) -> str:
    """A hint naming the typical slip that ``answer`` shows for beta = 2."""
    counts = (30, 10, 20)
    try:
        with np.errstate(all="ignore"):
            got = float(np.asarray(answer(*counts, 2.0), dtype=float).ravel()[0])
    except Exception:  # the checks report the crash itself
        return _GENERAL_HINT
    tp, fp, fn = counts
    slips = [
        (
            _expected_f_beta(*counts, 0.5),
            "beta weighs recall, not precision: beta^2 goes with the missed "
            "positives FN (recall's side), so that beta = 2 makes a miss cost more "
            "than a false alarm",
        ),
        (
            3 * tp / (3 * tp + 2 * fn + fp),
            "square beta: the weights are 1 + beta^2 and beta^2, not 1 + beta and beta",
        ),
        (
            _expected_f_beta(*counts, 1.0),
            "that is F1 for every beta: use the beta the function receives",
        ),
    ]
    for wrong, hint in slips:
        if np.isclose(got, wrong, rtol=1e-6):
            return hint
    return _GENERAL_HINT


_ZERO_HINT = (
    "here TP = 0, so precision or recall is 0 / 0: count it as 0, as scikit-learn "
    "does with zero_division=0. Without a true positive F_beta is 0"
)


@self_check
def check_f_beta(my_f_beta: Callable, verbose: bool = True) -> None:
    """Check ``my_f_beta(tp, fp, fn, beta)`` -> the F-beta score of the positive class.

    Expected values come from scikit-learn's ``fbeta_score`` on labels with the same
    counts. Cases: beta = 1 (F1), 2 and 0.5 on the same counts (exposing a beta on the
    wrong side or not squared), many false alarms, a perfect model, and no true
    positive (precision or recall 0 / 0).
    """
    slip = _f_beta_hint(my_f_beta)
    cases = [
        Case(
            (30, 10, 20, 1.0),
            _expected_f_beta(30, 10, 20, 1.0),
            hint="with beta = 1, F_beta is F1 = 2 * P * R / (P + R)",
        ),
        Case((30, 10, 20, 2.0), _expected_f_beta(30, 10, 20, 2.0), hint=slip),
        Case((30, 10, 20, 0.5), _expected_f_beta(30, 10, 20, 0.5), hint=slip),
        Case((5, 45, 1, 2.0), _expected_f_beta(5, 45, 1, 2.0), hint=slip),
        Case(
            (12, 0, 0, 3.0),
            _expected_f_beta(12, 0, 0, 3.0),
            hint="a perfect model (no FP, no FN) scores 1 for every beta",
        ),
        Case((0, 0, 10, 2.0), _expected_f_beta(0, 0, 10, 2.0), hint=_ZERO_HINT),
        Case((0, 5, 0, 0.5), _expected_f_beta(0, 5, 0, 0.5), hint=_ZERO_HINT),
    ]
    run_checks("my_f_beta", _warnings_raise(my_f_beta), cases, verbose=verbose)


def _number(value: Any, name: str) -> float:
    if value is Ellipsis or value is None:
        raise NotImplementedError(f"{name}: fill in your answer first")
    arr = np.asarray(value, dtype=float)
    if arr.size != 1:
        raise CheckFailed(f"{name}: expected one number, got shape {arr.shape}")
    return float(arr.ravel()[0])


@self_check
def check_constant_guesses(
    majority_accuracy: Any,
    majority_f1: Any,
    bottle_f1: Any,
    photos: int,
    bottles: int,
    verbose: bool = True,
) -> None:
    """Check the two constant guesses' scores on a survey (shares between 0 and 1).

    ``photos`` photos, ``bottles`` of them with a bottle. ``majority_accuracy`` and
    ``majority_f1``: always answering "other"; ``bottle_f1``: always answering
    "bottle" (F1 of the bottle class). The expected values are computed here from the
    two counts, with :func:`wastelab.metrics.constant_baselines`.
    """
    from ..metrics import constant_baselines

    values = [
        _number(v, name)
        for v, name in (
            (majority_accuracy, "majority_accuracy"),
            (majority_f1, "majority_f1"),
            (bottle_f1, "bottle_f1"),
        )
    ]
    if not 0 < bottles < photos:
        raise ValueError(f"need 0 < bottles < photos, got {bottles} of {photos}")
    guesses = constant_baselines(np.repeat([1, 0], [bottles, photos - bottles]))
    expected = [
        guesses["always 'other'"]["accuracy"],
        guesses["always 'other'"]["f1"],
        guesses["always 'bottle'"]["f1"],
    ]
    names = ("majority_accuracy", "majority_f1", "bottle_f1")
    for name, got, want, hint in zip(
        names, values, expected, _guess_hints(values, bottles / photos), strict=True
    ):
        check_value(name, got, want, hint=hint, verbose=False)
    if verbose:
        print("✓ constant guesses: the accuracy and both F1 scores are right")


def _guess_hints(values: list[float], share: float) -> list[str]:
    """One hint per value: the slip it looks like, else where to start."""
    accuracy, majority_f1, bottle_f1 = values
    hints = [
        "always 'other' is right on every photo without a bottle",
        "F1 of the bottle class: how many bottles does always 'other' find?",
        "always 'bottle' calls every photo 'bottle': what are its precision and "
        "recall? F1 = 2 * P * R / (P + R)",
    ]
    if np.isclose(accuracy, share):
        hints[0] = (
            "that is the share of photos WITH a bottle; always 'other' is right on "
            "the photos without one"
        )
    elif np.isclose(accuracy, 100 * (1 - share)):
        hints[0] = "give the accuracy as a share between 0 and 1, not in percent"
    if np.isnan(majority_f1):
        hints[1] = (
            "0 / 0 is undefined, but the convention (scikit-learn's zero_division=0, "
            "wastelab.metrics) counts it as 0, not nan"
        )
    elif np.isclose(majority_f1, 1 - share):
        hints[1] = (
            "F1 is not accuracy: it looks at the bottle class alone, and always "
            "'other' finds no bottle"
        )
    if np.isclose(bottle_f1, share):
        hints[2] = (
            "that is the precision of always 'bottle' (the bottle share); its recall "
            "is 1: F1 combines both, 2 * P * R / (P + R)"
        )
    elif np.isclose(bottle_f1, (share + 1) / 2):
        hints[2] = "F1 is the harmonic mean 2 * P * R / (P + R), not (P + R) / 2"
    elif np.isclose(bottle_f1, 0.0):
        hints[2] = "always 'bottle' finds every bottle (TP = all bottles): F1 is not 0"
    return hints
