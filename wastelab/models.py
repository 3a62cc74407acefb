"""Keras 3 models: the MLP and the CNNs, compiling, and looking inside a model.

Every ``build_*`` function returns an uncompiled ``keras.Model`` that maps float32
images in [0, 1] of shape (N, H, W, C) to class probabilities (N, n_classes) (softmax
outputs). Weights are drawn from seeded initializers, so the same ``seed`` gives the
same initial weights.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

#: BatchNorm's moving averages follow the batches faster than Keras' 0.99: the book
#: trains for a few hundred steps, and slow averages make inference-mode predictions lag
#: behind training.
BN_MOMENTUM = 0.9

# --------------------------------------------------------------------------------------
# Keras builders
# --------------------------------------------------------------------------------------


class _Seeds:
    """Distinct, reproducible seeds for the layers of one model."""

    def __init__(self, seed: int) -> None:
        self.base, self.count = int(seed) * 1000, 0

    def __call__(self) -> int:
        self.count += 1
        return self.base + self.count


def _dense_out(n_classes: int, seeds: _Seeds) -> keras.layers.Dense:
    # float32 output keeps softmax exact when a mixed-precision policy is active.
    return keras.layers.Dense(
        n_classes,
        activation="softmax",
        dtype="float32",
        kernel_initializer=keras.initializers.GlorotUniform(seeds()),
        name="probabilities",
    )


def _image_input(input_shape: Sequence[int]) -> keras.KerasTensor:
    input_shape = tuple(int(d) for d in input_shape)
    if len(input_shape) != 3:
        raise ValueError(f"input_shape must be (H, W, C), got {input_shape}")
    return keras.Input(shape=input_shape, name="image")


#: The optimizers :func:`compile_model` and ``train`` accept by name.
OPTIMIZERS = {
    "adam": keras.optimizers.Adam,
    "sgd": keras.optimizers.SGD,
    "rmsprop": keras.optimizers.RMSprop,
}


def compile_model(
    model: keras.Model,
    optimizer: str | keras.optimizers.Optimizer = "adam",
    learning_rate: float = 1e-3,
    steps_per_execution: int = 1,
    jit_compile: bool | str = "auto",
) -> keras.Model:
    """Compile ``model`` for integer labels: sparse categorical cross-entropy, accuracy.

    ``optimizer`` is a name in ``OPTIMIZERS`` or an optimizer instance (then
    ``learning_rate`` is ignored). ``steps_per_execution`` (training steps per call from
    Python) and ``jit_compile`` (XLA) go to Keras as they are. Returns the same model.
    """
    model.compile(
        optimizer=make_optimizer(optimizer, learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        steps_per_execution=steps_per_execution,
        jit_compile=jit_compile,
    )
    return model


def make_optimizer(
    optimizer: str | keras.optimizers.Optimizer = "adam", learning_rate: float = 1e-3
) -> keras.optimizers.Optimizer:
    """The optimizer named ``optimizer`` in ``OPTIMIZERS`` with ``learning_rate``; an
    optimizer instance is returned as it is.

    Raises ValueError for another name, or a learning rate that is not a finite number
    above 0 (NaN or infinity would train to NaN weights; 0 or less never learns).
    """
    if isinstance(optimizer, keras.optimizers.Optimizer):
        return optimizer
    if not isinstance(optimizer, str) or optimizer.lower() not in OPTIMIZERS:
        raise ValueError(
            f"optimizer must be one of {sorted(OPTIMIZERS)} or a Keras optimizer, "
            f"got {optimizer!r}"
        )
    check_learning_rate(learning_rate)
    return OPTIMIZERS[optimizer.lower()](learning_rate=learning_rate)


def check_learning_rate(learning_rate: float) -> None:
    """Raise ValueError unless ``learning_rate`` is a finite number above 0."""
    if (
        isinstance(learning_rate, bool)
        or not isinstance(learning_rate, int | float | np.floating | np.integer)
        or not math.isfinite(learning_rate)
        or learning_rate <= 0
    ):
        raise ValueError(
            f"learning_rate must be a finite number above 0, got {learning_rate!r}"
        )


def build_mlp(
    input_shape: Sequence[int] = (50, 50, 1),
    n_classes: int = 2,
    dropout: float = 0.2,
    seed: int = 0,
) -> keras.Model:
    """Flatten, Dense 128 ReLU, Dropout, Dense softmax: 320,386 parameters on 50x50."""
    seeds = _Seeds(seed)
    inputs = _image_input(input_shape)
    x = keras.layers.Flatten(name="flatten")(inputs)
    x = keras.layers.Dense(
        128,
        activation="relu",
        name="hidden",
        kernel_initializer=keras.initializers.GlorotUniform(seeds()),
    )(x)
    x = keras.layers.Dropout(dropout, seed=seeds(), name="dropout")(x)
    return keras.Model(inputs, _dense_out(n_classes, seeds)(x), name="mlp")


def build_cnn(
    input_shape: Sequence[int] = (50, 50, 1), n_classes: int = 2, seed: int = 0
) -> keras.Model:
    """The course CNN: three 3x3 convolutions of 16 filters, two max-pools, softmax.

    On 50x50x1: 50 -(same conv, pool)-> 25 -(conv)-> 23 -(pool)-> 11 -(conv)-> 9, so
    9*9*16 = 1,296 features; 160 + 2,320 + 2,320 + 2,594 = 7,394 parameters.
    """
    seeds = _Seeds(seed)
    inputs = _image_input(input_shape)
    x = inputs
    for i, padding in enumerate(("same", "valid", "valid"), start=1):
        x = keras.layers.Conv2D(
            16,
            3,
            padding=padding,
            activation="relu",
            name=f"conv{i}",
            kernel_initializer=keras.initializers.GlorotUniform(seeds()),
        )(x)
        if i < 3:
            x = keras.layers.MaxPooling2D(2, name=f"pool{i}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    return keras.Model(inputs, _dense_out(n_classes, seeds)(x), name="course_cnn")


def augmentation_layers(seed: int = 0) -> keras.Sequential:
    """Random flips, rotations, zooms, shifts and contrast for float images in [0, 1].

    Active only in training (``training=True``, as in ``fit``); the identity otherwise.
    Same ``seed``, same sequence of random transforms from a freshly built stack.
    Geometric transforms resample with ``nearest``: bilinear resampling blurs every
    training image (about half the fine grain at 50x50) while test images stay sharp,
    and a CNN trained on the blurred copies misjudges the sharp ones.
    """
    return keras.Sequential(
        [
            keras.layers.RandomFlip("horizontal", seed=seed * 10 + 1, name="flip"),
            keras.layers.RandomRotation(
                0.05, interpolation="nearest", seed=seed * 10 + 2, name="rotate"
            ),
            keras.layers.RandomZoom(
                0.1, interpolation="nearest", seed=seed * 10 + 3, name="zoom"
            ),
            keras.layers.RandomTranslation(
                0.1, 0.1, interpolation="nearest", seed=seed * 10 + 4, name="shift"
            ),
            keras.layers.RandomContrast(
                0.2, value_range=(0.0, 1.0), seed=seed * 10 + 5, name="contrast"
            ),
        ],
        name="augmentation",
    )


def _conv_bn_relu(
    x: keras.KerasTensor, n_filters: int, block: str, index: int, seeds: _Seeds
) -> keras.KerasTensor:
    """3x3 convolution (no bias), batch normalization, ReLU: the deeper CNNs' unit."""
    x = keras.layers.Conv2D(
        n_filters,
        3,
        padding="same",
        use_bias=False,
        kernel_initializer=keras.initializers.HeNormal(seeds()),
        name=f"{block}_conv{index}",
    )(x)
    x = keras.layers.BatchNormalization(
        momentum=BN_MOMENTUM, name=f"{block}_bn{index}"
    )(x)
    return keras.layers.ReLU(name=f"{block}_relu{index}")(x)


