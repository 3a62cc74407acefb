"""Chapter 9, convolutional networks: the chapter's numpy convolution, pooling and output
sizes (reference implementations), and the self-checks of its exercises.

A convolution layer in deep learning computes a *cross-correlation*: the kernel slides over
the image unflipped, and each output value is the sum of the window times the kernel. The
functions here follow Keras' conventions for ``padding`` ("valid", "same") and ``stride``.
Checks print a one-line verdict or raise ``CheckFailed`` with a hint, as in
:mod:`wastelab.exercises.ch03`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .core import Case, check_value, run_checks, self_check

PADDINGS = ("valid", "same")

#: The chapter's 6 x 6 example: a dark left half, a bright right half (a vertical edge).
EDGE_IMAGE = np.array([[10, 10, 10, 0, 0, 0]] * 6)
#: A 3 x 3 kernel that answers to a bright-to-dark step from left to right.
EDGE_KERNEL = np.array([[1, 0, -1]] * 3)


def conv_output_size(n: int, k: int, padding: str = "valid", stride: int = 1) -> int:
    """Output length along one axis for input length ``n`` and kernel (or pool) length ``k``.

    ``"valid"`` (no padding): ``(n - k) // stride + 1``, the positions where the kernel fits
    entirely. ``"same"`` (zeros added around the edges): ``ceil(n / stride)``, so that at
    stride 1 the output is as large as the input. Keras computes the same numbers.
    """
    if padding not in PADDINGS:
        raise ValueError(f"padding must be one of {PADDINGS}, got {padding!r}")
    if n < 1 or k < 1 or stride < 1:
        raise ValueError(
            f"n, k and stride must be >= 1, got n={n}, k={k}, stride={stride}"
        )
    if padding == "same":
        return -(-n // stride)  # ceil(n / stride) in integers
    if k > n:
        raise ValueError(f"a 'valid' kernel of {k} does not fit an input of {n}")
    return (n - k) // stride + 1


def conv2d(
    image: np.ndarray, kernel: np.ndarray, padding: str = "valid", stride: int = 1
) -> np.ndarray:
    """Slide ``kernel`` (kh, kw) over one-channel ``image`` (H, W): float (out_h, out_w).

    ``output[i, j] = sum(window * kernel)`` where ``window`` is the (kh, kw) patch of the
    image at row ``i * stride``, column ``j * stride`` (no kernel flip, as in every deep
    learning library). ``"same"`` pads with zeros, the extra row or column (if any) at the
    bottom and right, as TensorFlow does; output sizes as in :func:`conv_output_size`.
    """
    x = np.asarray(image, dtype=float)
    w = np.asarray(kernel, dtype=float)
    if x.ndim != 2 or w.ndim != 2:
        raise ValueError(f"image and kernel must be 2-D, got {x.shape} and {w.shape}")
    out_h = conv_output_size(x.shape[0], w.shape[0], padding, stride)
    out_w = conv_output_size(x.shape[1], w.shape[1], padding, stride)
    if padding == "same":
        pad_h = max((out_h - 1) * stride + w.shape[0] - x.shape[0], 0)
        pad_w = max((out_w - 1) * stride + w.shape[1] - x.shape[1], 0)
        x = np.pad(
            x, ((pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2))
        )
    out = np.zeros((out_h, out_w))
    for i in range(out_h):
        for j in range(out_w):
            top, left = i * stride, j * stride
            window = x[top : top + w.shape[0], left : left + w.shape[1]]
            out[i, j] = np.sum(window * w)
    return out


def conv2d_valid(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """The exercise's convolution: 'valid', stride 1, image (H, W) and kernel (kh, kw).

    Returns (H - kh + 1, W - kw + 1) floats, ``out[i, j] = sum(image[i:i+kh, j:j+kw] *
    kernel)``.
    """
    image = np.asarray(image, dtype=float)
    kernel = np.asarray(kernel, dtype=float)
    kh, kw = kernel.shape
    out_h, out_w = image.shape[0] - kh + 1, image.shape[1] - kw + 1
    out = np.zeros((out_h, out_w))
    for i in range(out_h):
        for j in range(out_w):
            out[i, j] = np.sum(image[i : i + kh, j : j + kw] * kernel)
    return out


def max_pool2d(x: np.ndarray, size: int = 2, stride: int | None = None) -> np.ndarray:
    """Max pooling of ``x`` (H, W): the largest value of each (size, size) window.

    Windows start every ``stride`` pixels (default: ``size``, so they do not overlap); a
    last row or column that does not fill a window is dropped ('valid'), as in Keras'
    ``MaxPooling2D``. Output (conv_output_size(H, size, "valid", stride), ...).
    """
    x = np.asarray(x)
    stride = size if stride is None else stride
    if x.ndim != 2:
        raise ValueError(f"x must be 2-D (H, W), got {x.shape}")
    out_h = conv_output_size(x.shape[0], size, "valid", stride)
    out_w = conv_output_size(x.shape[1], size, "valid", stride)
    out = np.empty((out_h, out_w), dtype=x.dtype)
    for i in range(out_h):
        for j in range(out_w):
            out[i, j] = x[
                i * stride : i * stride + size, j * stride : j * stride + size
            ].max()
    return out


def conv_params(k: int, c_in: int, c_out: int, bias: bool = True) -> int:
    """Parameters of a Conv2D layer with ``c_out`` filters of k x k over ``c_in`` channels."""
    return k * k * c_in * c_out + (c_out if bias else 0)


def conv_params_answer() -> int:
    """The exercise's layer: 32 filters of 5 x 5 on RGB images (3 channels), with biases."""
    return 5 * 5 * 3 * 32 + 32


