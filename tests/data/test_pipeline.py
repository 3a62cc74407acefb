"""The tf.data pipeline: dtypes and ranges, seeded order, class balancing, augmentation."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from wastelab.data.pipeline import (
    balanced_order,
    class_weights,
    make_dataset,
    new_epoch_counter,
    normalize,
    steps_per_epoch,
)

N, SIDE = 64, 16


@pytest.fixture
def data():
    """64 images whose top-left pixel is their index; 12 of class 1."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (N, SIDE, SIDE, 1), dtype=np.uint8)
    x[:, 0, 0, 0] = np.arange(N)
    y = np.zeros(N, dtype=np.int64)
    y[rng.choice(N, 12, replace=False)] = 1
    return x, y


def ids(batch_images):
    """The index stored in each image's top-left pixel."""
    return np.rint(batch_images[:, 0, 0, 0] * 255).astype(int)


def one_pass(ds):
    xs, ys = zip(*[(xb.numpy(), yb.numpy()) for xb, yb in ds], strict=True)
    return np.concatenate(xs), np.concatenate(ys)


def test_normalize_numpy_and_tensor_agree_bit_for_bit(data):
    x, _ = data
    a = normalize(x)
    b = normalize(tf.constant(x)).numpy()
    assert a.dtype == np.float32 and b.dtype == np.float32
    assert np.array_equal(a, b)
    assert a.min() >= 0.0 and a.max() <= 1.0
    assert a[0, 0, 0, 0] == np.float32(x[0, 0, 0, 0]) / np.float32(255)
    assert normalize(np.array([[255]], dtype=np.uint8))[0, 0] == 1.0


def test_normalize_passes_floats_in_range_and_rejects_others():
    f = np.array([0.0, 0.5, 1.0])
    assert normalize(f).dtype == np.float32
    assert np.array_equal(normalize(f), f.astype(np.float32))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        normalize(np.array([0.0, 255.0]))
    with pytest.raises(ValueError, match="int16"):
        normalize(np.zeros(3, dtype=np.int16))


def test_eval_dataset_keeps_order_shapes_dtypes_and_range(data):
    x, y = data
    ds = make_dataset(x, y, batch_size=24)
    assert int(ds.cardinality()) == 3 == steps_per_epoch(N, 24)
    sizes = [int(xb.shape[0]) for xb, _ in ds]
    assert sizes == [24, 24, 16]
    images, labels = one_pass(ds)
    assert images.dtype == np.float32 and labels.dtype == np.int64
    assert images.shape == (N, SIDE, SIDE, 1)
    assert np.array_equal(images, normalize(x))
    assert np.array_equal(labels, y)
    assert 0.0 <= images.min() and images.max() <= 1.0


def test_cache_off_gives_the_same_batches(data):
    x, y = data
    a = one_pass(make_dataset(x, y, batch_size=16, training=True, cache=True, seed=3))
    b = one_pass(make_dataset(x, y, batch_size=16, training=True, cache=False, seed=3))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def test_shuffle_is_seeded_and_new_every_pass(data):
    x, y = data
    ds1 = make_dataset(x, y, batch_size=16, training=True, seed=7)
    ds2 = make_dataset(x, y, batch_size=16, training=True, seed=7)
    other = make_dataset(x, y, batch_size=16, training=True, seed=8)
    first, second = ids(one_pass(ds1)[0]), ids(one_pass(ds1)[0])
    assert sorted(first) == list(range(N))  # each image exactly once per pass
    assert sorted(second) == list(range(N))
    assert not np.array_equal(first, second)  # reshuffled on the second pass
    assert not np.array_equal(first, np.arange(N))
    assert np.array_equal(first, ids(one_pass(ds2)[0]))  # same seed, same passes
    assert np.array_equal(second, ids(one_pass(ds2)[0]))
    assert not np.array_equal(first, ids(one_pass(other)[0]))
    images, labels = one_pass(ds1)
    assert np.array_equal(labels, y[ids(images)])  # labels travel with their images


def test_epoch_counter_picks_the_pass(data):
    """Setting the counter to k replays pass k: what makes a resumed epoch see its batches."""
    x, y = data
    fresh = make_dataset(x, y, batch_size=16, training=True, seed=1)
    passes = [ids(one_pass(fresh)[0]) for _ in range(3)]
    counter = new_epoch_counter()
    ds = make_dataset(x, y, batch_size=16, training=True, seed=1, epoch_counter=counter)
    counter.assign(2)
    assert np.array_equal(ids(one_pass(ds)[0]), passes[2])
    assert int(counter.numpy()) == 3
    counter.assign(0)
    assert np.array_equal(ids(one_pass(ds)[0]), passes[0])


def test_no_shuffle_in_evaluation_unless_asked(data):
    x, y = data
    ds = make_dataset(x, y, batch_size=16, training=False)
    assert np.array_equal(ids(one_pass(ds)[0]), np.arange(N))
    assert np.array_equal(ids(one_pass(ds)[0]), np.arange(N))
    shuffled = make_dataset(x, y, batch_size=16, training=False, shuffle=True)
    assert not np.array_equal(ids(one_pass(shuffled)[0]), np.arange(N))


