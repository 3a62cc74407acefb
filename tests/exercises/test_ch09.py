"""Chapter 9: the numpy convolution, pooling, output sizes and receptive fields agree with
Keras; the self-checks accept the references and catch the typical mistakes with the
right hint."""

import itertools
from types import SimpleNamespace

import keras
import numpy as np
import pytest

from wastelab import models
from wastelab.data.splits import stratified_split
from wastelab.exercises import CheckFailed
from wastelab.exercises.ch09 import (
    CNN_BATCH,
    CNN_EPOCHS,
    EDGE_IMAGE,
    EDGE_KERNEL,
    check_conv2d,
    check_conv_output_size,
    check_conv_params,
    check_course_cnn,
    conv2d,
    conv2d_valid,
    conv_output_size,
    conv_params,
    course_cnn_shapes,
    input_reach,
    max_pool2d,
    mean_pool2d,
    receptive_field,
)


def _stub(*args):
    raise NotImplementedError("Exercise: write me")


# ------------------------------------------------------------------ reference implementations


@pytest.mark.parametrize(
    "n, k, padding, stride",
    list(
        itertools.product((5, 6, 7, 23, 50), (1, 2, 3, 5), ("valid", "same"), (1, 2, 3))
    ),
)
def test_conv_output_size_matches_keras(n, k, padding, stride):
    if padding == "valid" and k > n:
        pytest.skip("kernel larger than the input")
    layer = keras.layers.Conv2D(1, (k, k), strides=stride, padding=padding)
    expected = layer.compute_output_shape((None, n, n, 1))[1]
    assert conv_output_size(n, k, padding, stride) == expected


@pytest.mark.parametrize("bad", [dict(padding="full"), dict(k=7), dict(stride=0)])
def test_conv_output_size_rejects_bad_arguments(bad):
    args = {"n": 6, "k": 3, "padding": "valid", "stride": 1} | bad
    with pytest.raises(ValueError, match="padding|fit|>= 1"):
        conv_output_size(**args)


@pytest.mark.parametrize(
    "shape, kshape, padding, stride",
    [
        ((6, 6), (3, 3), "valid", 1),
        ((6, 6), (3, 3), "same", 1),
        ((7, 9), (3, 3), "same", 2),
        ((8, 5), (2, 3), "valid", 2),
        ((6, 6), (2, 2), "same", 1),
        ((5, 5), (5, 5), "valid", 1),
    ],
)
def test_conv2d_matches_keras(shape, kshape, padding, stride):
    rng = np.random.default_rng(0)
    image = rng.normal(size=shape)
    kernel = rng.normal(size=kshape)
    layer = keras.layers.Conv2D(
        1, kshape, strides=stride, padding=padding, use_bias=False
    )
    layer.build((None, *shape, 1))
    layer.set_weights([kernel[:, :, None, None]])
    expected = np.asarray(layer(image[None, :, :, None].astype(np.float32)))[0, :, :, 0]
    np.testing.assert_allclose(
        conv2d(image, kernel, padding, stride), expected, atol=1e-5
    )


def test_conv2d_valid_matches_conv2d_and_scipy():
    signal = pytest.importorskip("scipy.signal")
    rng = np.random.default_rng(1)
    image, kernel = rng.normal(size=(9, 7)), rng.normal(size=(3, 2))
    expected = signal.correlate2d(image, kernel, mode="valid")
    np.testing.assert_allclose(conv2d_valid(image, kernel), expected)
    np.testing.assert_allclose(conv2d(image, kernel), expected)


def test_edge_example_answers_at_the_edge_only():
    out = conv2d(EDGE_IMAGE, EDGE_KERNEL)
    assert out.shape == (4, 4)
    np.testing.assert_array_equal(out[:, 0], 0)
    assert np.all(out[:, 1:3] == 30) and np.all(out[:, 3] == 0)


