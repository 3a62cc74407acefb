"""TensorFlow 2 / Keras 3 models: the course's first network, MLP and CNNs.

Every ``build_*`` function returns an uncompiled ``keras.Model`` that maps float32 images in
[0, 1] of shape (N, H, W, C) to class probabilities (N, n_classes) (softmax outputs). Weights are
drawn from seeded initializers, so the same ``seed`` gives the same initial weights.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from tqdm import tqdm  # text bars: no ipywidgets needed in notebooks

#: BatchNorm's moving averages follow the batches faster than Keras' 0.99: the book trains for
#: a few hundred steps, and slow averages make inference-mode predictions lag behind training.
BN_MOMENTUM = 0.9

# --------------------------------------------------------------------------------------------
# The course's first network, written for TensorFlow 2
# --------------------------------------------------------------------------------------------


class FirstNetwork(tf.Module):
    """The course's first TensorFlow network: one weight matrix, a bias, softmax.

    ``W`` (n_features, n_classes) starts uniform in [-1, 1] (seeded), ``b`` starts at zero.
    Images (N, H, W, C) are flattened to (N, n_features), then
    ``probabilities = softmax(relu(x @ W + b))``. The ReLU before the softmax is the course's
    choice, kept so the book matches it; it can silence a class whose logit turns negative
    (its gradient is then zero). ``relu=False`` gives the textbook softmax regression.
    """

    def __init__(
        self,
        input_shape: Sequence[int] = (50, 50, 1),
        n_classes: int = 2,
        seed: int = 0,
        relu: bool = True,
        name: str = "first_network",
    ) -> None:
        super().__init__(name=name)
        self.input_shape = tuple(int(d) for d in input_shape)
        self.n_features = math.prod(self.input_shape)
        self.n_classes = int(n_classes)
        self.relu = bool(relu)
        init = tf.random.stateless_uniform(
            [self.n_features, self.n_classes], seed=[seed, 0], minval=-1.0, maxval=1.0
        )
        self.W = tf.Variable(init, name="W")
        self.b = tf.Variable(tf.zeros([self.n_classes]), name="b")

    def logits(self, x: tf.Tensor) -> tf.Tensor:
        """Scores before the softmax, (N, n_classes); ReLU applied when ``relu`` is on."""
        with tf.name_scope("flatten"):
            x = tf.reshape(tf.cast(x, tf.float32), [-1, self.n_features])
        with tf.name_scope("logits"):
            z = tf.matmul(x, self.W) + self.b
        return tf.nn.relu(z, name="relu") if self.relu else z

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        """Class probabilities (N, n_classes) for images (N, H, W, C) or rows (N, n_features)."""
        return tf.nn.softmax(self.logits(x), name="softmax")


def cross_entropy(probabilities: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
    """Mean cross-entropy of integer labels ``y`` (N,) under ``probabilities`` (N, K).

    Written as in the course, ``-mean(sum(one_hot(y) * log(p)))``, with ``p`` clipped to
    [1e-7, 1] so that a probability of exactly zero gives a large loss instead of infinity.
    """
    with tf.name_scope("loss"):
        one_hot = tf.one_hot(y, depth=probabilities.shape[-1])
        log_p = tf.math.log(tf.clip_by_value(probabilities, 1e-7, 1.0))
        return -tf.reduce_mean(tf.reduce_sum(one_hot * log_p, axis=1))


def make_train_step(
    network: FirstNetwork, learning_rate: float
) -> tf.types.experimental.Function:
    """A compiled step ``step(x, y) -> loss``: one plain gradient-descent update of W and b."""

    @tf.function
    def train_step(x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            loss = cross_entropy(network(x), y)
        grad_w, grad_b = tape.gradient(loss, [network.W, network.b])
        with tf.name_scope("gradient_descent"):
            network.W.assign_sub(learning_rate * grad_w)
            network.b.assign_sub(learning_rate * grad_b)
        return loss

    return train_step


def train_first_network(
    x: np.ndarray,
    y: np.ndarray,
    steps: int = 100,
    learning_rate: float = 0.01,
    seed: int = 0,
    log_dir: str | Path | None = None,
    relu: bool = True,
    n_classes: int = 2,
    verbose: int = 1,
) -> tuple[FirstNetwork, list[float]]:
    """Train a :class:`FirstNetwork` by full-batch gradient descent; return it and the losses.

    ``x`` (N, H, W, C) or (N, n_features), float in [0, 1] (uint8 is divided by 255); ``y`` (N,)
    integer class ids. ``loss_history[i]`` is the loss before update ``i``. With ``log_dir``,
    the step's graph and the loss per step are written there for TensorBoard.
    """
    x_t, y_t = _as_batch(x, y, n_classes)
    network = FirstNetwork(x.shape[1:], n_classes=n_classes, seed=seed, relu=relu)
    step = make_train_step(network, learning_rate)
    writer = (
        tf.summary.create_file_writer(str(log_dir)) if log_dir is not None else None
    )
    losses: list[float] = []
    try:
        for i in tqdm(range(steps), desc="gradient descent", disable=not verbose):
            if writer is not None and i == 0:
                tf.summary.trace_on(graph=True)  # the first call traces the graph
            loss = step(x_t, y_t)
            losses.append(float(loss))
            if writer is not None:
                with writer.as_default():
                    if i == 0:
                        tf.summary.trace_export(name="train_step", step=0)
                    tf.summary.scalar("loss", loss, step=i)
    finally:
        if writer is not None:
            tf.summary.trace_off()
            writer.close()
    return network, losses


# Ops that only move shapes around or pass values through: hidden in graph_nodes' picture.
_HIDDEN_OPS = {"Const", "Identity", "NoOp", "ReadVariableOp"}
_GRADIENT_PLUMBING = {
    "Reshape",
    "Tile",
    "BroadcastTo",
    "ZerosLike",
    "OnesLike",
    "Fill",
    "Cast",
    "ExpandDims",
    "Squeeze",
    "SelectV2",
    "Select",
}


def graph_nodes(
    network: FirstNetwork,
    batch_shape: Sequence[int | None] = (None, 50, 50, 1),
    learning_rate: float = 0.01,
) -> list[dict[str, Any]]:
    """The ops of the traced training step, as ``{"name", "op", "inputs"}`` dicts to draw.

    The graph is the concrete function of :func:`make_train_step` for inputs of
    ``batch_shape``. Shape bookkeeping (integer/boolean ops), constants, identities and the
    gradient's reshaping plumbing are left out; an edge through a hidden op joins its nearest
    shown ancestors. The variables appear as nodes named after them (``"W"``, ``"b"``) with
    op ``"Variable"``; the inputs as ``"x"`` and ``"y"`` (op ``"Placeholder"``).
    """
    step = make_train_step(network, learning_rate)
    fn = step.get_concrete_function(
        tf.TensorSpec(list(batch_shape), tf.float32, name="x"),
        tf.TensorSpec([batch_shape[0]], tf.int64, name="y"),
    )
    graph = fn.graph
    variable_names = {id(v.handle): v.name.split(":")[0] for v in network.variables}
    renamed = {
        inner.op.name: variable_names[id(outer)]
        for outer, inner in graph.captures
        if id(outer) in variable_names
    }

    def shown(op: tf.Operation) -> bool:
        if op.name in renamed or op.type == "Placeholder":
            return True
        if op.type in _HIDDEN_OPS:
            return False
        if op.name.startswith("gradient_tape/") and op.type in _GRADIENT_PLUMBING:
            return False
        if op.type.endswith("VariableOp"):  # Assign*VariableOp: the update
            return True
        return any(t.dtype.is_floating for t in op.outputs)

    ops = graph.get_operations()
    keep = {op.name: shown(op) for op in ops}
    sources: dict[str, list[str]] = {}  # op name -> nearest shown ops feeding it

    def feeders(op: tf.Operation) -> list[str]:
        names: list[str] = []
        for tensor in op.inputs:
            src = tensor.op
            if keep[src.name]:
                found = [renamed.get(src.name, src.name)]
            elif tensor.dtype.is_floating or tensor.dtype == tf.resource:
                found = sources[src.name]
            else:  # a shape, an index or a mask: not part of the data flow
                found = []
            names += [n for n in found if n not in names]
        return names

    nodes = []
    for op in ops:  # get_operations() is in topological (creation) order
        sources[op.name] = feeders(op)
        if keep[op.name]:
            nodes.append(
                {
                    "name": renamed.get(op.name, op.name),
                    "op": "Variable" if op.name in renamed else op.type,
                    "inputs": sources[op.name],
                }
            )
    return nodes


def _as_batch(
    x: np.ndarray, y: np.ndarray, n_classes: int
) -> tuple[tf.Tensor, tf.Tensor]:
    x = np.asarray(x)
    y = np.asarray(y)
    if x.ndim < 2 or y.shape != (x.shape[0],):
        raise ValueError(f"need x (N, ...) and y (N,), got x {x.shape} and y {y.shape}")
    if not np.issubdtype(y.dtype, np.integer) or (
        y.size and (y.min() < 0 or y.max() >= n_classes)
    ):
        raise ValueError(
            f"labels must be integers in [0, {n_classes - 1}], got {y.dtype} "
            f"with values {np.unique(y)[:10]}"
        )
    xf = x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x.astype(np.float32)
    return tf.constant(xf), tf.constant(y.astype(np.int64))


# --------------------------------------------------------------------------------------------
# Keras builders
# --------------------------------------------------------------------------------------------


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


def compile_model(
    model: keras.Model,
    optimizer: str | keras.optimizers.Optimizer = "adam",
    learning_rate: float = 1e-3,
) -> keras.Model:
    """Compile ``model`` for integer labels: sparse categorical cross-entropy and accuracy.

    ``optimizer`` is ``"adam"``, ``"sgd"``, ``"rmsprop"`` or an optimizer instance (then
    ``learning_rate`` is ignored). Returns the same model.
    """
    if isinstance(optimizer, str):
        choices = {
            "adam": keras.optimizers.Adam,
            "sgd": keras.optimizers.SGD,
            "rmsprop": keras.optimizers.RMSprop,
        }
        if optimizer.lower() not in choices:
            raise ValueError(
                f"optimizer must be one of {sorted(choices)}, got {optimizer!r}"
            )
        optimizer = choices[optimizer.lower()](learning_rate=learning_rate)
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )
    return model


def build_mlp(
    input_shape: Sequence[int] = (50, 50, 1),
    n_classes: int = 2,
    dropout: float = 0.2,
    seed: int = 0,
) -> keras.Model:
    """Flatten, Dense 128 ReLU, Dropout, Dense softmax: 320,386 parameters on 50x50x1."""
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
    """The course CNN: three 3x3 convolutions of 16 filters, two max-pools, Dense softmax.

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
    Geometric transforms resample with ``nearest``: bilinear resampling blurs every training
    image (about half the fine grain at 50x50) while test images stay sharp, and a CNN trained
    on the blurred copies misjudges the sharp ones.
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
    """3x3 convolution (no bias), batch normalization, ReLU: the unit of the deeper CNNs."""
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
    """A stronger CNN: blocks of (Conv-BatchNorm-ReLU) x2 + MaxPool, global pooling, Dropout.

    With the default ``filters`` about 73k parameters (the course CNN has 7k, the MLP 320k);
    it trains on ~1,200 images at 50x50 in a couple of minutes on two CPU cores.
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


# --------------------------------------------------------------------------------------------
# Inspecting models
# --------------------------------------------------------------------------------------------


def count_params(model: keras.Model | tf.Module, trainable: bool | None = None) -> int:
    """Number of parameters: all (``trainable=None``), only trainable, or only frozen ones.

    Works for Keras models (BatchNorm statistics count as non-trainable) and ``tf.Module``s.
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
    """A plain-ASCII summary: one row per layer (name, type, output shape, params), totals.

    Same content as ``model.summary()`` without box-drawing characters, for any renderer.
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
