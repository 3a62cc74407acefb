"""Scores for classifiers: confusion matrix, precision, recall, thresholds, tables.

Built on scikit-learn. Labels are integer class ids; binary scores treat one class id as
``positive`` (1, "bottle", by default) and every other class as negative (one-vs-rest).
Every ratio with an empty denominator (e.g. precision when nothing is predicted
positive) is reported as 0 instead of raising or warning.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from sklearn import metrics as skm

REPORT_KEYS = (
    "accuracy",
    "precision",
    "recall",
    "specificity",
    "f1",
    "balanced_accuracy",
)
THRESHOLD_METRICS = ("f1", "balanced_accuracy", "accuracy")


def _as_labels(y: ArrayLike, name: str) -> np.ndarray:
    """1-D non-negative integer class ids as int64, or ValueError naming ``name``."""
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D class ids, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty")
    if arr.dtype == bool:
        arr = arr.astype(np.int64)
    if (
        not np.issubdtype(arr.dtype, np.number)
        or not np.all(np.isfinite(arr))
        or not np.all(arr == np.round(arr))
    ):
        raise ValueError(
            f"{name} must hold integer class ids, got {arr.dtype} values such as "
            f"{arr[:3]}; for probabilities use predict_with_threshold first"
        )
    arr = arr.astype(np.int64)
    if arr.min() < 0:
        raise ValueError(f"{name} has negative class ids: found {arr.min()}")
    return arr


def _check_pair(
    y_true: ArrayLike, y_pred: ArrayLike, n_classes: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Validate true and predicted labels: same length, ids within [0, n_classes)."""
    t = _as_labels(y_true, "y_true")
    p = _as_labels(y_pred, "y_pred")
    if len(t) != len(p):
        raise ValueError(f"y_true and y_pred differ in length: {len(t)} != {len(p)}")
    if n_classes is not None:
        for name, arr in (("y_true", t), ("y_pred", p)):
            if arr.max() >= n_classes:
                raise ValueError(
                    f"{name} has class ids out of range [0, {n_classes - 1}]: "
                    f"found {arr.max()}"
                )
    return t, p


def _ratio(num: float, den: float) -> float:
    return float(num / den) if den else 0.0


def confusion_matrix(
    y_true: ArrayLike, y_pred: ArrayLike, n_classes: int = 2
) -> np.ndarray:
    """Counts (n_classes, n_classes) int64: row = true class, column = predicted."""
    t, p = _check_pair(y_true, y_pred, n_classes)
    return skm.confusion_matrix(t, p, labels=np.arange(n_classes)).astype(np.int64)


def confusion_matrix_from_report(
    support: Sequence[int], precision: float, recall: float, digits: int = 2
) -> np.ndarray:
    """The 2x2 counts behind a printed report: [[TN, FP], [FN, TP]], int64.

    ``support``: (negatives, positives), the report's support column; ``precision``
    and ``recall``: the positive class's scores as printed, rounded to ``digits``.
    Every integer pair (TP, FP) is tried; ValueError unless exactly one pair rounds
    to the printed scores.
    """
    n_neg, n_pos = _supports(support)
    half = 0.5 * 10.0**-digits + 1e-9  # a printed 0.25 stands for [0.245, 0.255]
    fits = [
        (tp, fp)
        for tp in range(n_pos + 1)
        if abs(_ratio(tp, n_pos) - recall) <= half
        for fp in range(n_neg + 1)
        if abs(_ratio(tp, tp + fp) - precision) <= half
    ]
    if len(fits) != 1:
        raise ValueError(
            f"{len(fits)} pairs (TP, FP) give precision {precision} and recall "
            f"{recall} with support {tuple(support)}, not one: {fits[:6]}"
        )
    tp, fp = fits[0]
    return np.array([[n_neg - fp, fp], [n_pos - tp, tp]], dtype=np.int64)