def test_max_pool2d_matches_keras_and_drops_the_leftover_row():
    x = np.arange(35, dtype=np.float32).reshape(5, 7) % 11
    expected = np.asarray(keras.layers.MaxPooling2D(2)(x[None, :, :, None]))[0, :, :, 0]
    got = max_pool2d(x)
    assert got.shape == (2, 3)
    np.testing.assert_array_equal(got, expected)
    assert max_pool2d(np.array([[1, 5], [3, 2]])).tolist() == [[5]]


def test_mean_pool2d_matches_keras_and_drops_the_leftover_row():
    x = np.arange(35, dtype=np.float32).reshape(5, 7) % 11
    layer = keras.layers.AveragePooling2D(2)
    expected = np.asarray(layer(x[None, :, :, None]))[0, :, :, 0]
    got = mean_pool2d(x)
    assert got.shape == (2, 3) and got.dtype == float
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    assert mean_pool2d(np.array([[1, 5], [3, 2]])).tolist() == [[2.75]]
    strided = mean_pool2d(x, size=3, stride=2)
    layer = keras.layers.AveragePooling2D(3, strides=2)
    np.testing.assert_allclose(
        strided, np.asarray(layer(x[None, :, :, None]))[0, :, :, 0], rtol=1e-6
    )


def test_pooling_tolerates_a_move_within_the_tile():
    spot = np.zeros((4, 4))
    spot[0, 0] = 8
    moved = np.roll(spot, (1, 1), axis=(0, 1))
    for pool in (max_pool2d, mean_pool2d):
        np.testing.assert_array_equal(pool(spot), pool(moved))
    assert max_pool2d(spot)[0, 0] == 8 and mean_pool2d(spot)[0, 0] == 2
    across = np.roll(spot, (2, 2), axis=(0, 1))  # into the next tile: it changes
    assert not np.array_equal(max_pool2d(spot), max_pool2d(across))


def test_conv_params_matches_keras():
    layer = keras.layers.Conv2D(32, 5)
    layer.build((None, 50, 50, 3))
    assert conv_params(5, 3, 32) == layer.count_params() == 2432
    assert conv_params(3, 1, 16) == 160 and conv_params(3, 16, 16) == 2320
    assert conv_params(5, 3, 32, bias=False) == 2400


# ------------------------------------------------------------ the course CNN, computed


@pytest.mark.parametrize("shape", [(50, 50, 1), (100, 100, 1), (64, 48, 3)])
def test_course_cnn_shapes_are_keras_shapes(shape):
    model = models.build_cnn(input_shape=shape, n_classes=3)
    computed = course_cnn_shapes(shape, n_classes=3)
    layers = [layer for layer in model.layers if layer.weights or "pool" in layer.name]
    layers.insert(len(layers) - 1, model.get_layer("flatten"))
    assert [name for name, _, _ in computed] == [
        "conv1",
        "pool1",
        "conv2",
        "pool2",
        "conv3",
        "flatten",
        "dense",
    ]
    for layer, (_, out_shape, n) in zip(layers, computed, strict=True):
        assert tuple(layer.output.shape[1:]) == out_shape
        assert models.count_params(layer) == n
    assert sum(n for *_, n in computed) == models.count_params(model)


def test_course_cnn_has_the_course_numbers():
    computed = course_cnn_shapes()
    assert sum(n for *_, n in computed) == 7394
    assert [n for *_, n in computed] == [160, 0, 2320, 0, 2320, 0, 2594]
    assert computed[-2] == ("flatten", (1296,), 0)


def test_receptive_field_of_the_course_cnn_and_of_kernel_stacks():
    assert receptive_field([(3, 1), (2, 2), (3, 1), (2, 2), (3, 1)]) == [
        3,
        4,
        8,
        10,
        18,
    ]
    assert receptive_field([(3, 1), (3, 1)]) == [3, 5] and receptive_field(
        [(5, 1)]
    ) == [5]
    assert receptive_field([(3, 1)] * 3)[-1] == 7
    assert receptive_field([(3, 2), (3, 2)]) == [3, 7]
    assert receptive_field([]) == []


