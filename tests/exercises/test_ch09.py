"""Chapter 9: the numpy convolution, pooling and output sizes agree with Keras; the self-checks
accept the references and catch the typical mistakes with the right hint."""

import itertools

import keras
import numpy as np
import pytest

from wastelab.exercises import CheckFailed
from wastelab.exercises.ch09 import (
    EDGE_IMAGE,
    EDGE_KERNEL,
    check_conv2d,
    check_conv_output_size,
    check_conv_params,
    conv2d,
    conv2d_valid,
    conv_output_size,
    conv_params,
    conv_params_answer,
    max_pool2d,
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


def test_conv_params_matches_keras():
    layer = keras.layers.Conv2D(32, 5)
    layer.build((None, 50, 50, 3))
    assert conv_params(5, 3, 32) == layer.count_params() == conv_params_answer()
    assert conv_params(3, 1, 16) == 160 and conv_params(3, 16, 16) == 2320


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
    check_conv_params(conv_params_answer())
    assert "✓ n_params" in capsys.readouterr().out
    with pytest.raises(NotImplementedError):
        check_conv_params(...)


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