# --------------------------------------------------------------------------------------------
# Self-checks
# --------------------------------------------------------------------------------------------


def _correlate_valid(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """An independent reference: every (kh, kw) window at once, times the kernel, summed
    (numpy's sliding windows; ``scipy.signal.correlate2d(image, kernel, "valid")`` agrees)."""
    image = np.asarray(image, dtype=float)
    kernel = np.asarray(kernel, dtype=float)
    windows = sliding_window_view(image, kernel.shape)  # (out_h, out_w, kh, kw)
    return np.einsum("ijkl,kl->ij", windows, kernel)


@self_check
def check_conv_output_size(my_conv_output_size: Callable, verbose: bool = True) -> None:
    """Check ``my_conv_output_size(n, k, padding, stride)`` on the course CNN's sizes and
    on strided cases; the hints name the usual slips (off by one, padding, rounding)."""
    cases = [
        Case(
            (6, 3, "valid", 1),
            4,
            hint="'valid': the kernel must fit entirely inside the input. On 6 pixels a 3-wide "
            "kernel fits at positions 0, 1, 2, 3: n - k + 1 = 4 (not n - k)",
        ),
        Case(
            (50, 3, "same", 1),
            50,
            hint="'same' adds zeros around the edges so that, at stride 1, the output is as "
            "large as the input: 50 -> 50. Treat padding='same' apart from 'valid'",
        ),
        Case(
            (25, 3, "valid", 1),
            23,
            hint="the course CNN's second convolution: 25 - 3 + 1 = 23",
        ),
        Case(
            (7, 3, "valid", 2),
            3,
            hint="with stride s the kernel jumps s pixels at a time: (n - k) // s + 1 "
            "positions, here (7 - 3) // 2 + 1 = 3. Did you use the stride?",
        ),
        Case(
            (8, 3, "valid", 2),
            3,
            hint="round down with integer division //: (8 - 3) // 2 + 1 = 3. A last window "
            "that would stick out of the input is dropped",
        ),
        Case(
            (7, 3, "same", 2),
            4,
            hint="'same' at stride s gives ceil(n / s) outputs: ceil(7 / 2) = 4, in integers "
            "-(-n // s). Plain n // s loses the last, partly padded window",
        ),
        Case(
            (23, 2, "valid", 2),
            11,
            hint="a 2 x 2 max pool at stride 2 follows the same 'valid' formula: "
            "(23 - 2) // 2 + 1 = 11, as in the course CNN",
        ),
        Case(
            (5, 5, "valid", 1),
            1,
            hint="a kernel as large as the input fits exactly once: 5 - 5 + 1 = 1",
        ),
    ]
    run_checks("my_conv_output_size", my_conv_output_size, cases, verbose=verbose)


@self_check
def check_conv2d(my_conv2d: Callable, verbose: bool = True) -> None:
    """Check ``my_conv2d(image, kernel)`` ('valid', stride 1) against numpy's sliding windows.

    The first cases use kernels that look the same when flipped, so they test the output
    size and the multiply-and-add alone; later ones catch a flipped kernel and non-square
    images or kernels.
    """
    rng = np.random.default_rng(9)
    laplace = np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]])  # the same when flipped
    tiny = np.arange(9).reshape(3, 3)
    wide = rng.integers(0, 10, size=(5, 7))
    odd_image = rng.normal(size=(4, 6))
    odd_kernel = np.array([[1.0, 2.0, 0.0], [-1.0, 0.5, 3.0]])
    cases = [
        Case(
            (tiny, laplace),
            _correlate_valid(tiny, laplace),
            hint="a 3 x 3 kernel on a 3 x 3 image fits exactly once (n - k + 1 = 1 position "
            "per axis): the output has shape (1, 1) and holds np.sum(image * kernel), "
            "the element-by-element products added up",
        ),
        Case(
            (EDGE_IMAGE, laplace),
            _correlate_valid(EDGE_IMAGE, laplace),
            hint="slide the kernel to every position where it fits entirely: n - k + 1 "
            "positions per axis (range(n - k + 1)), so a 6 x 6 image gives 4 x 4",
        ),
        Case(
            (wide, laplace),
            _correlate_valid(wide, laplace),
            hint="rows and columns may differ: H - kh + 1 rows and W - kw + 1 columns "
            "(image.shape[0] for rows, image.shape[1] for columns), here (3, 5)",
        ),
        Case(
            (EDGE_IMAGE, EDGE_KERNEL),
            _correlate_valid(EDGE_IMAGE, EDGE_KERNEL),
            hint="do not flip the kernel: deep learning's 'convolution' multiplies "
            "image[i + a, j + b] by kernel[a, b] (a cross-correlation). The left-to-right "
            "bright-to-dark edge must give positive values",
        ),
        Case(
            (odd_image, odd_kernel),
            _correlate_valid(odd_image, odd_kernel),
            hint="kernels need not be square: use kernel.shape[0] rows and kernel.shape[1] "
            "columns for the window, and keep fractional values (work in floats)",
        ),
    ]
    run_checks("my_conv2d", my_conv2d, cases, verbose=verbose)


