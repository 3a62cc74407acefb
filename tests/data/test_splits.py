"""Stratified 80/10/10 splits: sizes, class shares, determinism, validation."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wastelab.data import Splits, stratified_split


def _data(n, n_pos, shape=(4, 4, 1), seed=0):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (n, *shape), dtype=np.uint8)
    y = np.zeros(n, dtype=np.int64)
    y[rng.choice(n, n_pos, replace=False)] = 1
    return x, y


def test_default_split_is_80_10_10_and_keeps_every_image():
    x, y = _data(1000, 300)
    s = stratified_split(x, y, seed=3)
    assert [len(s.y_train), len(s.y_val), len(s.y_test)] == [800, 100, 100]
    assert [int(s.y_train.sum()), int(s.y_val.sum()), int(s.y_test.sum())] == [
        240,
        30,
        30,
    ]
    together = np.concatenate([s.x_train, s.x_val, s.x_test]).reshape(1000, -1)
    assert sorted(map(bytes, together)) == sorted(map(bytes, x.reshape(1000, -1)))


def test_summary_reports_counts_and_shares():
    s = stratified_split(*_data(100, 30), seed=0, meta={"source": "test"})
    rows = s.summary_rows()
    assert [r["images"] for r in rows] == [80, 10, 10]
    assert rows[0]["bottle"] == 24 and rows[0]["bottle share"] == pytest.approx(0.3)
    text = s.summary()
    assert "test" in text and "train" in text and "bottle share" in text


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(30, 300), share=st.floats(0.1, 0.9), seed=st.integers(0, 2**31 - 1)
)
def test_split_is_deterministic_and_stratified(n, share, seed):
    n_pos = int(round(n * share))
    x, y = _data(n, n_pos, seed=seed % 1000)
    a = stratified_split(x, y, seed=seed)
    b = stratified_split(x, y, seed=seed)
    for name in ("train", "val", "test"):
        xa, ya = a.split(name)
        xb, yb = b.split(name)
        assert np.array_equal(xa, xb) and np.array_equal(ya, yb)
    # each class is split 80/10/10 up to rounding: at most one image off per split
    for cid, total in ((1, n_pos), (0, n - n_pos)):
        counts = [int(np.sum(a.split(s)[1] == cid)) for s in ("train", "val", "test")]
        assert sum(counts) == total
        for count, frac in zip(counts, (0.8, 0.1, 0.1), strict=True):
            assert abs(count - frac * total) < 1


def test_different_seeds_give_different_splits():
    x, y = _data(200, 60)
    a, b = stratified_split(x, y, seed=0), stratified_split(x, y, seed=1)
    assert not np.array_equal(a.x_train, b.x_train)


@pytest.mark.parametrize(
    "x,y,message",
    [
        (np.zeros((5, 4, 4, 1), np.float32), np.zeros(5, np.int64), "uint8"),
        (np.zeros((5, 4, 4), np.uint8), np.zeros(5, np.int64), "shape"),
        (
            np.zeros((5, 4, 4, 1), np.uint8),
            np.zeros(4, np.int64),
            "labels must have shape",
        ),
        (np.zeros((5, 4, 4, 1), np.uint8), np.array([0, 1, 2, 0, 1]), "out of range"),
        (np.zeros((5, 4, 4, 1), np.uint8), np.array([0, 1, -1, 0, 1]), "out of range"),
        (np.zeros((5, 4, 4, 1), np.uint8), np.zeros(5, np.float64), "integer"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(x, y, message):
    with pytest.raises(ValueError, match=message):
        stratified_split(x, y)


def test_bad_fractions_are_refused():
    with pytest.raises(ValueError, match="fractions"):
        stratified_split(*_data(10, 3), fractions=(0.5, 0.5, 0.5))


def test_splits_refuse_mismatched_image_shapes():
    x, y = _data(10, 3)
    with pytest.raises(ValueError, match="image shape"):
        Splits(x, y, x[:, :2], y, x, y)


@pytest.mark.parametrize(
    "n_pos,missing", [(0, "'bottle' \\(label 1\\)"), (40, "'other'")]
)
def test_a_class_without_images_is_refused_by_name(n_pos, missing):
    with pytest.raises(ValueError, match=f"no images of class {missing}"):
        stratified_split(*_data(40, n_pos))


def test_an_empty_validation_or_test_split_is_refused():
    with pytest.raises(ValueError, match="the test split would be empty"):
        stratified_split(*_data(10, 5))  # 5 + 5 images: 4/1/0 per class
    with pytest.raises(ValueError, match="the val split would be empty"):
        stratified_split(*_data(100, 30), fractions=(0.9, 0.0, 0.1))