def _extent(reach):
    rows = np.flatnonzero(reach.any(axis=1))
    cols = np.flatnonzero(reach.any(axis=0))
    return rows[0], rows[-1], cols[0], cols[-1]


def test_input_reach_measures_the_computed_receptive_field():
    model = models.build_cnn()
    names = ["conv1", "pool1", "conv2", "pool2", "conv3"]
    sizes = receptive_field([(3, 1), (2, 2), (3, 1), (2, 2), (3, 1)])
    for name, size in zip(names, sizes, strict=True):
        top, bottom, left, right = _extent(input_reach(model, name))
        assert bottom - top + 1 == size == right - left + 1, name
    reach = input_reach(model, "conv3", unit=(4, 4))
    assert _extent(reach) == (15, 32, 15, 32)  # 4 jumps of 4, minus the 'same' pad
    assert reach[23, 23] > reach[15, 15] > 0  # the centre has more paths
    corner = input_reach(model, "conv3", unit=(0, 0))
    assert _extent(corner) == (0, 16, 0, 16)  # cut by the image border


def test_input_reach_follows_strides_and_kernel_sizes():
    inputs = keras.Input((20, 20, 3))
    x = keras.layers.Conv2D(4, 5, strides=2, name="a")(inputs)
    x = keras.layers.AveragePooling2D(3, strides=1, name="b")(x)
    model = keras.Model(inputs, keras.layers.Conv2D(2, 3, name="c")(x))
    sizes = receptive_field([(5, 2), (3, 1), (3, 1)])
    for name, size in zip("abc", sizes, strict=True):
        top, bottom, _, _ = _extent(input_reach(model, name, unit=(0, 0)))
        assert (top, bottom - top + 1) == (0, size), name


def test_the_changed_networks_of_the_solution():
    """Exercise 9.4's solution predicts 24,002, 14,402 and 7,394 parameters."""

    def changed(filters=16, kernel=3, pool=keras.layers.MaxPooling2D):
        return _cnn(filters=filters, kernel=kernel, pool=pool)()

    assert models.count_params(changed(filters=32)) == 24_002
    assert models.count_params(changed(kernel=5)) == 14_402
    assert models.count_params(changed(pool=keras.layers.AveragePooling2D)) == 7_394
    assert models.count_params(_cnn()()) == 7_394


# ------------------------------------------------------------------ self-checks


