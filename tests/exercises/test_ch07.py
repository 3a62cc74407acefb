"""Chapter 7 self-checks: the references pass, typical mistakes fail with the right hint,
and no answer to the value exercise is stored in the package."""

import numpy as np
import pytest
from sklearn.metrics import fbeta_score

from wastelab import metrics
from wastelab.exercises import CheckFailed, ch07
from wastelab.exercises.ch07 import check_constant_guesses, check_f_beta, f_beta_score


def _labels(tp, fp, fn, tn):
    """(y_true, y_pred) with exactly these four counts (positive class 1)."""
    y_true = np.array([1] * tp + [0] * fp + [1] * fn + [0] * tn)
    y_pred = np.array([1] * tp + [1] * fp + [0] * fn + [0] * tn)
    return y_true, y_pred


@pytest.mark.parametrize(
    "counts",
    [(30, 10, 20, 90), (5, 45, 1, 149), (0, 0, 10, 90), (0, 5, 0, 95), (12, 0, 0, 88)],
)
@pytest.mark.parametrize("beta", [0.5, 1.0, 2.0, 3.0])
def test_reference_agrees_with_scikit_learn(counts, beta):
    y_true, y_pred = _labels(*counts)
    expected = fbeta_score(y_true, y_pred, beta=beta, zero_division=0)
    assert f_beta_score(*counts[:3], beta) == pytest.approx(expected)
    if beta == 1.0:
        assert f_beta_score(*counts[:3]) == pytest.approx(
            metrics.binary_report(y_true, y_pred)["f1"]
        )


def test_reference_passes_and_stub_is_not_done_yet(capsys):
    check_f_beta(f_beta_score)
    assert "✓ my_f_beta: all 7 checks passed" in capsys.readouterr().out

    def stub(tp, fp, fn, beta):
        raise NotImplementedError("Exercise 7.1")

    with pytest.raises(NotImplementedError):
        check_f_beta(stub)


def test_the_precision_recall_form_passes():
    def from_precision_and_recall(tp, fp, fn, beta):
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / (tp + fn) if tp + fn else 0.0
        b2 = beta * beta
        return (1 + b2) * p * r / (b2 * p + r) if p + r else 0.0

    check_f_beta(from_precision_and_recall, verbose=False)


def _wrong_side(tp, fp, fn, beta):
    return f_beta_score(tp, fp, fn, 1 / beta)


def _not_squared(tp, fp, fn, beta):
    return (1 + beta) * tp / ((1 + beta) * tp + beta * fn + fp) if tp else 0.0


def _no_guard(tp, fp, fn, beta):
    p, r = tp / (tp + fp), tp / (tp + fn)
    return (1 + beta**2) * p * r / (beta**2 * p + r)


def _numpy_nan(tp, fp, fn, beta):
    p, r = np.float64(tp) / (tp + fp), np.float64(tp) / (tp + fn)
    return (1 + beta**2) * p * r / (beta**2 * p + r)


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (_wrong_side, "beta weighs recall"),
        (_not_squared, "square beta"),
        (lambda tp, fp, fn, beta: f_beta_score(tp, fp, fn), "F1 for every beta"),
        (_no_guard, "0 / 0"),
        (_numpy_nan, "0 / 0"),
        (lambda tp, fp, fn, beta: 0.5, "with beta = 1"),
    ],
)
def test_f_beta_mistakes(wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_f_beta(wrong, verbose=False)


def test_failure_messages_do_not_name_the_reference():
    with pytest.raises(CheckFailed) as failure:
        check_f_beta(_wrong_side, verbose=False)
    assert "f_beta_score" not in str(failure.value)


def test_no_value_answer_ships_in_the_package():
    assert not [name for name in dir(ch07) if name.endswith("_answer")]
    assert not hasattr(ch07, "SURVEY_PHOTOS")


@pytest.mark.parametrize("photos, bottles", [(2000, 140), (150, 32), (10, 5)])
def test_constant_guesses_computed_from_the_counts(photos, bottles, capsys):
    s = bottles / photos
    check_constant_guesses(1 - s, 0.0, 2 * s / (1 + s), photos, bottles)
    assert "✓ constant guesses" in capsys.readouterr().out


@pytest.mark.parametrize(
    "values, error, hint",
    [
        ((..., 0.0, 0.13), NotImplementedError, "fill in"),
        ((0.93, 0.0, ...), NotImplementedError, "fill in"),
        ((0.07, 0.0, 280 / 2140), CheckFailed, "WITH a bottle"),
        ((93.0, 0.0, 280 / 2140), CheckFailed, "percent"),
        ((0.5, 0.0, 280 / 2140), CheckFailed, "right on every photo"),
        ((0.93, float("nan"), 280 / 2140), CheckFailed, "not nan"),
        ((0.93, 0.93, 280 / 2140), CheckFailed, "F1 is not accuracy"),
        ((0.93, 0.5, 280 / 2140), CheckFailed, "how many bottles"),
        ((0.93, 0.0, 0.07), CheckFailed, "recall\\s+is 1"),
        ((0.93, 0.0, 0.535), CheckFailed, "harmonic mean"),
        ((0.93, 0.0, 0.0), CheckFailed, "finds every bottle"),
        ((0.93, 0.0, 0.3), CheckFailed, "precision and recall"),
        ((np.ones(2), 0.0, 0.13), CheckFailed, "one number"),
    ],
)
def test_constant_guesses_mistakes(values, error, hint):
    with pytest.raises(error, match=hint):
        check_constant_guesses(*values, photos=2000, bottles=140, verbose=False)