def test_balance_oversamples_to_equal_classes(data):
    x, y = data  # 12 of 64 are class 1
    ds = make_dataset(x, y, batch_size=16, training=True, balance=True, seed=0)
    assert int(ds.cardinality()) == N // 16
    labels, seen = [], []
    for _ in range(10):
        images, lab = one_pass(ds)
        assert images.shape[0] == (N // 16) * 16
        assert np.array_equal(lab, y[ids(images)])
        labels.append(lab)
        seen.append(ids(images))
    share = np.concatenate(labels).mean()
    assert 0.42 < share < 0.58, share  # 640 draws: 0.5 +- 3 standard deviations
    positives = set(np.flatnonzero(y == 1))
    assert positives <= set(np.concatenate(seen))  # every minority image gets drawn
    # one batch is balanced too, roughly: no batch of 16 is almost all one class
    batch_shares = [yb.numpy().mean() for _, yb in ds]
    assert all(0.1 <= s <= 0.9 for s in batch_shares)


def test_balance_with_batch_larger_than_data_gives_one_batch(data):
    x, y = data
    ds = make_dataset(x, y, batch_size=100, training=True, balance=True)
    images, _ = one_pass(ds)
    assert images.shape[0] == 100


class AddOne(keras.layers.Layer):
    """A stand-in augmentation that is easy to recognise: +1 in training, identity else."""

    def call(self, inputs, training=None):
        return inputs + 1.0 if training else inputs


def test_augmentation_only_in_training(data):
    x, y = data
    plain = one_pass(
        make_dataset(x, y, batch_size=16, training=False, augment=AddOne())
    )[0]
    assert np.array_equal(plain, normalize(x))
    trained = one_pass(
        make_dataset(
            x, y, batch_size=16, training=True, shuffle=False, augment=AddOne()
        )
    )[0]
    assert np.allclose(trained, normalize(x) + 1.0)


def test_random_augmentation_is_seeded(data):
    x, y = data

    def run():
        flip = keras.layers.RandomFlip("horizontal_and_vertical", seed=5)
        ds = make_dataset(
            x, y, batch_size=16, training=True, shuffle=False, augment=flip
        )
        return one_pass(ds)[0], one_pass(ds)[0]

    (a1, a2), (b1, b2) = run(), run()
    assert np.array_equal(a1, b1) and np.array_equal(a2, b2)
    original = normalize(x)
    flips = [original, original[:, ::-1], original[:, :, ::-1], original[:, ::-1, ::-1]]
    matches = [any(np.array_equal(a1[i], f[i]) for f in flips) for i in range(N)]
    assert all(matches)  # every image is one of its four flips
    assert not np.array_equal(a1, original)


def test_class_weights_balanced_formula():
    y = np.array([0] * 6 + [1] * 2)
    w = class_weights(y)
    assert w == pytest.approx({0: 8 / (2 * 6), 1: 8 / (2 * 2)})
    assert sum(w[c] * np.sum(y == c) for c in w) == pytest.approx(len(y))
    assert class_weights(np.array([0, 1, 0, 1])) == {0: 1.0, 1: 1.0}
    assert class_weights(np.array([0, 0, 2, 2]), n_classes=3) == {
        0: 1.0,
        1: 0.0,
        2: 1.0,
    }
    with pytest.raises(ValueError, match="out of range"):
        class_weights(np.array([0, 3]), n_classes=2)
    with pytest.raises(ValueError, match="integer"):
        class_weights(np.array([0.0, 1.0]))


def test_class_weights_are_scikit_learns_balanced_weights():
    from sklearn.utils.class_weight import compute_class_weight

    y = np.random.default_rng(1).integers(0, 3, 50)
    expected = compute_class_weight("balanced", classes=np.arange(3), y=y)
    assert class_weights(y) == pytest.approx(dict(enumerate(expected)))


def test_balanced_order_draws_classes_equally_and_is_seeded():
    y = np.array([0] * 90 + [1] * 10)
    order = balanced_order(y, 20_000, seed=3).numpy()
    assert order.min() >= 0 and order.max() < len(y)
    assert abs(np.mean(y[order] == 1) - 0.5) < 0.02  # a 10 % class drawn half the time
    again = balanced_order(y, 20_000, seed=3).numpy()
    assert np.array_equal(order, again)
    assert not np.array_equal(order, balanced_order(y, 20_000, seed=3, key=1).numpy())


def test_bad_inputs_raise_clear_errors(data):
    x, y = data
    with pytest.raises(ValueError, match="shape"):
        make_dataset(x[..., 0], y)
    with pytest.raises(ValueError, match="uint8"):
        make_dataset(x.astype(np.float32), y)
    with pytest.raises(ValueError, match="out of range"):
        make_dataset(x, y + 1, n_classes=2)
    with pytest.raises(ValueError, match=r"\(64,\)"):
        make_dataset(x, y[:10])
    with pytest.raises(ValueError, match="batch_size"):
        make_dataset(x, y, batch_size=0)
    with pytest.raises(ValueError, match="no images"):
        make_dataset(x[:0], y[:0], n_classes=2)
