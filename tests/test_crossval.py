"""The honest protocol on cases small enough to compute by hand."""

import numpy as np
import pytest

from wastelab.crossval import (
    flip_average,
    fold_of,
    fold_scores,
    fold_thresholds,
    mean_interval,
    out_of_fold,
    paired_bootstrap,
    paired_fold_differences,
    stratified_folds,
    summarize,
)

# Two hand-made folds of four photos each: labels and out-of-fold probabilities.
Y = np.array([0, 0, 1, 1, 0, 0, 1, 1])
OOF = np.array([0.3, 0.6, 0.7, 0.4, 0.1, 0.2, 0.8, 0.9])
FOLDS = [(np.arange(4, 8), np.arange(0, 4)), (np.arange(0, 4), np.arange(4, 8))]


def labels(n=100, bottles=23):
    return (np.arange(n) < bottles).astype(np.int64)


# --------------------------------------------------------------------------------------
# Folds
# --------------------------------------------------------------------------------------


def test_folds_test_every_photo_once_and_keep_the_bottle_share():
    y = labels()
    folds = stratified_folds(y, n_splits=5, seed=0)
    assert len(folds) == 5
    tested = np.concatenate([test for _, test in folds])
    assert sorted(tested) == list(range(100))
    for train, test in folds:
        assert not set(train) & set(test)
        assert len(train) + len(test) == 100
        assert int(y[test].sum()) in (4, 5)  # 23 bottles over 5 folds


def test_folds_are_determined_by_the_seed():
    y = labels()
    a, b = stratified_folds(y, seed=3), stratified_folds(y, seed=3)
    c = stratified_folds(y, seed=4)
    assert all(np.array_equal(x[1], z[1]) for x, z in zip(a, b, strict=True))
    assert not all(np.array_equal(x[1], z[1]) for x, z in zip(a, c, strict=True))


def test_repeated_folds_test_every_photo_once_per_repeat():
    y = labels()
    folds = stratified_folds(y, n_splits=5, n_repeats=2, seed=0)
    assert len(folds) == 10
    for repeat in (folds[:5], folds[5:]):
        assert sorted(np.concatenate([t for _, t in repeat])) == list(range(100))
    assert not np.array_equal(folds[0][1], folds[5][1])


def test_fold_of_names_each_photos_fold_and_rejects_overlaps():
    assert fold_of(FOLDS, 8).tolist() == [0, 0, 0, 0, 1, 1, 1, 1]
    with pytest.raises(ValueError, match="two folds"):
        fold_of(FOLDS + FOLDS, 8)
    with pytest.raises(ValueError, match="no fold"):
        fold_of(FOLDS[:1], 8)


def test_out_of_fold_scores_each_photo_with_the_model_that_did_not_see_it():
    y = labels(20, 6)
    folds = stratified_folds(y, n_splits=4, seed=0)
    seen = []

    def fit_predict(train, test):
        assert not set(train) & set(test)
        seen.append(len(test))
        return y[test] * 0.5 + 0.25  # a "model" that knows the answer

    oof = out_of_fold(fit_predict, folds, len(y))
    assert seen == [5, 5, 5, 5]
    assert np.array_equal(oof, y * 0.5 + 0.25)
    with pytest.raises(ValueError, match="shape"):
        out_of_fold(lambda train, test: np.zeros(2), folds, len(y))


# --------------------------------------------------------------------------------------
# Thresholds and scores
# --------------------------------------------------------------------------------------


def test_each_folds_threshold_comes_from_the_other_folds():
    # fold 1 separates perfectly (negatives 0.1, 0.2; bottles 0.8, 0.9): halfway, 0.5.
    # fold 0 sorted: 0.7 bottle, 0.6 other, 0.4 bottle, 0.3 other: cutting at 0.4 gives
    # F1 0.8 (the best), halfway to 0.3 is 0.35.
    assert fold_thresholds(Y, OOF, FOLDS) == pytest.approx([0.5, 0.35])


def test_fold_scores_by_hand():
    s = fold_scores(Y, OOF, FOLDS, [0.5, 0.35])
    # fold 0 at 0.5 calls photos 1, 2 bottles: one hit, one false alarm, one miss
    assert s["f1"] == pytest.approx([0.5, 1.0])
    assert s["precision"] == pytest.approx([0.5, 1.0])
    assert s["recall"] == pytest.approx([0.5, 1.0])
    # fold 0 ranked: bottle, other, bottle, other -> AP = 0.5 * 1 + 0.5 * 2/3
    assert s["average_precision"] == pytest.approx([0.5 + 1 / 3, 1.0])
    one = fold_scores(Y, OOF, FOLDS, 0.5)  # one threshold for every fold
    assert one["f1"] == pytest.approx([0.5, 1.0])


