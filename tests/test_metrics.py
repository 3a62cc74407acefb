"""Tests for wastelab.metrics: hand-computed scores, edge cases, agreement with
scikit-learn, and the course's classification reports rebuilt from integer counts."""

import numpy as np
import pytest
import sklearn.metrics as skm
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.exceptions import UndefinedMetricWarning

from wastelab.metrics import (
    REPORT_KEYS,
    binary_report,
    choose_threshold,
    classification_report,
    confusion_matrix,
    confusion_matrix_from_report,
    constant_baselines,
    labels_from_confusion_matrix,
    majority_baseline,
    precision_recall_curve,
    predict_with_threshold,
    report_table,
    specificity,
    verdict,
)


def _labels_from_counts(tp, fp, fn, tn, positive=1, negative=0):
    """Label arrays with exactly the given confusion counts."""
    y_true = [positive] * tp + [negative] * fp + [positive] * fn + [negative] * tn
    y_pred = [positive] * tp + [positive] * fp + [negative] * fn + [negative] * tn
    return np.array(y_true), np.array(y_pred)


def test_hand_computed_scores():
    y_true, y_pred = _labels_from_counts(tp=2, fp=1, fn=3, tn=4)
    np.testing.assert_array_equal(confusion_matrix(y_true, y_pred), [[4, 1], [3, 2]])
    r = binary_report(y_true, y_pred)
    assert set(r) == set(REPORT_KEYS)
    assert r["precision"] == pytest.approx(2 / 3)
    assert r["recall"] == pytest.approx(2 / 5)
    assert r["specificity"] == pytest.approx(4 / 5)
    assert r["f1"] == pytest.approx(0.5)
    assert r["accuracy"] == pytest.approx(6 / 10)
    assert r["balanced_accuracy"] == pytest.approx((2 / 5 + 4 / 5) / 2)
    assert specificity(y_true, y_pred) == pytest.approx(4 / 5)
    # Seen from the other class, recall and specificity swap.
    assert specificity(y_true, y_pred, positive=0) == pytest.approx(2 / 5)
    assert binary_report(y_true, y_pred, positive=0)["recall"] == pytest.approx(4 / 5)


def test_other_class_ids_one_vs_rest():
    y_true, y_pred = _labels_from_counts(tp=2, fp=1, fn=3, tn=4, positive=7, negative=3)
    r = binary_report(y_true, y_pred, positive=7)
    assert (r["precision"], r["recall"], r["specificity"]) == pytest.approx(
        (2 / 3, 2 / 5, 4 / 5)
    )
    m = confusion_matrix(y_true, y_pred, n_classes=8)
    assert m.shape == (8, 8) and m[7, 7] == 2 and m[3, 7] == 1 and m.sum() == 10
    # three classes, positive = 2: classes 0 and 1 are both "negative"
    r3 = binary_report([0, 1, 2, 2, 1], [1, 0, 2, 1, 1], positive=2)
    assert (r3["precision"], r3["recall"], r3["specificity"]) == pytest.approx(
        (1.0, 0.5, 1.0)
    )


def test_zero_division_gives_zero_without_warnings(recwarn):
    # no predicted positives: precision and F1 are 0, not NaN
    r = binary_report([1, 1, 0, 0], [0, 0, 0, 0])
    assert r["precision"] == 0.0 and r["f1"] == 0.0 and r["recall"] == 0.0
    assert r["specificity"] == 1.0 and r["accuracy"] == 0.5
    # no true positives at all: recall is 0
    r = binary_report([0, 0, 0], [0, 1, 0])
    assert r["recall"] == 0.0 and r["specificity"] == pytest.approx(2 / 3)
    # no negatives at all: specificity is 0
    assert specificity([1, 1], [1, 0]) == 0.0
    classification_report([0, 0, 0], [0, 0, 0])
    assert not [
        w
        for w in recwarn
        if issubclass(w.category, UndefinedMetricWarning)
        or issubclass(w.category, RuntimeWarning)
    ]


