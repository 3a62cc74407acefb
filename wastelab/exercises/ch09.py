"""Chapter 9, convolutional networks: the chapter's numpy convolution, pooling, output
sizes and receptive fields (reference implementations), and its exercises' self-checks.

A convolution layer in deep learning computes a *cross-correlation*: the kernel slides
over the image unflipped, and each output value is the sum of the window times the
kernel. The functions here follow Keras' conventions for ``padding`` ("valid", "same")
and ``stride``. Checks print a one-line verdict or raise ``CheckFailed`` with a hint, as
in :mod:`wastelab.exercises.ch03`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .core import Case, CheckFailed, check_value, run_checks, self_check

PADDINGS = ("valid", "same")

#: The chapter's 6 x 6 example: a bright left half, a dark right half (a vertical edge).
EDGE_IMAGE = np.array([[10, 10, 10, 0, 0, 0]] * 6)
#: A 3 x 3 kernel that answers to a bright-to-dark step from left to right.
EDGE_KERNEL = np.array([[1, 0, -1]] * 3)

#: The course CNN as (name, kernel or pool size, stride, padding) per layer.
COURSE_CNN_LAYERS = (
    ("conv1", 3, 1, "same"),
    ("pool1", 2, 2, "valid"),
    ("conv2", 3, 1, "valid"),
    ("pool2", 2, 2, "valid"),
    ("conv3", 3, 1, "valid"),
)
#: Filters of each of the course CNN's convolutions.
COURSE_CNN_FILTERS = 16
#: The chapter's training recipe, which the modelling exercise's check uses too.
CNN_EPOCHS, CNN_BATCH = 20, 32


def conv_output_size(n: int, k: int, padding: str = "valid", stride: int = 1) -> int:
    """Output length along one axis for input length ``n`` and kernel (or pool) ``k``.

    ``"valid"`` (no padding): ``(n - k) // stride + 1``, the positions where the kernel
    fits entirely. ``"same"`` (zeros added around the edges): ``ceil(n / stride)``, so
    that at stride 1 the output is as large as the input. Keras computes the same.
    """
    _check_size_args(n, k, padding, stride)
    if padding == "same":
        return -(-n // stride)  # ceil(n / stride) in integers
    return (n - k) // stride + 1


def _check_size_args(n: int, k: int, padding: str, stride: int) -> None:
    if padding not in PADDINGS:
        raise ValueError(f"padding must be one of {PADDINGS}, got {padding!r}")
    if n < 1 or k < 1 or stride < 1:
        raise ValueError(
            f"n, k and stride must be >= 1, got n={n}, k={k}, stride={stride}"
        )
    if padding == "valid" and k > n:
        raise ValueError(f"a 'valid' kernel of {k} does not fit an input of {n}")


def conv2d(
    image: np.ndarray, kernel: np.ndarray, padding: str = "valid", stride: int = 1
) -> np.ndarray:
    """Slide ``kernel`` (kh, kw) over a one-channel ``image`` (H, W); floats out.

    ``output[i, j] = sum(window * kernel)`` where ``window`` is the (kh, kw) patch of
    the image at row ``i * stride``, column ``j * stride`` (no kernel flip, as in every
    deep learning library). ``"same"`` pads with zeros, the extra row or column (if any)
    at the bottom and right, as TensorFlow does; output sizes as in
    :func:`conv_output_size`.
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
    return _pool2d(x, size, stride, np.max)


def mean_pool2d(x: np.ndarray, size: int = 2, stride: int | None = None) -> np.ndarray:
    """Mean (average) pooling of ``x`` (H, W): the mean of each (size, size) window.

    Windows and output size as in :func:`max_pool2d`; Keras' ``AveragePooling2D``
    computes the same (floats).
    """
    return _pool2d(np.asarray(x, dtype=float), size, stride, np.mean)


def _pool2d(
    x: np.ndarray, size: int, stride: int | None, reduce: Callable
) -> np.ndarray:
    x = np.asarray(x)
    stride = size if stride is None else stride
    if x.ndim != 2:
        raise ValueError(f"x must be 2-D (H, W), got {x.shape}")
    out_h = conv_output_size(x.shape[0], size, "valid", stride)
    out_w = conv_output_size(x.shape[1], size, "valid", stride)
    out = np.empty((out_h, out_w), dtype=x.dtype)
    for i in range(out_h):
        for j in range(out_w):
            top, left = i * stride, j * stride
            out[i, j] = reduce(x[top : top + size, left : left + size])
    return out


