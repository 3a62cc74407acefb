"""Chapter 7 self-checks: the references pass, typical mistakes fail with the right hint."""

import numpy as np
import pytest

from wastelab import metrics
from wastelab.exercises import CheckFailed
from wastelab.exercises.ch07 import (
    SURVEY_BOTTLES,
    SURVEY_PHOTOS,
    check_majority_guess,
    check_precision_recall_f1,
    precision_recall_f1,
    survey_majority_accuracy_answer,
    survey_majority_f1_answer,
)


def _labels(tp, fp, fn, tn):
    """(y_true, y_pred) with exactly these four counts (positive class 1)."""
    y_true = np.array([1] * tp + [0] * fp + [1] * fn + [0] * tn)
    y_pred = np.array([1] * tp + [1] * fp + [0] * fn + [0] * tn)
    return y_true, y_pred


@pytest.mark.parametrize(
    "counts",
    [
        (30, 10, 20, 90),
        (5, 45, 1, 149),
        (0, 0, 10, 90),
        (0, 5, 0, 95),
        (12, 0, 0, 88),
        (1, 0, 0, 0),
    ],
)
def test_reference_agrees_with_the_package(counts):
    report = metrics.binary_report(*_labels(*counts))
    assert precision_recall_f1(*counts) == pytest.approx(
        (report["precision"], report["recall"], report["f1"])
    )


def test_reference_passes_and_stub_is_not_done_yet(capsys):
    check_precision_recall_f1(precision_recall_f1)
    assert "✓ my_precision_recall_f1: all 6 checks passed" in capsys.readouterr().out

    def stub(tp, fp, fn, tn):
        raise NotImplementedError("Exercise 7.1")

    with pytest.raises(NotImplementedError):
        check_precision_recall_f1(stub)


def test_another_correct_answer_passes():
    def with_numpy_and_a_list(tp, fp, fn, tn):
        p = np.divide(tp, tp + fp) if tp + fp else 0
        r = np.divide(tp, tp + fn) if tp + fn else 0
        f = (
            np.divide(2 * tp, 2 * tp + fp + fn) if tp else 0
        )  # the same F1, from the counts
        return [p, r, f]

    check_precision_recall_f1(with_numpy_and_a_list, verbose=False)


def _swapped(tp, fp, fn, tn):
    p, r, f = precision_recall_f1(tp, fp, fn, tn)
    return r, p, f


def _average_f1(tp, fp, fn, tn):
    p, r, _ = precision_recall_f1(tp, fp, fn, tn)
    return p, r, (p + r) / 2


def _no_guard(tp, fp, fn, tn):
    p, r = tp / (tp + fp), tp / (tp + fn)
    return p, r, 2 * p * r / (p + r)


def _numpy_nan(tp, fp, fn, tn):
    p, r = np.float64(tp) / (tp + fp), np.float64(tp) / (tp + fn)
    return p, r, 2 * p * r / (p + r)


def _uses_tn(tp, fp, fn, tn):
    return tp / (tp + fp), tn / (tn + fp), (tp + tn) / (tp + fp + fn + tn)


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (_swapped, "swapped"),
        (_average_f1, "harmonic mean"),
        (_no_guard, "0 / 0"),
        (_numpy_nan, "0 / 0"),
        (_uses_tn, "recall divides by TP \\+ FN"),
        (lambda tp, fp, fn, tn: {"precision": 1.0}, "three numbers"),
        (
            lambda tp, fp, fn, tn: (*precision_recall_f1(tp, fp, fn, tn)[:2], 0.5),
            "precision and recall are right",
        ),
    ],
)
def test_precision_recall_f1_mistakes(wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_precision_recall_f1(wrong, verbose=False)


def test_majority_guess_answers_match_the_package(capsys):
    y = np.array([1] * SURVEY_BOTTLES + [0] * (SURVEY_PHOTOS - SURVEY_BOTTLES))
    report = metrics.majority_baseline(y, y)
    assert survey_majority_accuracy_answer() == pytest.approx(report["accuracy"])
    assert survey_majority_f1_answer() == report["f1"] == 0.0
    check_majority_guess(survey_majority_accuracy_answer(), survey_majority_f1_answer())
    assert "✓ majority guess" in capsys.readouterr().out


@pytest.mark.parametrize(
    "accuracy, f1, error, hint",
    [
        (..., 0.0, NotImplementedError, "fill in"),
        (0.93, ..., NotImplementedError, "fill in"),
        (0.07, 0.0, CheckFailed, "WITH a bottle"),
        (93.0, 0.0, CheckFailed, "percent"),
        (0.5, 0.0, CheckFailed, "right on every"),
        (0.93, float("nan"), CheckFailed, "not nan"),
        (0.93, 0.93, CheckFailed, "F1 is not accuracy"),
        (0.93, 0.5, CheckFailed, "TP = 0"),
        (np.ones(2), 0.0, CheckFailed, "one number"),
    ],
)
def test_majority_guess_mistakes(accuracy, f1, error, hint):
    with pytest.raises(error, match=hint):
        check_majority_guess(accuracy, f1, verbose=False)