def build_strong_cnn(
    input_shape: Sequence[int] = (50, 50, 1),
    n_classes: int = 2,
    augment: bool = False,
    seed: int = 0,
    filters: Sequence[int] = (16, 32, 64),
    dropout: float = 0.3,
) -> keras.Model:
    """A stronger CNN: blocks of (Conv-BatchNorm-ReLU) x2 + MaxPool, pooling, Dropout.

    With the default ``filters`` about 73k parameters (the course CNN has 7k, the MLP
    320k); it trains on ~1,200 images at 50x50 in a couple of minutes on two CPU cores.
    ``augment=True`` puts :func:`augmentation_layers` in front (training only).
    """
    seeds = _Seeds(seed)
    inputs = _image_input(input_shape)
    x = augmentation_layers(seed)(inputs) if augment else inputs
    for b, n_filters in enumerate(filters, start=1):
        for c in (1, 2):
            x = _conv_bn_relu(x, n_filters, f"block{b}", c, seeds)
        x = keras.layers.MaxPooling2D(2, name=f"block{b}_pool")(x)
    x = keras.layers.GlobalAveragePooling2D(name="global_pool")(x)
    x = keras.layers.Dropout(dropout, seed=seeds(), name="dropout")(x)
    name = "strong_cnn_augmented" if augment else "strong_cnn"
    return keras.Model(inputs, _dense_out(n_classes, seeds)(x), name=name)


# --------------------------------------------------------------------------------------
# Inspecting models
# --------------------------------------------------------------------------------------


def count_params(model: keras.Model | tf.Module, trainable: bool | None = None) -> int:
    """Number of parameters: all (``trainable=None``), only trainable, or only frozen.

    Works for Keras models (BatchNorm statistics count as non-trainable) and
    ``tf.Module``s.
    """
    if isinstance(model, keras.Layer):
        groups = {True: model.trainable_weights, False: model.non_trainable_weights}
    else:
        train_ids = {id(v) for v in model.trainable_variables}
        groups = {
            True: list(model.trainable_variables),
            False: [v for v in model.variables if id(v) not in train_ids],
        }
    chosen = (
        groups[True] + groups[False] if trainable is None else groups[bool(trainable)]
    )
    return int(sum(math.prod(v.shape) for v in chosen))


def describe(model: keras.Model) -> str:
    """A plain-ASCII summary: a row per layer (name, type, output shape, params), total.

    Same content as ``model.summary()`` without box-drawing characters, for any
    renderer.
    """
    rows = [("layer", "type", "output shape", "params")]
    for layer in model.layers:
        rows.append(
            (
                layer.name,
                type(layer).__name__,
                _output_shape(layer),
                f"{count_params(layer):,}",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(4)]

    def line(row: tuple[str, ...]) -> str:
        cells = [row[i].ljust(widths[i]) for i in range(3)] + [row[3].rjust(widths[3])]
        return "  ".join(cells).rstrip()

    rule = "-" * (sum(widths) + 2 * 3)
    total, train = count_params(model), count_params(model, trainable=True)
    out = [f'Model "{model.name}"', rule, line(rows[0]), rule.replace("-", "=")]
    out += [line(r) for r in rows[1:]]
    out += [
        rule,
        f"Total params: {total:,}",
        f"Trainable params: {train:,}",
        f"Non-trainable params: {total - train:,}",
    ]
    return "\n".join(out)


def _output_shape(layer: keras.Layer) -> str:
    try:
        shape = layer.output.shape
    except (AttributeError, ValueError):  # unused, or called more than once
        return "?"
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"
