"""Scores for classifiers: confusion matrix, precision/recall/specificity, thresholds, tables.

Built on scikit-learn. Labels are integer class ids; binary scores treat one class id as
``positive`` (1, "bottle", by default) and every other class as negative (one-vs-rest).
Every ratio with an empty denominator (e.g. precision when nothing is predicted
positive) is reported as 0 instead of raising or warning.
"""

from __future__ import annotations

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
    """A 1-D array of non-negative integer class ids as int64, or ValueError naming ``name``."""
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
            f"{name} must hold integer class ids, got {arr.dtype} values such as {arr[:3]}; "
            "for probabilities use predict_with_threshold first"
        )
    arr = arr.astype(np.int64)
    if arr.min() < 0:
        raise ValueError(f"{name} has negative class ids: found {arr.min()}")
    return arr


def _check_pair(
    y_true: ArrayLike, y_pred: ArrayLike, n_classes: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Validate true and predicted labels together: same length, ids within [0, n_classes)."""
    t = _as_labels(y_true, "y_true")
    p = _as_labels(y_pred, "y_pred")
    if len(t) != len(p):
        raise ValueError(f"y_true and y_pred differ in length: {len(t)} != {len(p)}")
    if n_classes is not None:
        for name, arr in (("y_true", t), ("y_pred", p)):
            if arr.max() >= n_classes:
                raise ValueError(
                    f"{name} has class ids out of range [0, {n_classes - 1}]: found {arr.max()}"
                )
    return t, p


def _ratio(num: float, den: float) -> float:
    return float(num / den) if den else 0.0


def confusion_matrix(
    y_true: ArrayLike, y_pred: ArrayLike, n_classes: int = 2
) -> np.ndarray:
    """Counts (n_classes, n_classes) int64: row = true class, column = predicted class."""
    t, p = _check_pair(y_true, y_pred, n_classes)
    return skm.confusion_matrix(t, p, labels=np.arange(n_classes)).astype(np.int64)


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
    """True negative rate TN / (TN + FP): the share of negatives recognised as negative."""
    t, p = _check_pair(y_true, y_pred)
    _, fp, _, tn = _binary_counts(t, p, positive)
    return _ratio(tn, tn + fp)


def binary_report(
    y_true: ArrayLike, y_pred: ArrayLike, positive: int = 1
) -> dict[str, float]:
    """Accuracy, precision, recall, specificity, F1 and balanced accuracy for ``positive``.

    ``y_true``, ``y_pred``: (N,) class ids. Balanced accuracy is (recall + specificity) / 2.
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
    """scikit-learn's per-class report (precision, recall, F1, support) plus specificity."""
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
    positive and the next lower score (the lowest score itself if everything is positive).
    Ties go to the higher threshold. Choose on validation data, never on the test set.
    """
    if metric not in THRESHOLD_METRICS:
        raise ValueError(f"metric must be one of {THRESHOLD_METRICS}, got {metric!r}")
    t = _as_labels(y_val, "y_val") == positive
    s = _positive_scores(scores_val, positive, len(t))
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
        if (
            middle > cuts[best + 1]
        ):  # false only for two neighbouring floating-point numbers
            return float(middle)
    return float(cuts[best])


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

    ``rows``: model name -> report dict (e.g. from ``binary_report``). Missing scores show
    as "-".
    """
    if not rows:
        raise ValueError("rows is empty: give at least one model's report")
    name_width = max(len("model"), *(len(name) for name in rows))
    widths = [max(len(c), digits + 2) for c in columns]
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