def conv_params(k: int, c_in: int, c_out: int, bias: bool = True) -> int:
    """Parameters of a Conv2D layer: ``c_out`` filters of k x k on ``c_in`` channels."""
    return k * k * c_in * c_out + (c_out if bias else 0)


def receptive_field(layers: Sequence[tuple[int, int]]) -> list[int]:
    """Side, in input pixels, of the window one unit of each layer sees.

    ``layers``: (kernel or pool size, stride) per layer, input side first. A layer with
    kernel ``k`` widens the window by ``k - 1`` steps of the layer below; one step of a
    layer (its *jump*, in input pixels) is the product of the strides beneath it.
    Padding moves the window, not its size.
    """
    size, jump, sizes = 1, 1, []
    for k, stride in layers:
        size += (k - 1) * jump
        jump *= stride
        sizes.append(size)
    return sizes


def course_cnn_shapes(
    input_shape: Sequence[int] = (50, 50, 1), n_classes: int = 2
) -> list[tuple[str, tuple[int, ...], int]]:
    """The course CNN's layers on ``input_shape``: (name, output shape, parameters).

    Computed from :data:`COURSE_CNN_LAYERS` with :func:`conv_output_size` and
    :func:`conv_params` (7,394 parameters on 50 x 50 x 1), not read from Keras.
    """
    h, w, c = (int(d) for d in input_shape)
    rows = []
    for name, k, stride, padding in COURSE_CNN_LAYERS:
        h = conv_output_size(h, k, padding, stride)
        w = conv_output_size(w, k, padding, stride)
        params = 0
        if name.startswith("conv"):
            params = conv_params(k, c, COURSE_CNN_FILTERS)
            c = COURSE_CNN_FILTERS
        rows.append((name, (h, w, c), params))
    rows.append(("flatten", (h * w * c,), 0))
    rows.append(("dense", (n_classes,), h * w * c * n_classes + n_classes))
    return rows