@pytest.mark.parametrize(
    "check, reference, name, n_cases",
    [
        (check_conv_output_size, conv_output_size, "my_conv_output_size", 8),
        (check_conv2d, conv2d_valid, "my_conv2d", 5),
        (check_conv2d, conv2d, "my_conv2d", 5),
    ],
)
def test_references_pass_and_stub_is_not_done_yet(
    check, reference, name, n_cases, capsys
):
    assert check(reference) is None
    assert f"✓ {name}: all {n_cases} checks passed" in capsys.readouterr().out
    with pytest.raises(NotImplementedError):
        check(_stub)


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda n, k, padding, stride: (n - k) // stride, "not n - k"),
        (lambda n, k, padding, stride: (n - k) // stride + 1, "'same' adds zeros"),
        (
            lambda n, k, padding, stride: n if padding == "same" else n - k + 1,
            "Did you use the stride",
        ),
        (
            lambda n, k, padding, stride: (
                -(-n // stride) if padding == "same" else (n - k) / stride + 1
            ),
            "integer division",
        ),
        (
            lambda n, k, padding, stride: (
                n // stride if padding == "same" else (n - k) // stride + 1
            ),
            r"ceil\(n / s\)",
        ),
    ],
)
def test_conv_output_size_mistakes(wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_conv_output_size(wrong, verbose=False)


def _off_by_one(image, kernel):
    kh, kw = kernel.shape
    return np.array(
        [
            [
                np.sum(image[i : i + kh, j : j + kw] * kernel)
                for j in range(image.shape[1] - kw)
            ]
            for i in range(image.shape[0] - kh)
        ]
    )


def _square_only(image, kernel):
    k, n = kernel.shape[0], image.shape[0]
    return np.array(
        [
            [np.sum(image[i : i + k, j : j + k] * kernel) for j in range(n - k + 1)]
            for i in range(n - k + 1)
        ]
    )


def _flipped(image, kernel):
    return conv2d_valid(image, np.asarray(kernel)[::-1, ::-1])


def _integer(image, kernel):
    return conv2d_valid(image, kernel).astype(int)


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda image, kernel: np.sum(image * kernel), r"shape \(1, 1\)"),
        (_off_by_one, r"n - k \+ 1 = 1 position"),
        (_square_only, "rows and columns may differ"),
        (_flipped, "do not flip the kernel"),
        (_integer, "work in floats"),
    ],
)
def test_conv2d_mistakes(wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_conv2d(wrong, verbose=False)


def test_conv_params_check(capsys):
    check_conv_params(2432)
    assert "✓ n_params" in capsys.readouterr().out
    with pytest.raises(NotImplementedError):
        check_conv_params(...)


def test_conv_params_check_computes_its_answer_from_keras(monkeypatch):
    """The expected value comes from a Keras layer built now, not from a stored answer."""
    built = []
    original = keras.layers.Conv2D.build

    def spy(self, shape):
        built.append((self.filters, tuple(self.kernel_size), shape[-1]))
        return original(self, shape)

    monkeypatch.setattr(keras.layers.Conv2D, "build", spy)
    check_conv_params(2432, verbose=False)
    assert built == [(32, (5, 5), 3)]


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (5 * 5 * 3 * 32, "forgot the biases"),
        (5 * 5 * 32 + 32, "all 3 input channels"),
        (5 * 5 * 3 + 1, "that is one filter"),
        (5 * 5 * 3 + 32, "multiply by 32"),
        (1234, "kernel height \\* width \\* input channels"),
    ],
)
def test_conv_params_mistakes(wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_conv_params(wrong, verbose=False)


# ------------------------------------------------------ the course CNN, layer by layer


def _cnn(
    first_padding="same",
    activation="relu",
    pool=keras.layers.MaxPooling2D,
    filters=16,
    kernel=3,
    softmax="softmax",
    extra=None,
):
    """A builder of the course CNN, or of a variant with one mistake."""

    def build(input_shape=(50, 50, 1), n_classes=2):
        inputs = keras.Input(shape=input_shape)
        x = inputs
        for i, padding in enumerate((first_padding, "valid", "valid")):
            x = keras.layers.Conv2D(
                filters, kernel, padding=padding, activation=activation
            )(x)
            if i < 2:
                x = pool(2)(x)
        x = keras.layers.Flatten()(x)
        if extra is not None:
            x = extra(x)
        outputs = keras.layers.Dense(n_classes, activation=softmax)(x)
        return keras.Model(inputs, outputs)

    return build


def _sequential(input_shape=(50, 50, 1), n_classes=2):
    """The course's style: ReLU and softmax as layers of their own."""
    return keras.Sequential(
        [
            keras.Input(shape=input_shape),
            keras.layers.Conv2D(16, 3, padding="same"),
            keras.layers.ReLU(),
            keras.layers.MaxPooling2D(2),
            keras.layers.Conv2D(16, 3),
            keras.layers.Activation("relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Conv2D(16, 3, activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(n_classes),
            keras.layers.Activation("softmax"),
        ]
    )


# the image size and classes: enough for every check before training
SHAPE_ONLY = SimpleNamespace(image_shape=(50, 50, 1), class_names=("other", "bottle"))


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda shape, k: "a model", "expected a Keras model"),
        (_cnn(first_padding="valid"), "padding='same' keeps the size"),
        (_cnn(activation=None), "activation='relu'"),
        (_cnn(pool=keras.layers.AveragePooling2D), "pools with the maximum"),
        (_cnn(filters=32), r"Conv2D\(16, 3, ...\)"),
        (_cnn(kernel=5), r"16 of \(3, 3\)"),
        (_cnn(softmax=None), "activation='softmax'"),
        (_cnn(extra=keras.layers.Dropout(0.5)), "layers the course CNN does not have"),
        (
            lambda shape, k: keras.Sequential(
                [keras.Input(shape), keras.layers.Flatten(), keras.layers.Dense(k)]
            ),
            "not probabilities",
        ),
        (
            lambda shape, k: keras.Sequential(
                [
                    keras.Input(shape),
                    keras.layers.Flatten(),
                    keras.layers.Dense(k, activation="softmax"),
                ]
            ),
            "the layers are flatten, dense",
        ),
        (
            lambda shape, k: _cnn()((shape[0], shape[1], 3), k),
            "cannot read images of shape",
        ),
    ],
)
def test_course_cnn_mistakes(wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_course_cnn(wrong, SHAPE_ONLY, verbose=False)


def test_course_cnn_wrong_prediction_of_a_changed_network():
    with pytest.raises(CheckFailed, match="has 24,002 parameters, you predicted 7,394"):
        check_course_cnn(_cnn(filters=32), SHAPE_ONLY, params=7394, verbose=False)


def test_course_cnn_stub_is_not_done_yet():
    with pytest.raises(NotImplementedError):
        check_course_cnn(_stub, SHAPE_ONLY)


@pytest.fixture(scope="module")
def tiny16():
    """60 noisy 16x16 images (the smallest size the course CNN takes); a third are
    "bottles" with a bright centre."""
    rng = np.random.default_rng(0)
    y = (rng.random(60) < 0.33).astype(np.int64)
    x = rng.integers(0, 110, (60, 16, 16, 1)).astype(np.uint8)
    x[y == 1, 5:11, 5:11, 0] += 120
    return stratified_split(x, y, fractions=(0.6, 0.2, 0.2), seed=0)


@pytest.mark.slow
@pytest.mark.parametrize("builder", [models.build_cnn, _cnn(), _sequential])
def test_course_cnn_reference_and_other_spellings_pass_and_report(
    builder, tiny16, capsys
):
    scores = check_course_cnn(builder, tiny16, epochs=1)
    out = capsys.readouterr().out
    n = sum(p for *_, p in course_cnn_shapes((16, 16, 1)))
    assert scores["params"] == n and 0.0 <= scores["f1"] <= 1.0
    assert scores["confusion_matrix"].sum() == len(tiny16.y_val)
    words = " ".join(out.split())
    assert f"the course CNN: {n:,} parameters, trained for 1 epoch in" in words
    assert "validation images: 12, 4 of them 'bottle'" in words
    assert "true bottle" in out and "pred bottle" in out
    assert "always 'bottle' (0.500)" in words  # 2s / (1 + s) with s = 4/12
    assert f"✓ {builder.__name__}: the course CNN" in out
    assert max(len(line) for line in out.splitlines()) <= 88


@pytest.mark.slow
def test_course_cnn_changed_network_with_its_predicted_count(tiny16, capsys):
    changed = _cnn(pool=keras.layers.AveragePooling2D)
    n = sum(p for *_, p in course_cnn_shapes((16, 16, 1)))  # pooling has no weights
    check_course_cnn(changed, tiny16, params=n, epochs=1)
    assert f"✓ build: your CNN, {n:,} parameters" in capsys.readouterr().out


def test_course_cnn_recipe_is_the_chapters():
    assert (CNN_EPOCHS, CNN_BATCH) == (20, 32)