def test_majority_baseline_70_30():
    y_train = np.array([0] * 70 + [1] * 30)
    y_eval = np.array([0] * 7 + [1] * 3)
    r = majority_baseline(y_train, y_eval)
    assert r["predicted_class"] == 0
    assert r["accuracy"] == pytest.approx(0.7)
    assert r["f1"] == 0.0 and r["recall"] == 0.0 and r["precision"] == 0.0
    assert r["specificity"] == 1.0 and r["balanced_accuracy"] == 0.5
    # when the positive class is the majority, the baseline finds every positive
    flipped = majority_baseline(1 - y_train, 1 - y_eval)
    assert flipped["predicted_class"] == 1 and flipped["recall"] == 1.0
    assert flipped["precision"] == pytest.approx(0.7)


def test_classification_report_has_sklearn_lines_and_specificity():
    y_true, y_pred = _labels_from_counts(tp=2, fp=1, fn=3, tn=4)
    text = classification_report(y_true, y_pred)
    assert "bottle" in text and "other" in text and "specificity" in text
    assert "0.667" in text and "0.400" in text  # bottle precision and recall
    spec_lines = text.split("specificity")[1].splitlines()
    bottle_line = next(line for line in spec_lines if "bottle" in line)
    other_line = next(line for line in spec_lines if "other" in line)
    assert bottle_line.split()[-1] == "0.800" and other_line.split()[-1] == "0.400"
    three = classification_report([0, 1, 2], [0, 2, 2], class_names=("a", "b", "c"))
    assert "specificity" in three and " c " in three
    with pytest.raises(ValueError, match=r"y_pred.*\[0, 1\].*2"):
        classification_report([0, 1], [0, 2])


def test_label_validation_messages():
    with pytest.raises(ValueError, match="differ in length: 3 != 2"):
        binary_report([0, 1, 1], [0, 1])
    with pytest.raises(
        ValueError, match=r"y_true has class ids out of range \[0, 1\]: found 2"
    ):
        confusion_matrix([0, 2], [0, 1])
    with pytest.raises(
        ValueError, match=r"y_pred has class ids out of range \[0, 2\]: found 5"
    ):
        confusion_matrix([0, 2], [0, 5], n_classes=3)
    with pytest.raises(ValueError, match="y_true has negative"):
        specificity([-1, 0], [0, 0])
    with pytest.raises(
        ValueError, match="y_pred must hold integer.*predict_with_threshold"
    ):
        binary_report([0, 1], [0.2, 0.9])
    with pytest.raises(ValueError, match=r"y_true must be 1-D.*\(2, 2\)"):
        binary_report(np.zeros((2, 2)), [0, 1])
    with pytest.raises(ValueError, match="y_true is empty"):
        binary_report([], [])
    with pytest.raises(ValueError, match="y_train"):
        majority_baseline([0.5], [0])
    # floats that are whole numbers and booleans are fine
    assert binary_report([0.0, 1.0], [False, True])["accuracy"] == 1.0


def test_choose_threshold_picks_best_f1_cut():
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.4, 0.3, 0.2, 0.1])
    y = np.array([1, 1, 0, 1, 1, 0, 0, 0])
    # Calling the top 5 positive gives TP=4, FP=1, FN=0: F1 = 8/9, better than any other cut.
    t = choose_threshold(y, scores)
    assert 0.3 < t <= 0.4 and t == pytest.approx(0.35)
    labels = predict_with_threshold(scores, t)
    np.testing.assert_array_equal(labels, [1, 1, 1, 1, 1, 0, 0, 0])
    assert binary_report(y, labels)["f1"] == pytest.approx(8 / 9)
    # (N, 2) probabilities give the same answer as the positive column
    probs = np.c_[1 - scores, scores]
    assert choose_threshold(y, probs) == pytest.approx(t)
    # accuracy prefers the same cut here: 7 of 8 right
    assert choose_threshold(y, scores, metric="accuracy") == pytest.approx(0.35)