def input_reach(
    model: Any, layer: str, unit: tuple[int, int] | None = None
) -> np.ndarray:
    """Which input pixels can reach one unit of ``layer``, and by how many paths.

    Builds a *linear twin* of ``model``: the same kernel sizes, strides and padding, one
    channel, every weight 1, no bias and no activation, average instead of max pooling.
    Its gradient of the unit (default: the centre of the layer's map) with respect to
    the input image is > 0 exactly on the unit's receptive field. Returns (H, W) floats.
    """
    import tensorflow as tf

    twin = _linear_twin(model)
    image = tf.zeros((1, *model.input_shape[1:3], 1))
    with tf.GradientTape() as tape:
        tape.watch(image)
        out = twin(image)[layer]
        r, c = unit if unit is not None else (out.shape[1] // 2, out.shape[2] // 2)
        value = out[0, r, c, 0]
    reach = tape.gradient(value, image)[0, :, :, 0]
    return np.asarray(reach, dtype=float)


def _linear_twin(model: Any) -> Any:
    import keras

    x = inputs = keras.Input(shape=(*model.input_shape[1:3], 1))
    outputs = {}
    for layer in model.layers:
        config = layer.get_config()
        if isinstance(layer, keras.layers.Conv2D):
            x = keras.layers.Conv2D(
                1,
                config["kernel_size"],
                strides=config["strides"],
                padding=config["padding"],
                use_bias=False,
                kernel_initializer="ones",
            )(x)
        elif isinstance(
            layer, keras.layers.MaxPooling2D | keras.layers.AveragePooling2D
        ):
            x = keras.layers.AveragePooling2D(
                config["pool_size"], config["strides"], config["padding"]
            )(x)
        else:
            continue
        outputs[layer.name] = x
    return keras.Model(inputs, outputs)


# --------------------------------------------------------------------------------------
# Self-checks
# --------------------------------------------------------------------------------------


def _correlate_valid(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """An independent reference: every (kh, kw) window at once, times the kernel, summed
    (numpy's sliding windows; ``scipy.signal.correlate2d(image, kernel, "valid")``
    agrees)."""
    image = np.asarray(image, dtype=float)
    kernel = np.asarray(kernel, dtype=float)
    windows = sliding_window_view(image, kernel.shape)  # (out_h, out_w, kh, kw)
    return np.einsum("ijkl,kl->ij", windows, kernel)


@self_check
def check_conv_output_size(my_conv_output_size: Callable, verbose: bool = True) -> None:
    """Check ``my_conv_output_size(n, k, padding, stride)`` on the course CNN's sizes
    and on strided cases; the hints name the usual slips (off by one, padding,
    rounding)."""
    cases = [
        Case(
            (6, 3, "valid", 1),
            4,
            hint="'valid': the kernel must fit entirely inside the input. On 6 pixels "
            "a 3-wide kernel fits at positions 0, 1, 2, 3: n - k + 1 = 4 (not n - k)",
        ),
        Case(
            (50, 3, "same", 1),
            50,
            hint="'same' adds zeros around the edges so that, at stride 1, the output "
            "is as large as the input: 50 -> 50. Treat padding='same' apart from "
            "'valid'",
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
            hint="round down with integer division //: (8 - 3) // 2 + 1 = 3. A last "
            "window that would stick out of the input is dropped",
        ),
        Case(
            (7, 3, "same", 2),
            4,
            hint="'same' at stride s gives ceil(n / s) outputs: ceil(7 / 2) = 4, in "
            "integers -(-n // s). Plain n // s loses the last, partly padded window",
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
    """Check ``my_conv2d(image, kernel)`` ('valid', stride 1) against numpy's sliding
    windows.

    The first cases use kernels that look the same when flipped, so they test the output
    size and the multiply-and-add alone; later ones catch a flipped kernel and
    non-square images or kernels.
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
            hint="a 3 x 3 kernel on a 3 x 3 image fits exactly once (n - k + 1 = 1 "
            "position per axis): the output has shape (1, 1) and holds "
            "np.sum(image * kernel), the element-by-element products added up",
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
            "image[i + a, j + b] by kernel[a, b] (a cross-correlation). The "
            "left-to-right bright-to-dark edge must give positive values",
        ),
        Case(
            (odd_image, odd_kernel),
            _correlate_valid(odd_image, odd_kernel),
            hint="kernels need not be square: use kernel.shape[0] rows and "
            "kernel.shape[1] columns for the window, and keep fractional values "
            "(work in floats)",
        ),
    ]
    run_checks("my_conv2d", my_conv2d, cases, verbose=verbose)


def _keras_conv_params(filters: int, k: int, channels: int) -> int:
    """Keras' own count for ``Conv2D(filters, k)`` on ``channels`` input channels."""
    import keras

    layer = keras.layers.Conv2D(filters, k)
    layer.build((None, None, None, channels))
    return int(layer.count_params())


@self_check
def check_conv_params(n_params: int, verbose: bool = True) -> None:
    """Check the parameter count of a Conv2D layer of 32 filters of 5 x 5 on RGB input
    (with biases) against Keras' count, computed now."""
    if n_params is Ellipsis or n_params is None:
        raise NotImplementedError("fill in n_params first")
    k, channels, filters = 5, 3, 32
    expected = _keras_conv_params(filters, k, channels)
    slips = {
        conv_params(k, channels, filters, bias=False): "you forgot the biases: one "
        "per filter, 32 more",
        conv_params(k, 1, filters): "each filter spans all 3 input channels: "
        "5 * 5 * 3 weights per filter, not 5 * 5",
        conv_params(k, channels, 1): "that is one filter: the layer has 32, each with "
        "its own weights and bias",
        k * k * channels + filters: "each of the 32 filters has its own 5 * 5 * 3 "
        "weights: multiply by 32",
        conv_params(k, channels, filters) * 50 * 50: "the weights are shared across "
        "positions: the image size does not enter the count",
        conv_params(3, channels, filters): "the kernel is 5 x 5, not 3 x 3",
    }
    hint = slips.get(
        int(n_params) if np.ndim(n_params) == 0 else -1,
        "weights per filter: kernel height * width * input channels; times the "
        "number of filters; plus one bias per filter",
    )
    check_value("n_params", n_params, expected, hint=hint, verbose=verbose)


# The layers a CNN of the course's kind may hold, by kind; others are extra layers.
_KINDS = {
    "Conv2D": "conv",
    "MaxPooling2D": "pool",
    "AveragePooling2D": "pool",
    "Flatten": "flatten",
    "Dense": "dense",
}
_PASSIVE = {"InputLayer", "Activation", "ReLU", "Softmax"}


@self_check
def check_course_cnn(
    my_course_cnn: Callable,
    data: Any,
    params: int | None = None,
    epochs: int = CNN_EPOCHS,
    seed: int = 0,
    verbose: bool = True,
) -> dict[str, Any]:
    """Build ``my_course_cnn(input_shape, n_classes)`` for ``data``, check it, train it
    with the chapter's recipe and report its validation scores.

    Without ``params`` the model must be the course CNN, layer by layer (shapes and
    parameters from :func:`course_cnn_shapes`); with ``params`` (a changed CNN) it must
    have that many parameters, the reader's prediction. Either way it must map images
    to class probabilities. It then trains for ``epochs`` in batches of 32 with balanced
    class weights and ``seed``, and prints the parameter count, the validation F1 of
    class 1, the confusion matrix and a verdict against both constant guesses. Returns
    ``{"params", "f1", "confusion_matrix", "seconds"}``.
    """
    import keras

    from wastelab import metrics, models, training

    shape, n_classes = tuple(int(d) for d in data.image_shape), len(data.class_names)
    name = getattr(my_course_cnn, "__name__", "my_course_cnn")
    where = f"{name}({shape}, {n_classes})"
    model = my_course_cnn(shape, n_classes)
    if not isinstance(model, keras.Model):
        raise CheckFailed(
            f"{where} returned {type(model).__name__}, expected a Keras model\n  hint: "
            "start from keras.Input(shape=input_shape), call each layer on the output "
            "of the one before, and return keras.Model(inputs, outputs)"
        )
    _check_probabilities(model, shape, n_classes, where)
    n_params = models.count_params(model)
    if params is None:
        _check_course_layers(model, shape, n_classes, where)
    elif n_params != params:
        raise CheckFailed(
            f"{where} has {n_params:,} parameters, you predicted {params:,}\n  hint: "
            "count layer by layer: a convolution has k * k * C * F + F (C channels "
            "in, F filters), pooling and Flatten none, the dense layer one weight per "
            "flattened value and class plus one bias per class"
        )
    run = training.train(
        model,
        data,
        epochs=epochs,
        batch_size=CNN_BATCH,
        class_weight="balanced",
        seed=seed,
        verbose=0,
    )
    predicted = np.argmax(training.predict_proba(run.model, data.x_val), axis=1)
    report = metrics.binary_report(data.y_val, predicted)
    matrix = metrics.confusion_matrix(data.y_val, predicted)
    scores = {
        "params": n_params,
        "f1": report["f1"],
        "confusion_matrix": matrix,
        "seconds": run.wall_time,
    }
    if verbose:
        what = "the course CNN" if params is None else "your CNN"
        print(_cnn_report(what, scores, report, data, epochs))
        print(f"✓ {name}: {what}, {n_params:,} parameters, trained and evaluated")
    del run, model
    keras.backend.clear_session()
    return scores


def _check_probabilities(
    model: Any, shape: tuple[int, ...], n_classes: int, where: str
) -> None:
    """Raise ``CheckFailed`` unless ``model`` maps two images to probabilities."""
    images = np.random.default_rng(0).random((2, *shape)).astype("float32")
    try:
        out = np.asarray(model(images, training=False))
    except Exception as err:  # the reader's model cannot take the images
        raise CheckFailed(
            f"{where}: the model cannot read images of shape {shape}: "
            f"{type(err).__name__}\n  hint: start with keras.Input(shape=input_shape)"
        ) from err
    if out.shape != (2, n_classes):
        raise CheckFailed(
            f"{where}: 2 images gave outputs of shape {out.shape}, expected "
            f"{(2, n_classes)}\n  hint: Flatten the last feature maps, then one Dense "
            f"layer with n_classes units"
        )
    if np.any(out < 0) or not np.allclose(out.sum(axis=1), 1.0, atol=1e-4):
        raise CheckFailed(
            f"{where}: the outputs are not probabilities (rows sum to "
            f"{np.round(out.sum(axis=1), 3).tolist()})\n  hint: the last layer turns "
            f"scores into class probabilities: activation='softmax'"
        )


def _check_course_layers(
    model: Any, shape: tuple[int, ...], n_classes: int, where: str
) -> None:
    """Raise ``CheckFailed`` at the first layer that differs from the course CNN."""
    from wastelab import models

    layers = [layer for layer in model.layers if type(layer).__name__ not in _PASSIVE]
    extra = [layer.name for layer in layers if type(layer).__name__ not in _KINDS]
    if extra:
        raise CheckFailed(
            f"{where}: layers the course CNN does not have: {extra}\n  hint: only "
            f"Conv2D, MaxPooling2D, Flatten and Dense (change the network later, "
            f"with params=)"
        )
    kinds = [_KINDS[type(layer).__name__] for layer in layers]
    expected = course_cnn_shapes(shape, n_classes)
    want = [name.rstrip("123") for name, _, _ in expected]
    if kinds != want:
        raise CheckFailed(
            f"{where}: the layers are {', '.join(kinds)}; the course CNN's are "
            f"{', '.join(want)}\n  hint: three convolutions, a pooling layer after "
            f"each of the first two, then Flatten and one Dense layer"
        )
    for i, (layer, (name, out_shape, n)) in enumerate(
        zip(layers, expected, strict=True)
    ):
        config = layer.get_config()
        got = tuple(layer.output.shape[1:])
        if name.startswith("conv"):
            if config["filters"] != COURSE_CNN_FILTERS or tuple(
                config["kernel_size"]
            ) != (3, 3):
                raise CheckFailed(
                    f"{where}: {layer.name} has {config['filters']} filters of "
                    f"{config['kernel_size']}, the course CNN's {name} 16 of (3, 3)"
                    f"\n  hint: Conv2D(16, 3, ...) for each convolution"
                )
            if not _relu_after(layer, config, model.layers):
                raise CheckFailed(
                    f"{where}: {layer.name} has no ReLU\n  hint: "
                    f"activation='relu' in each Conv2D"
                )
        if name.startswith("pool") and type(layer).__name__ != "MaxPooling2D":
            raise CheckFailed(
                f"{where}: {layer.name} is {type(layer).__name__}, the course CNN "
                f"pools with the maximum\n  hint: MaxPooling2D(2); to try mean "
                f"pooling, "
                f"check the changed network with params="
            )
        if got != out_shape:
            hint = {
                "conv": "padding='same' keeps the size (the first convolution); the "
                "default 'valid' shrinks it by k - 1 (the other two)",
                "pool": "MaxPooling2D(2): 2 x 2 windows at stride 2 halve the size",
                "flatten": "Flatten the last feature maps",
                "dense": f"Dense({n_classes}) with the class probabilities",
            }[want[i]]
            raise CheckFailed(
                f"{where}: {layer.name} gives {got}, the course CNN's {name} gives "
                f"{out_shape}\n  hint: {hint}"
            )
        if models.count_params(layer) != n:
            raise CheckFailed(
                f"{where}: {layer.name} has {models.count_params(layer):,} parameters, "
                f"the course CNN's {name} {n:,}\n  hint: keep the biases "
                f"(use_bias=True)"
            )


def _relu_after(layer: Any, config: dict, all_layers: list) -> bool:
    """Whether ``layer`` applies ReLU itself or the layer right after it is a ReLU."""
    if config.get("activation") == "relu":
        return True
    position = all_layers.index(layer)
    following = all_layers[position + 1] if position + 1 < len(all_layers) else None
    name = type(following).__name__ if following is not None else ""
    return name == "ReLU" or (
        name == "Activation" and following.get_config()["activation"] == "relu"
    )


def _cnn_report(
    what: str, scores: dict[str, Any], report: dict[str, float], data: Any, epochs: int
) -> str:
    """The lines the modelling check prints: scores, confusion matrix, verdict."""
    from wastelab import metrics

    (tn, fp), (fn, tp) = scores["confusion_matrix"].tolist()
    names = data.class_names
    n_bottles = int(np.sum(data.y_val == 1))
    lines = [
        f"{what}: {scores['params']:,} parameters, trained for {epochs} epoch"
        f"{'s' if epochs != 1 else ''} in {scores['seconds']:.0f} s",
        f"validation images: {len(data.y_val)}, {n_bottles} of them {names[1]!r}",
        f"{names[1]!r}: precision {report['precision']:.3f}, recall "
        f"{report['recall']:.3f}, F1 {report['f1']:.3f}",
        "confusion matrix (rows: true class, columns: predicted class)",
        f"{'':>14}{'pred ' + names[0]:>14}{'pred ' + names[1]:>14}",
        f"{'true ' + names[0]:>14}{tn:>14}{fp:>14}",
        f"{'true ' + names[1]:>14}{fn:>14}{tp:>14}",
        metrics.verdict(what, report, metrics.constant_baselines(data.y_val, names)),
    ]
    return "\n".join(lines)