def _supports(support: Sequence[int]) -> tuple[int, int]:
    values = np.asarray(support)
    if values.shape != (2,) or np.any(values < 0) or np.any(values != np.round(values)):
        raise ValueError(
            f"support must be two counts (negatives, positives), got {support!r}"
        )
    return int(values[0]), int(values[1])


def labels_from_confusion_matrix(cm: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Labels (y_true, y_pred), each (N,) int64, with exactly the counts of ``cm``.

    ``cm`` (K, K): row = true class, column = predicted class, as
    :func:`confusion_matrix` gives it. N is the sum of all counts.
    """
    m = np.asarray(cm)
    if m.ndim != 2 or m.shape[0] != m.shape[1] or m.size == 0:
        raise ValueError(f"cm must be a square (K, K) matrix, got shape {m.shape}")
    if np.any(m < 0) or np.any(m != np.round(m)):
        raise ValueError("cm must hold non-negative whole counts")
    true, pred = np.indices(m.shape).reshape(2, -1)
    counts = m.ravel().astype(np.int64)
    return np.repeat(true, counts), np.repeat(pred, counts)


def _binary_counts(
    t: np.ndarray, p: np.ndarray, positive: int
) -> tuple[int, int, int, int]:
    """(TP, FP, FN, TN) of ``positive`` against all other classes."""
    # rows: truly positive / negative; columns: predicted positive / negative
    tp, fn, fp, tn = skm.confusion_matrix(
        t == positive, p == positive, labels=[True, False]
    ).ravel()
    return int(tp), int(fp), int(fn), int(tn)


def specificity(y_true: ArrayLike, y_pred: ArrayLike, positive: int = 1) -> float:
    """True negative rate TN / (TN + FP): the share of negatives called negative."""
    t, p = _check_pair(y_true, y_pred)
    _, fp, _, tn = _binary_counts(t, p, positive)
    return _ratio(tn, tn + fp)


def binary_report(
    y_true: ArrayLike, y_pred: ArrayLike, positive: int = 1
) -> dict[str, float]:
    """Accuracy, precision, recall, specificity, F1, balanced accuracy of ``positive``.

    ``y_true``, ``y_pred``: (N,) class ids. Balanced accuracy is the mean of recall
    and specificity.
    """
    t, p = _check_pair(y_true, y_pred)
    yt, yp = t == positive, p == positive
    tp, fp, fn, tn = _binary_counts(t, p, positive)
    recall = float(skm.recall_score(yt, yp, zero_division=0))
    spec = _ratio(tn, tn + fp)
    return {
        "accuracy": float(skm.accuracy_score(yt, yp)),
        "precision": float(skm.precision_score(yt, yp, zero_division=0)),
        "recall": recall,
        "specificity": spec,
        "f1": float(skm.f1_score(yt, yp, zero_division=0)),
        "balanced_accuracy": (recall + spec) / 2,
    }


def classification_report(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    class_names: Sequence[str] = ("other", "bottle"),
    digits: int = 3,
) -> str:
    """scikit-learn's per-class report (precision, recall, F1, support), specificity."""
    n = len(class_names)
    t, p = _check_pair(y_true, y_pred, n)
    text = skm.classification_report(
        t,
        p,
        labels=np.arange(n),
        target_names=list(class_names),
        digits=digits,
        zero_division=0,
    )
    width = max(len("weighted avg"), *(len(c) for c in class_names))
    lines = [text.rstrip("\n"), "", f"{'':>{width}} {'specificity':>11}"]
    for cid, name in enumerate(class_names):
        lines.append(f"{name:>{width}} {specificity(t, p, positive=cid):>11.{digits}f}")
    return "\n".join(lines) + "\n"


def majority_baseline(
    y_train: ArrayLike, y_eval: ArrayLike, positive: int = 1
) -> dict[str, Any]:
    """Scores on ``y_eval`` of always predicting the most frequent class of ``y_train``.

    Returns ``binary_report``'s keys plus ``"predicted_class"`` (ties: the smaller id).
    Any model worth training must beat these numbers.
    """
    train = _as_labels(y_train, "y_train")
    evaluation = _as_labels(y_eval, "y_eval")
    majority = int(np.argmax(np.bincount(train)))
    report: dict[str, Any] = binary_report(
        evaluation, np.full_like(evaluation, majority), positive
    )
    report["predicted_class"] = majority
    return report


def constant_baselines(
    y_eval: ArrayLike,
    class_names: Sequence[str] = ("other", "bottle"),
    positive: int = 1,
) -> dict[str, dict[str, float]]:
    """``binary_report`` on ``y_eval`` of every constant guess, keyed "always 'name'".

    Always answering the rare positive class finds every positive: recall 1, precision
    the positive share s, F1 2s / (1 + s). Always answering a negative class scores
    accuracy = its share and F1 = 0. Every one has a balanced accuracy of 0.5.
    """
    evaluation = _as_labels(y_eval, "y_eval")
    _check_pair(evaluation, evaluation, len(class_names))
    return {
        f"always {name!r}": binary_report(
            evaluation, np.full_like(evaluation, cid), positive
        )
        for cid, name in enumerate(class_names)
    }


def verdict(
    name: str,
    report: Mapping[str, float],
    baselines: Mapping[str, Mapping[str, float]],
    key: str = "f1",
    width: int | None = 88,
) -> str:
    """One sentence: does ``report`` beat each of ``baselines`` on the score ``key``?

    For example "On F1, the CNN (0.115) beats always 'other' (0.000) but not always
    'bottle' (0.352)." A tie does not beat. Lines are wrapped at ``width`` columns
    (``None``: one line).
    """
    if not baselines:
        raise ValueError("baselines is empty: give at least one report to compare with")
    value = float(report[key])
    won, lost = [], []
    for other, scores in baselines.items():
        (won if value > scores[key] else lost).append(f"{other} ({scores[key]:.3f})")
    if not lost:
        outcome = f"beats {' and '.join(won)}"
    elif not won:
        outcome = f"does not beat {' or '.join(lost)}"
    else:
        outcome = f"beats {' and '.join(won)} but not {' or '.join(lost)}"
    score = "F1" if key == "f1" else key.replace("_", " ")
    sentence = f"On {score}, {name} ({value:.3f}) {outcome}."
    return textwrap.fill(sentence, width) if width else sentence


def _positive_scores(
    scores: ArrayLike, positive: int, n: int | None = None
) -> np.ndarray:
    """Scores (N,) or class probabilities (N, K) -> the positive class's scores (N,)."""
    s = np.asarray(scores, dtype=float)
    if s.ndim == 2:
        if not 0 <= positive < s.shape[1]:
            raise ValueError(
                f"positive class {positive} has no column in scores {s.shape}"
            )
        s = s[:, positive]
    if s.ndim != 1 or (n is not None and len(s) != n):
        want = f"({n},) or ({n}, K)" if n is not None else "(N,) or (N, K)"
        raise ValueError(f"scores must have shape {want}, got {np.shape(scores)}")
    if not np.all(np.isfinite(s)):
        raise ValueError("scores contain NaN or infinite values")
    return s


def precision_recall_curve(
    y_true: ArrayLike, scores: ArrayLike, positive: int = 1
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision and recall at every threshold on the positive class's scores.

    ``scores``: (N,) scores or (N, K) class probabilities. Returns ``(precision, recall,
    thresholds)`` as scikit-learn does (precision and recall have one more entry).
    """
    t = _as_labels(y_true, "y_true")
    s = _positive_scores(scores, positive, len(t))
    return skm.precision_recall_curve(t == positive, s)


def choose_threshold(
    y_val: ArrayLike, scores_val: ArrayLike, metric: str = "f1", positive: int = 1
) -> float:
    """The threshold on validation scores that maximises ``metric`` ("f1", ...).

    Predicting positive when ``score >= threshold``. Every cut between two neighbouring
    distinct scores is tried; the result lies halfway between the lowest score called
    positive and the next lower one (the lowest score itself if all are positive).
    Ties go to the higher threshold. Choose on validation data, never on the test set.
    """
    t, s = _threshold_inputs(y_val, scores_val, metric, positive)
    # Sort by score, highest first; predicting positive for score >= cut then means
    # "the first k examples", so running sums give TP and FP for every cut at once.
    order = np.argsort(-s, kind="stable")
    cum_tp = np.cumsum(t[order])
    cum_fp = np.cumsum(~t[order])
    cuts = np.unique(s)[::-1]  # distinct scores, highest first
    k = np.searchsorted(-s[order], -cuts, side="right")  # examples with score >= cut
    tp, fp = cum_tp[k - 1].astype(float), cum_fp[k - 1].astype(float)
    pos, neg = float(t.sum()), float((~t).sum())
    fn, tn = pos - tp, neg - fp
    if metric == "f1":
        value = np.divide(2 * tp, 2 * tp + fp + fn, out=np.zeros_like(tp), where=tp > 0)
    elif metric == "balanced_accuracy":
        recall = tp / pos if pos else np.zeros_like(tp)
        spec = tn / neg if neg else np.zeros_like(tn)
        value = (recall + spec) / 2
    else:
        value = (tp + tn) / len(t)
    best = int(np.argmax(value))  # first maximum = highest threshold
    if best + 1 < len(cuts):
        middle = (cuts[best] + cuts[best + 1]) / 2
        # not above the lower score only for two neighbouring floating-point numbers
        if middle > cuts[best + 1]:
            return float(middle)
    return float(cuts[best])


def _threshold_inputs(
    y_val: ArrayLike, scores_val: ArrayLike, metric: str, positive: int
) -> tuple[np.ndarray, np.ndarray]:
    """Checked inputs of ``choose_threshold``: (is positive (N,) bool, scores (N,))."""
    if metric not in THRESHOLD_METRICS:
        raise ValueError(f"metric must be one of {THRESHOLD_METRICS}, got {metric!r}")
    t = _as_labels(y_val, "y_val") == positive
    return t, _positive_scores(scores_val, positive, len(t))


def predict_with_threshold(probs: ArrayLike, threshold: float = 0.5) -> np.ndarray:
    """Binary labels (N,) int64: 1 where the probability of class 1 is >= ``threshold``.

    ``probs``: (N,) probabilities of class 1, or (N, 2) probabilities of both classes.
    """
    p = np.asarray(probs, dtype=float)
    if p.ndim == 2 and p.shape[1] == 2:
        p = p[:, 1]
    if p.ndim != 1:
        raise ValueError(f"probs must have shape (N,) or (N, 2), got {np.shape(probs)}")
    return (p >= threshold).astype(np.int64)


def report_table(
    rows: Mapping[str, Mapping[str, Any]],
    columns: Sequence[str] = REPORT_KEYS,
    digits: int = 3,
) -> str:
    """An aligned text table comparing models: one row per model, one column per score.

    ``rows``: model name -> report dict (e.g. from ``binary_report``). Missing scores
    show as "-".
    """
    if not rows:
        raise ValueError("rows is empty: give at least one model's report")
    name_width = max(len("model"), *(len(name) for name in rows))
    widths = [
        max(
            len(c),
            digits + 2,
            *(len(str(r.get(c))) for r in rows.values() if isinstance(r.get(c), str)),
        )
        for c in columns
    ]
    header = [
        f"{'model':<{name_width}}",
        *(f"{c:>{w}}" for c, w in zip(columns, widths, strict=True)),
    ]
    lines = ["  ".join(header)]
    for name, report in rows.items():
        cells = [f"{name:<{name_width}}"]
        for col, w in zip(columns, widths, strict=True):
            value = report.get(col)
            if value is None:
                cells.append(f"{'-':>{w}}")
            elif isinstance(value, float | np.floating):
                cells.append(f"{value:>{w}.{digits}f}")
            else:
                cells.append(f"{value!s:>{w}}")
        lines.append("  ".join(cells))
    return "\n".join(lines)