def test_choose_threshold_edge_cases():
    # all examples best called positive: the lowest score is the threshold
    assert choose_threshold([1, 1, 1], [0.2, 0.5, 0.9]) == pytest.approx(0.2)
    # perfect separation with a gap: threshold in the middle of the gap
    assert choose_threshold([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]) == pytest.approx(0.5)
    # two scores one floating-point step apart: the cut stays between them
    low = 0.5
    high = np.nextafter(low, 1.0)
    t = choose_threshold([0, 1], [low, high])
    np.testing.assert_array_equal(predict_with_threshold([low, high], t), [0, 1])
    with pytest.raises(ValueError, match="metric"):
        choose_threshold([0, 1], [0.1, 0.9], metric="precision")
    with pytest.raises(ValueError, match=r"\(2,\) or \(2, K\)"):
        choose_threshold([0, 1], [0.1, 0.9, 0.5])
    with pytest.raises(ValueError, match="NaN"):
        choose_threshold([0, 1], [0.1, np.nan])


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 1), st.integers(0, 20)), min_size=1, max_size=40),
    st.sampled_from(["f1", "balanced_accuracy", "accuracy"]),
)
def test_choose_threshold_is_optimal_among_all_cuts(pairs, metric):
    y = np.array([p[0] for p in pairs])
    scores = np.array([p[1] for p in pairs]) / 20
    t = choose_threshold(y, scores, metric=metric)
    best = binary_report(y, predict_with_threshold(scores, t))[metric]
    for cut in np.unique(scores):
        assert binary_report(y, (scores >= cut).astype(int))[metric] <= best + 1e-12


def test_predict_with_threshold_shapes():
    np.testing.assert_array_equal(predict_with_threshold([0.2, 0.5, 0.7]), [0, 1, 1])
    out = predict_with_threshold(np.array([[0.9, 0.1], [0.3, 0.7]]), threshold=0.6)
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out, [0, 1])
    with pytest.raises(ValueError, match=r"\(N, 2\).*\(2, 3\)"):
        predict_with_threshold(np.ones((2, 3)))


def test_precision_recall_curve_matches_sklearn():
    y = np.array([0, 1, 1, 0, 1])
    s = np.array([0.1, 0.8, 0.4, 0.35, 0.9])
    p, r, t = precision_recall_curve(y, s)
    sp, sr, st_ = skm.precision_recall_curve(y, s)
    np.testing.assert_allclose(p, sp)
    np.testing.assert_allclose(r, sr)
    np.testing.assert_allclose(t, st_)
    p2, _, _ = precision_recall_curve(y, np.c_[1 - s, s])
    np.testing.assert_allclose(p2, sp)
    with pytest.raises(ValueError, match="positive class 3"):
        precision_recall_curve(y, np.c_[1 - s, s], positive=3)


def test_report_table_alignment():
    rows = {
        "majority": majority_baseline([0, 0, 1], [0, 1, 1]),
        "small mlp": binary_report([0, 1, 1, 0], [0, 1, 0, 0]),
        "partial": {"precision": 0.25},
    }
    text = report_table(rows)
    lines = text.splitlines()
    assert len(lines) == 4
    assert lines[0].split() == ["model", *REPORT_KEYS]
    assert len({len(line) for line in lines}) == 1  # every line the same width
    assert (
        lines[2].startswith("small mlp") and "1.000" in lines[2] and "0.667" in lines[2]
    )
    assert lines[3].split() == ["partial", "-", "0.250", "-", "-", "-", "-"]
    short = report_table(rows, columns=("f1", "predicted_class"), digits=2)
    assert short.splitlines()[1].split() == ["majority", "0.00", "0"]
    with pytest.raises(ValueError, match="rows is empty"):
        report_table({})


label_pairs = st.integers(1, 60).flatmap(
    lambda n: st.tuples(
        st.lists(st.integers(0, 2), min_size=n, max_size=n),
        st.lists(st.integers(0, 2), min_size=n, max_size=n),
    )
)