# --------------------------------------------------------------------------------------
# Intervals and paired comparisons
# --------------------------------------------------------------------------------------


def test_mean_interval_by_hand():
    mean, low, high = mean_interval([1, 2, 3, 4, 5], level=0.9)
    # sd 1.5811, se 0.7071, t(0.95, 4 df) = 2.1318
    assert mean == 3
    assert (low, high) == pytest.approx((3 - 1.5074, 3 + 1.5074), abs=1e-3)
    # Nadeau-Bengio: variance s^2 (1/n + 1/4) instead of s^2 / n
    _, low_c, high_c = mean_interval([1, 2, 3, 4, 5], level=0.9, test_train_ratio=0.25)
    assert high_c - 3 == pytest.approx(2.1318 * np.sqrt(2.5 * 0.45), abs=1e-3)
    assert low_c < low and high_c > high


def test_mean_interval_contains_the_mean_and_collapses_without_spread():
    rng = np.random.default_rng(0)
    for _ in range(20):
        values = rng.random(rng.integers(2, 12))
        mean, low, high = mean_interval(values)
        assert low <= mean <= high
        assert mean == pytest.approx(values.mean())
    assert mean_interval([0.7, 0.7, 0.7]) == pytest.approx((0.7, 0.7, 0.7))
    assert mean_interval([0.6]) == (0.6, 0.6, 0.6)


def test_paired_fold_differences_average_seeds_first():
    d = paired_fold_differences([0.5, 0.7], [0.4, 0.5])
    assert d["mean"] == pytest.approx(0.15)
    assert d["low"] <= d["mean"] <= d["high"]
    seeds = paired_fold_differences([[0.5, 0.7], [0.7, 0.9]], [0.4, 0.5])
    assert seeds["mean"] == pytest.approx(0.25)  # per fold: 0.6 - 0.4, 0.8 - 0.5
    with pytest.raises(ValueError, match="shape"):
        paired_fold_differences([0.5, 0.7, 0.9], [0.4, 0.5])


def test_paired_bootstrap_of_identical_predictions_is_zero():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 200)
    pred = rng.integers(0, 2, 200)
    d = paired_bootstrap(y, pred, pred, n_boot=300)
    assert (d["mean"], d["low"], d["high"]) == (0.0, 0.0, 0.0)
    assert d["p_a_not_better"] == 1.0


def test_paired_bootstrap_by_hand_and_by_seed():
    y = np.array([1, 1, 0, 0] * 10)
    perfect = y.copy()
    half = np.array([1, 0, 1, 0] * 10)  # one hit, one miss, one false alarm: F1 0.5
    d = paired_bootstrap(y, perfect, half, n_boot=500, seed=0)
    assert d["mean"] == pytest.approx(0.5)
    assert 0 < d["low"] <= 0.5 <= d["high"] < 1
    assert d["p_a_not_better"] == 0.0
    assert paired_bootstrap(y, perfect, half, n_boot=500, seed=0) == d
    assert paired_bootstrap(y, perfect, half, n_boot=500, seed=1) != d
    # several runs (seeds) of A: F1 is averaged over them
    runs = paired_bootstrap(y, np.stack([perfect, half]), half, n_boot=200)
    assert runs["mean"] == pytest.approx(0.25)


def test_flip_average_means_the_photo_and_its_mirror():
    x = np.array([[[[1.0], [3.0]]]])  # one photo, 1 x 2 pixels

    def predict(images):  # "probability" = the top-left pixel
        return images[:, 0, 0, 0]

    assert flip_average(predict, x) == pytest.approx([2.0])


def test_summarize_a_perfect_and_a_useless_recipe():
    y = labels(60, 15)
    folds = stratified_folds(y, n_splits=3, seed=0)
    perfect = summarize(y, [y * 0.8 + 0.1], folds)
    assert perfect["mean"] == perfect["low"] == perfect["high"] == 1.0
    assert perfect["spread"] == 0.0 and perfect["pr_auc"] == 1.0
    assert np.array_equal(perfect["decisions"][0], y.astype(bool))
    rng = np.random.default_rng(0)
    noisy = summarize(y, [rng.random(60), rng.random(60)], folds)
    assert noisy["f1"].shape == (2, 3)
    assert noisy["low"] <= noisy["mean"] <= noisy["high"]
    assert noisy["mean"] < 1.0