@self_check
def check_conv_params(n_params: int, verbose: bool = True) -> None:
    """Check the parameter count of Conv2D(32 filters, 5 x 5) on RGB input (with biases)."""
    if n_params is Ellipsis or n_params is None:
        raise NotImplementedError("fill in n_params first")
    expected = conv_params_answer()
    slips = {
        conv_params(
            5, 3, 32, bias=False
        ): "you forgot the biases: one per filter, 32 more",
        conv_params(
            5, 1, 32
        ): "each filter spans all 3 input channels: 5 * 5 * 3 weights per "
        "filter, not 5 * 5",
        conv_params(
            5, 3, 1
        ): "that is one filter: the layer has 32, each with its own weights and bias",
        5 * 5 * 3
        + 32: "each of the 32 filters has its own 5 * 5 * 3 weights: multiply by 32",
        conv_params(5, 3, 32)
        * 50
        * 50: "the weights are shared across positions: the image "
        "size does not enter the count",
        conv_params(3, 3, 32): "the kernel is 5 x 5, not 3 x 3",
    }
    hint = slips.get(
        int(n_params) if np.ndim(n_params) == 0 else -1,
        "weights per filter: kernel height * width * input channels; times the "
        "number of filters; plus one bias per filter",
    )
    check_value("n_params", n_params, expected, hint=hint, verbose=verbose)