@settings(max_examples=60, deadline=None)
@given(label_pairs, st.integers(0, 2))
def test_binary_report_agrees_with_sklearn(pair, positive):
    y_true, y_pred = map(np.array, pair)
    r = binary_report(y_true, y_pred, positive=positive)
    assert all(0.0 <= r[k] <= 1.0 for k in REPORT_KEYS)
    yt, yp = y_true == positive, y_pred == positive
    assert r["precision"] == pytest.approx(skm.precision_score(yt, yp, zero_division=0))
    assert r["recall"] == pytest.approx(skm.recall_score(yt, yp, zero_division=0))
    assert r["f1"] == pytest.approx(skm.f1_score(yt, yp, zero_division=0))
    assert r["accuracy"] == pytest.approx(skm.accuracy_score(yt, yp))
    # specificity is the recall of the negative side
    assert r["specificity"] == pytest.approx(
        skm.recall_score(~yt, ~yp, zero_division=0)
    )
    if yt.any() and (~yt).any():  # sklearn's balanced accuracy needs both sides present
        assert r["balanced_accuracy"] == pytest.approx(
            skm.balanced_accuracy_score(yt, yp)
        )
    m = confusion_matrix(y_true, y_pred, n_classes=3)
    np.testing.assert_array_equal(
        m, skm.confusion_matrix(y_true, y_pred, labels=[0, 1, 2])
    )
    assert m.sum() == len(y_true)


# --------------------------------------------------------------------------- the course

# The course's classification reports of its CNN, as its slides print them
# (/work/shared/course: "Validation set", "Test set"): rows 0.0 (other), 1.0 (bottle),
# accuracy, macro avg, weighted avg; columns precision, recall, f1-score (support apart).
COURSE_REPORTS = {
    "validation": {
        "support": (94, 56),
        "0": (0.61, 0.84, 0.71),
        "1": (0.25, 0.09, 0.13),
        "accuracy": 0.56,
        "macro avg": (0.43, 0.46, 0.42),
        "weighted avg": (0.47, 0.56, 0.49),
    },
    "test": {
        "support": (118, 32),
        "0": (0.78, 0.86, 0.81),
        "1": (0.15, 0.09, 0.12),
        "accuracy": 0.69,
        "macro avg": (0.46, 0.46, 0.46),
        "weighted avg": (0.64, 0.69, 0.67),
    },
}
# The one printed number that no matrix with these supports gives: the test split's
# macro-average recall is (101/118 + 3/32) / 2 = 0.4748, printed 0.47; the slide has 0.46.
COURSE_SLIP = ("test", "macro avg", 1, 0.47)


@pytest.mark.parametrize("split", ["validation", "test"])
def test_the_course_reports_come_back_from_integer_counts(split):
    course = COURSE_REPORTS[split]
    precision, recall, _ = course["1"]
    cm = confusion_matrix_from_report(course["support"], precision, recall)
    expected = {"validation": [[79, 15], [51, 5]], "test": [[101, 17], [29, 3]]}
    np.testing.assert_array_equal(cm, expected[split])
    y_true, y_pred = labels_from_confusion_matrix(cm)
    np.testing.assert_array_equal(confusion_matrix(y_true, y_pred), cm)
    report = skm.classification_report(y_true, y_pred, output_dict=True)
    assert (report["0"]["support"], report["1"]["support"]) == course["support"]
    assert round(report["accuracy"], 2) == course["accuracy"]
    for row in ("0", "1", "macro avg", "weighted avg"):
        got = [report[row][k] for k in ("precision", "recall", "f1-score")]
        want = list(course[row])
        if (split, row) == COURSE_SLIP[:2]:
            assert want[COURSE_SLIP[2]] == 0.46
            want[COURSE_SLIP[2]] = COURSE_SLIP[3]
        assert [round(v, 2) for v in got] == want, (split, row)


def test_no_integer_counts_give_the_slides_test_macro_recall():
    """The reconstruction is unique, and the slide's 0.46 fits no matrix at all."""
    tp, fp = np.meshgrid(np.arange(33), np.arange(119), indexing="ij")
    tn = 118 - fp
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(tp + fp > 0, tp / (tp + fp), 0.0)
    fits = (
        (np.round(precision, 2) == 0.15)
        & (np.round(tp / 32, 2) == 0.09)
        & (np.round((tp + tn) / 150, 2) == 0.69)
    )
    assert list(zip(tp[fits], fp[fits], strict=True)) == [(3, 17)]
    macro_recall = (tn[fits] / 118 + tp[fits] / 32) / 2
    assert np.round(macro_recall, 2).tolist() == [0.47]


