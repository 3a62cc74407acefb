"""Honest measurement: k-fold cross-validation, out-of-fold thresholds, paired tests.

One split of a few hundred photos gives one noisy number. Here every photo is
tested exactly once, by a model that never saw it (out-of-fold, OOF); the decision
threshold is chosen on OOF predictions; a score comes with a 90 % interval over folds
(and seeds); and two recipes are compared on the same photos, so the noise they share
cancels.

Arrays: labels ``y`` (N,) int 0/1, bottle probabilities (N,) float, folds as a list of
``(train_idx, test_idx)`` pairs from :func:`stratified_folds`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats
from sklearn.metrics import average_precision_score
from sklearn.model_selection import RepeatedStratifiedKFold, StratifiedKFold

from .metrics import choose_threshold

Folds = list[tuple[np.ndarray, np.ndarray]]


def stratified_folds(
    y: ArrayLike, n_splits: int = 5, n_repeats: int = 1, seed: int = 0
) -> Folds:
    """``(train_idx, test_idx)`` pairs; each photo is tested once per repeat.

    Every fold keeps the bottle share of ``y`` (scikit-learn's ``StratifiedKFold``;
    ``RepeatedStratifiedKFold`` with a new shuffle per repeat when ``n_repeats > 1``).
    Same ``seed``, same folds.
    """
    y = np.asarray(y)
    if n_repeats == 1:
        splitter = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    else:
        splitter = RepeatedStratifiedKFold(
            n_splits=n_splits, n_repeats=n_repeats, random_state=seed
        )
    return [(train, test) for train, test in splitter.split(np.zeros(len(y)), y)]


def fold_of(folds: Folds, n: int) -> np.ndarray:
    """The fold number (N,) in which each photo is tested (one repeat of folds)."""
    ids = np.full(n, -1, dtype=np.int64)
    for k, (_, test) in enumerate(folds):
        if np.any(ids[test] >= 0):
            raise ValueError("a photo is tested in two folds: pass one repeat of folds")
        ids[test] = k
    if np.any(ids < 0):
        raise ValueError(f"{int(np.sum(ids < 0))} photos are tested in no fold")
    return ids


def out_of_fold(
    fit_predict: Callable[[np.ndarray, np.ndarray], ArrayLike], folds: Folds, n: int
) -> np.ndarray:
    """Out-of-fold bottle probabilities (N,): each photo scored by a model that did not
    train on it.

    ``fit_predict(train_idx, test_idx)`` trains a fresh model on ``train_idx`` and
    returns the bottle probabilities (len(test_idx),) of the photos ``test_idx``.
    """
    fold_of(folds, n)  # checks: every photo tested exactly once
    oof = np.full(n, np.nan)
    for train, test in folds:
        proba = np.asarray(fit_predict(train, test), dtype=float)
        if proba.shape != (len(test),):
            raise ValueError(
                f"fit_predict returned shape {proba.shape}, expected ({len(test)},)"
            )
        oof[test] = proba
    return oof


def fold_thresholds(y: ArrayLike, oof: ArrayLike, folds: Folds) -> np.ndarray:
    """One threshold per fold (K,), chosen (best F1) on the OTHER folds' OOF photos.

    So no photo's own label helps pick the threshold it is judged by. The threshold to
    ship with a recipe is ``choose_threshold(y, oof)`` on all OOF photos.
    """
    y, oof = np.asarray(y), np.asarray(oof, dtype=float)
    ids = fold_of(folds, len(y))
    return np.array(
        [choose_threshold(y[ids != k], oof[ids != k]) for k in range(len(folds))]
    )


def fold_scores(
    y: ArrayLike, oof: ArrayLike, folds: Folds, thresholds: float | ArrayLike
) -> dict[str, np.ndarray]:
    """Per-fold F1, precision, recall (at ``thresholds``) and PR-AUC, arrays (K,).

    ``thresholds``: one for all folds or one per fold (from :func:`fold_thresholds`).
    PR-AUC is scikit-learn's ``average_precision_score``: it needs no threshold.
    """
    y, oof = np.asarray(y), np.asarray(oof, dtype=float)
    cuts = np.broadcast_to(np.asarray(thresholds, dtype=float), (len(folds),))
    scores: dict[str, list[float]] = {
        "f1": [],
        "precision": [],
        "recall": [],
        "average_precision": [],
    }
    for (_, test), cut in zip(folds, cuts, strict=True):
        tp, fp, fn = _counts(y[test], oof[test] >= cut)
        scores["f1"].append(_f1(tp, fp, fn))
        scores["precision"].append(tp / (tp + fp) if tp + fp else 0.0)
        scores["recall"].append(tp / (tp + fn) if tp + fn else 0.0)
        scores["average_precision"].append(average_precision_score(y[test], oof[test]))
    return {k: np.array(v, dtype=float) for k, v in scores.items()}


def mean_interval(
    values: ArrayLike, level: float = 0.9, test_train_ratio: float = 0.0
) -> tuple[float, float, float]:
    """``(mean, low, high)``: the mean of per-fold scores and a Student-t interval.

    Folds share most of their training photos, so their scores are correlated and the
    plain interval (``test_train_ratio=0``) is too narrow. Nadeau and Bengio (2003)
    widen the variance of the mean from s²/n to s²·(1/n + n_test/n_train): pass
    ``test_train_ratio=1 / (k - 1)`` for k-fold cross-validation.
    """
    v = np.asarray(values, dtype=float).ravel()
    mean = float(v.mean())
    if len(v) < 2:
        return mean, mean, mean
    se = float(np.sqrt(v.var(ddof=1) * (1 / len(v) + test_train_ratio)))
    half = float(stats.t.ppf(0.5 + level / 2, df=len(v) - 1)) * se
    return mean, mean - half, mean + half


def paired_fold_differences(
    scores_a: ArrayLike,
    scores_b: ArrayLike,
    level: float = 0.9,
    test_train_ratio: float = 0.0,
) -> dict[str, float]:
    """Recipe A minus recipe B, fold by fold (same folds): mean and interval of gaps.

    ``scores_a``, ``scores_b``: per-fold scores (K,) or (seeds, K); seeds are averaged
    first, then ``a[k] - b[k]`` per fold is summarised by :func:`mean_interval`.
    """
    a = np.atleast_2d(np.asarray(scores_a, dtype=float)).mean(axis=0)
    b = np.atleast_2d(np.asarray(scores_b, dtype=float)).mean(axis=0)
    if a.shape != b.shape:
        raise ValueError(f"per-fold scores differ in shape: {a.shape} != {b.shape}")
    mean, low, high = mean_interval(a - b, level, test_train_ratio)
    return {"mean": mean, "low": low, "high": high}


def paired_bootstrap(
    y: ArrayLike,
    pred_a: ArrayLike,
    pred_b: ArrayLike,
    n_boot: int = 2000,
    level: float = 0.9,
    seed: int = 0,
) -> dict[str, float]:
    """F1 of A minus F1 of B on the same photos, with a paired bootstrap interval.

    ``pred_a``, ``pred_b``: 0/1 decisions (N,) or (runs, N) (e.g. seeds; F1 is averaged
    over runs). Each of ``n_boot`` resamples draws N photos with replacement and scores
    both recipes on the SAME draw, so only the photos where they disagree move the gap.
    Returns the observed difference ``mean``, the percentile interval ``low``/``high``
    and ``p_a_not_better``, the share of resamples where A does not beat B.
    """
    y = np.asarray(y).astype(bool)
    a = np.atleast_2d(np.asarray(pred_a)).astype(bool)
    b = np.atleast_2d(np.asarray(pred_b)).astype(bool)
    rng = np.random.default_rng(seed)
    weights = rng.multinomial(len(y), np.full(len(y), 1 / len(y)), size=n_boot)
    gap = _weighted_f1(weights, y, a) - _weighted_f1(weights, y, b)
    observed = _weighted_f1(np.ones((1, len(y))), y, a) - _weighted_f1(
        np.ones((1, len(y))), y, b
    )
    tail = (1 - level) / 2
    return {
        "mean": float(observed[0]),
        "low": float(np.quantile(gap, tail)),
        "high": float(np.quantile(gap, 1 - tail)),
        "p_a_not_better": float(np.mean(gap <= 0)),
    }


def flip_average(
    predict: Callable[[np.ndarray], np.ndarray], x: np.ndarray
) -> np.ndarray:
    """Flip test-time augmentation: the mean of predictions on ``x`` (N, H, W, C) and on
    its left-right mirror image."""
    return (np.asarray(predict(x)) + np.asarray(predict(x[:, :, ::-1]))) / 2


def _counts(y: np.ndarray, pred: np.ndarray) -> tuple[int, int, int]:
    y, pred = y.astype(bool), pred.astype(bool)
    return int(np.sum(y & pred)), int(np.sum(~y & pred)), int(np.sum(y & ~pred))


def _f1(tp: float, fp: float, fn: float) -> float:
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def _weighted_f1(weights: np.ndarray, y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """F1 (B,) of each resample, averaged over the runs of ``pred`` (R, N).

    ``weights`` (B, N): how often each photo was drawn in each resample, so a count
    such as TP is ``weights @ (y & pred)``.
    """
    f1 = []
    for p in pred:
        tp = weights @ (y & p).astype(float)
        fp = weights @ (~y & p).astype(float)
        fn = weights @ (y & ~p).astype(float)
        f1.append(
            np.divide(2 * tp, 2 * tp + fp + fn, out=np.zeros_like(tp), where=tp > 0)
        )
    return np.mean(f1, axis=0)


def summarize(
    y: ArrayLike, oof_runs: Sequence[ArrayLike], folds: Folds, level: float = 0.9
) -> dict[str, object]:
    """Everything the book reports for one recipe, from its OOF probabilities per run.

    ``oof_runs``: one (N,) array per seed, all on the same ``folds``. Per run the
    thresholds come from :func:`fold_thresholds`; ``f1`` holds per-fold F1 (runs, K),
    summarised as ``mean``/``low``/``high`` (:func:`mean_interval`, Nadeau-Bengio
    corrected) and ``spread`` (standard deviation of per-fold F1: the spread between
    runs); ``precision``, ``recall``, ``pr_auc`` are per-fold means; ``threshold`` is
    the one to ship (best F1 on all OOF photos of the first run); ``decisions`` the
    0/1 calls (runs, N) for :func:`paired_bootstrap`.
    """
    y = np.asarray(y)
    ratio = 1 / (len(folds) - 1)
    per_run = []
    decisions = []
    for oof in oof_runs:
        oof = np.asarray(oof, dtype=float)
        cuts = fold_thresholds(y, oof, folds)
        per_run.append(fold_scores(y, oof, folds, cuts))
        ids = fold_of(folds, len(y))
        decisions.append(oof >= cuts[ids])
    f1 = np.array([s["f1"] for s in per_run])
    mean, low, high = mean_interval(f1, level, ratio)
    pooled = np.asarray(oof_runs[0], dtype=float)
    threshold = choose_threshold(y, pooled)
    return {
        "f1": f1,
        "mean": mean,
        "low": low,
        "high": high,
        "spread": float(f1.std(ddof=1)) if f1.size > 1 else 0.0,
        "precision": float(np.mean([s["precision"] for s in per_run])),
        "recall": float(np.mean([s["recall"] for s in per_run])),
        "pr_auc": float(np.mean([s["average_precision"] for s in per_run])),
        "threshold": threshold,
        "decisions": np.array(decisions),
    }