def test_the_course_cnn_lost_to_both_constant_guesses():
    cm = confusion_matrix_from_report((118, 32), 0.15, 0.09)
    y_true, y_pred = labels_from_confusion_matrix(cm)
    cnn = binary_report(y_true, y_pred)
    guesses = constant_baselines(y_true)
    other, bottle = guesses["always 'other'"], guesses["always 'bottle'"]
    assert other["accuracy"] == pytest.approx(118 / 150)
    assert bottle["f1"] == pytest.approx(2 * 32 / (32 + 150))
    assert other["accuracy"] > cnn["accuracy"] and bottle["f1"] > cnn["f1"]
    assert round(bottle["f1"], 2) == 0.35 and round(other["accuracy"], 3) == 0.787
    assert other["balanced_accuracy"] == bottle["balanced_accuracy"] == 0.5
    assert cnn["balanced_accuracy"] < 0.5
    assert verdict("the CNN", cnn, guesses, "balanced_accuracy", width=None) == (
        "On balanced accuracy, the CNN (0.475) does not beat always 'other' (0.500) "
        "or always 'bottle' (0.500)."
    )
    sentence = verdict("the CNN", cnn, guesses, "f1", width=None)
    assert sentence == (
        "On F1, the CNN (0.115) beats always 'other' (0.000) but not always "
        "'bottle' (0.352)."
    )
    wrapped = verdict("the CNN", cnn, guesses, "balanced_accuracy")  # 88 columns
    assert "\n" in wrapped and max(len(line) for line in wrapped.splitlines()) <= 88
    assert verdict("x", {"f1": 0.9}, guesses).startswith("On F1, x (0.900) beats ")


def test_constant_baselines_keys_and_formula():
    y = np.array([0] * 70 + [1] * 30)
    guesses = constant_baselines(y, ("other", "bottle"))
    assert list(guesses) == ["always 'other'", "always 'bottle'"]
    s = 0.3
    assert guesses["always 'bottle'"]["f1"] == pytest.approx(2 * s / (1 + s))
    assert guesses["always 'other'"] == {
        k: v for k, v in majority_baseline(y, y).items() if k != "predicted_class"
    }
    with pytest.raises(ValueError, match="out of range"):
        constant_baselines(np.array([0, 1, 2]), ("a", "b"))
    with pytest.raises(ValueError, match="empty"):
        verdict("x", {"f1": 0.5}, {})


def test_confusion_matrix_from_report_refuses_what_does_not_fit():
    with pytest.raises(ValueError, match="0 pairs"):
        confusion_matrix_from_report((10, 10), precision=0.33, recall=0.55)
    with pytest.raises(ValueError, match="not one"):  # one digit: many pairs fit
        confusion_matrix_from_report((94, 56), 0.3, 0.1, digits=1)
    with pytest.raises(ValueError, match="two counts"):
        confusion_matrix_from_report((94, 56, 3), 0.25, 0.09)
    # no bottle found: precision 0 whatever FP is, so the counts are not determined
    with pytest.raises(ValueError, match="6 pairs"):
        confusion_matrix_from_report((5, 5), 0.0, 0.0)
    np.testing.assert_array_equal(
        confusion_matrix_from_report((5, 5), 1.0, 1.0), [[5, 0], [0, 5]]
    )


def test_labels_from_confusion_matrix_round_trip():
    cm = np.array([[3, 0, 1], [2, 5, 0], [0, 1, 4]])
    y_true, y_pred = labels_from_confusion_matrix(cm)
    assert len(y_true) == len(y_pred) == cm.sum()
    np.testing.assert_array_equal(confusion_matrix(y_true, y_pred, n_classes=3), cm)
    for bad in (np.zeros((2, 3)), [[1, -1], [0, 2]], [[0.5, 1], [1, 1]]):
        with pytest.raises(ValueError):
            labels_from_confusion_matrix(bad)
