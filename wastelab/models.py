"""TensorFlow 2 / Keras 3 models: the course's first network, MLP, CNNs and transfer learning.

Every ``build_*`` function returns an uncompiled ``keras.Model`` that maps float32 images in
[0, 1] of shape (N, H, W, C) to class probabilities (N, n_classes) (softmax outputs). Weights are
drawn from seeded initializers, so the same ``seed`` gives the same initial weights.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from tqdm import tqdm  # text bars: no ipywidgets needed in notebooks

from . import __version__

CACHE_ENV = "WASTELAB_CACHE"
FALLBACK_MESSAGE = (
    "ImageNet weights unavailable (offline?): "
    "falling back to a base pretrained by wastelab on synthetic waste scenes"
)
VGG16_MIN_SIZE = 32
#: BatchNorm's moving averages follow the batches faster than Keras' 0.99: the book trains for
#: a few hundred steps, and slow averages make inference-mode predictions lag behind training.
BN_MOMENTUM = 0.9
#: Mean pixel of ImageNet in BGR order, 0-255 scale (the "caffe" preprocessing of VGG-16).
IMAGENET_MEAN_BGR = (103.939, 116.779, 123.68)
#: Source-task data for :func:`pretrained_base`: seeds far from the book's, balanced classes.
PRETRAIN_SEED_OFFSET = 10_000
#: How hard the source scenes are, as a fraction of every default challenge level.
SOURCE_DIFFICULTY = 0.3

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

    def __init__(self, input_shape: Sequence[int] = (50, 50, 1), n_classes: int = 2,
                 seed: int = 0, relu: bool = True, name: str = "first_network") -> None:
        super().__init__(name=name)
        self.input_shape = tuple(int(d) for d in input_shape)
        self.n_features = math.prod(self.input_shape)
        self.n_classes = int(n_classes)
        self.relu = bool(relu)
        init = tf.random.stateless_uniform([self.n_features, self.n_classes], seed=[seed, 0],
                                           minval=-1.0, maxval=1.0)
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


def make_train_step(network: FirstNetwork, learning_rate: float) -> tf.types.experimental.Function:
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
    x: np.ndarray, y: np.ndarray, steps: int = 100, learning_rate: float = 0.01, seed: int = 0,
    log_dir: str | Path | None = None, relu: bool = True, n_classes: int = 2, verbose: int = 1,
) -> tuple[FirstNetwork, list[float]]:
    """Train a :class:`FirstNetwork` by full-batch gradient descent; return it and the losses.

    ``x`` (N, H, W, C) or (N, n_features), float in [0, 1] (uint8 is divided by 255); ``y`` (N,)
    integer class ids. ``loss_history[i]`` is the loss before update ``i``. With ``log_dir``,
    the step's graph and the loss per step are written there for TensorBoard.
    """
    x_t, y_t = _as_batch(x, y, n_classes)
    network = FirstNetwork(x.shape[1:], n_classes=n_classes, seed=seed, relu=relu)
    step = make_train_step(network, learning_rate)
    writer = tf.summary.create_file_writer(str(log_dir)) if log_dir is not None else None
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
    "Reshape", "Tile", "BroadcastTo", "ZerosLike", "OnesLike", "Fill", "Cast", "ExpandDims",
    "Squeeze", "SelectV2", "Select",
}


def graph_nodes(network: FirstNetwork, batch_shape: Sequence[int | None] = (None, 50, 50, 1),
                learning_rate: float = 0.01) -> list[dict[str, Any]]:
    """The ops of the traced training step, as ``{"name", "op", "inputs"}`` dicts to draw.

    The graph is the concrete function of :func:`make_train_step` for inputs of
    ``batch_shape``. Shape bookkeeping (integer/boolean ops), constants, identities and the
    gradient's reshaping plumbing are left out; an edge through a hidden op joins its nearest
    shown ancestors. The variables appear as nodes named after them (``"W"``, ``"b"``) with
    op ``"Variable"``; the inputs as ``"x"`` and ``"y"`` (op ``"Placeholder"``).
    """
    step = make_train_step(network, learning_rate)
    fn = step.get_concrete_function(tf.TensorSpec(list(batch_shape), tf.float32, name="x"),
                                    tf.TensorSpec([batch_shape[0]], tf.int64, name="y"))
    graph = fn.graph
    variable_names = {id(v.handle): v.name.split(":")[0] for v in network.variables}
    renamed = {inner.op.name: variable_names[id(outer)]
               for outer, inner in graph.captures if id(outer) in variable_names}

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
            nodes.append({"name": renamed.get(op.name, op.name),
                          "op": "Variable" if op.name in renamed else op.type,
                          "inputs": sources[op.name]})
    return nodes


def _as_batch(x: np.ndarray, y: np.ndarray, n_classes: int) -> tuple[tf.Tensor, tf.Tensor]:
    x = np.asarray(x)
    y = np.asarray(y)
    if x.ndim < 2 or y.shape != (x.shape[0],):
        raise ValueError(f"need x (N, ...) and y (N,), got x {x.shape} and y {y.shape}")
    if not np.issubdtype(y.dtype, np.integer) or (y.size and (y.min() < 0 or y.max() >= n_classes)):
        raise ValueError(f"labels must be integers in [0, {n_classes - 1}], got {y.dtype} "
                         f"with values {np.unique(y)[:10]}")
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
    return keras.layers.Dense(n_classes, activation="softmax", dtype="float32",
                              kernel_initializer=keras.initializers.GlorotUniform(seeds()),
                              name="probabilities")


def _image_input(input_shape: Sequence[int]) -> keras.KerasTensor:
    input_shape = tuple(int(d) for d in input_shape)
    if len(input_shape) != 3:
        raise ValueError(f"input_shape must be (H, W, C), got {input_shape}")
    return keras.Input(shape=input_shape, name="image")


def compile_model(model: keras.Model, optimizer: str | keras.optimizers.Optimizer = "adam",
                  learning_rate: float = 1e-3) -> keras.Model:
    """Compile ``model`` for integer labels: sparse categorical cross-entropy and accuracy.

    ``optimizer`` is ``"adam"``, ``"sgd"``, ``"rmsprop"`` or an optimizer instance (then
    ``learning_rate`` is ignored). Returns the same model.
    """
    if isinstance(optimizer, str):
        choices = {"adam": keras.optimizers.Adam, "sgd": keras.optimizers.SGD,
                   "rmsprop": keras.optimizers.RMSprop}
        if optimizer.lower() not in choices:
            raise ValueError(f"optimizer must be one of {sorted(choices)}, got {optimizer!r}")
        optimizer = choices[optimizer.lower()](learning_rate=learning_rate)
    model.compile(optimizer=optimizer, loss=keras.losses.SparseCategoricalCrossentropy(),
                  metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
    return model


def build_mlp(input_shape: Sequence[int] = (50, 50, 1), n_classes: int = 2, dropout: float = 0.2,
              seed: int = 0) -> keras.Model:
    """Flatten, Dense 128 ReLU, Dropout, Dense softmax: 320,386 parameters on 50x50x1."""
    seeds = _Seeds(seed)
    inputs = _image_input(input_shape)
    x = keras.layers.Flatten(name="flatten")(inputs)
    x = keras.layers.Dense(128, activation="relu", name="hidden",
                           kernel_initializer=keras.initializers.GlorotUniform(seeds()))(x)
    x = keras.layers.Dropout(dropout, seed=seeds(), name="dropout")(x)
    return keras.Model(inputs, _dense_out(n_classes, seeds)(x), name="mlp")


def build_cnn(input_shape: Sequence[int] = (50, 50, 1), n_classes: int = 2,
              seed: int = 0) -> keras.Model:
    """The course CNN: three 3x3 convolutions of 16 filters, two max-pools, Dense softmax.

    On 50x50x1: 50 -(same conv, pool)-> 25 -(conv)-> 23 -(pool)-> 11 -(conv)-> 9, so
    9*9*16 = 1,296 features; 160 + 2,320 + 2,320 + 2,594 = 7,394 parameters.
    """
    seeds = _Seeds(seed)
    inputs = _image_input(input_shape)
    x = inputs
    for i, padding in enumerate(("same", "valid", "valid"), start=1):
        x = keras.layers.Conv2D(16, 3, padding=padding, activation="relu", name=f"conv{i}",
                                kernel_initializer=keras.initializers.GlorotUniform(seeds()))(x)
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
    return keras.Sequential([
        keras.layers.RandomFlip("horizontal", seed=seed * 10 + 1, name="flip"),
        keras.layers.RandomRotation(0.05, interpolation="nearest", seed=seed * 10 + 2,
                                    name="rotate"),
        keras.layers.RandomZoom(0.1, interpolation="nearest", seed=seed * 10 + 3, name="zoom"),
        keras.layers.RandomTranslation(0.1, 0.1, interpolation="nearest", seed=seed * 10 + 4,
                                       name="shift"),
        keras.layers.RandomContrast(0.2, value_range=(0.0, 1.0), seed=seed * 10 + 5,
                                    name="contrast"),
    ], name="augmentation")


def _conv_bn_relu(x: keras.KerasTensor, n_filters: int, block: str, index: int,
                  seeds: _Seeds) -> keras.KerasTensor:
    """3x3 convolution (no bias), batch normalization, ReLU: the unit of the deeper CNNs."""
    x = keras.layers.Conv2D(n_filters, 3, padding="same", use_bias=False,
                            kernel_initializer=keras.initializers.HeNormal(seeds()),
                            name=f"{block}_conv{index}")(x)
    x = keras.layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{block}_bn{index}")(x)
    return keras.layers.ReLU(name=f"{block}_relu{index}")(x)


def build_strong_cnn(input_shape: Sequence[int] = (50, 50, 1), n_classes: int = 2,
                     augment: bool = False, seed: int = 0, filters: Sequence[int] = (16, 32, 64),
                     dropout: float = 0.3) -> keras.Model:
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
# Transfer learning
# --------------------------------------------------------------------------------------------


@keras.saving.register_keras_serializable(package="wastelab")
class CaffePreprocess(keras.layers.Layer):
    """VGG-16's input convention for RGB in [0, 1]: scale to 0-255, RGB -> BGR, subtract mean."""

    def call(self, inputs):
        x = inputs * 255.0
        x = keras.ops.flip(x, axis=-1)
        return x - keras.ops.convert_to_tensor(IMAGENET_MEAN_BGR, dtype=x.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape


def build_transfer(input_shape: Sequence[int] = (50, 50, 1), n_classes: int = 2,
                   base: keras.Model | None = None, trainable: bool = False,
                   dropout: float = 0.3, seed: int = 0, preprocessing: str = "auto") -> keras.Model:
    """A pretrained ``base`` with a new head: GlobalAveragePooling, Dropout, Dense softmax.

    Images (N, H, W, C) in [0, 1] are resized to the base's input size, grayscale is repeated
    to 3 channels if the base wants them, and ``preprocessing`` adapts the pixel values:
    ``"caffe"`` (VGG-16's ImageNet convention), ``"none"`` (the base takes [0, 1], as
    :func:`pretrained_base` does) or ``"auto"`` (``"caffe"`` for a base named ``vgg16``).
    The base runs in inference mode (BatchNorm keeps its statistics) and is frozen unless
    ``trainable``; see :func:`set_trainable` for fine-tuning its last layers.
    """
    if base is None:
        raise ValueError("build_transfer needs a pretrained base: "
                         "base, source = load_vgg16_base(); build_transfer(base=base)")
    if preprocessing == "auto":
        preprocessing = "caffe" if base.name == "vgg16" else "none"
    if preprocessing not in ("caffe", "none"):
        raise ValueError(f"preprocessing must be 'auto', 'caffe' or 'none', got {preprocessing!r}")
    seeds = _Seeds(seed)
    inputs = _image_input(input_shape)
    _, base_h, base_w, base_c = base.inputs[0].shape
    height, width, channels = inputs.shape[1:]
    x = inputs
    if None not in (base_h, base_w) and (base_h, base_w) != (height, width):
        x = keras.layers.Resizing(base_h, base_w, name="resize")(x)
    if channels == 1 and base_c == 3:
        x = keras.layers.Concatenate(name="gray_to_rgb")([x, x, x])
    elif base_c is not None and channels != base_c:
        raise ValueError(f"cannot feed images with {channels} channels to a base expecting "
                         f"{base_c}: input_shape {tuple(input_shape)}, "
                         f"base input {base.inputs[0].shape}")
    if preprocessing == "caffe":
        x = CaffePreprocess(name="caffe_preprocess")(x)
    set_trainable(base, bool(trainable))  # BatchNorm stays frozen either way
    x = base(x, training=False)
    x = keras.layers.GlobalAveragePooling2D(name="global_pool")(x)
    x = keras.layers.Dropout(dropout, seed=seeds(), name="dropout")(x)
    return keras.Model(inputs, _dense_out(n_classes, seeds)(x), name=f"transfer_{base.name}")


def set_trainable(model_or_base: keras.Model, layers: bool | int) -> keras.Model:
    """Freeze or unfreeze a pretrained base for fine-tuning; returns ``model_or_base``.

    Given a transfer model, acts on its base (the nested model holding the most weights) and
    leaves the head alone; given a base, acts on it. ``layers``: ``False`` freezes everything,
    ``True`` unfreezes everything, an int ``n`` freezes all but the last ``n`` layers that hold
    weights (pooling and BatchNorm layers do not count: ``3`` is VGG-16's last block).
    BatchNormalization layers always stay frozen, so they keep running in inference mode.
    Compile the model again afterwards for the change to reach training.
    """
    base = _find_base(model_or_base)
    weighted = [layer for layer in base.layers
                if layer.weights and not isinstance(layer, keras.layers.BatchNormalization)]
    if isinstance(layers, bool):
        _set_flag(base, layers)
    elif isinstance(layers, int | np.integer) and 0 <= layers <= len(weighted):
        _set_flag(base, True)
        for layer in weighted[: len(weighted) - int(layers)]:
            _set_flag(layer, False)
    else:
        raise ValueError(f"layers must be True, False or an int in [0, {len(weighted)}] "
                         f"(layers with weights in {base.name!r}, BatchNorm aside), "
                         f"got {layers!r}")
    for layer in base._flatten_layers(include_self=False):
        if isinstance(layer, keras.layers.BatchNormalization):
            _set_flag(layer, False)
    return model_or_base


def _set_flag(layer: keras.Layer, trainable: bool) -> None:
    # Visit every sublayer: with the TensorFlow backend, ``layer.trainable = True`` is skipped
    # when the flag is already True, even if sublayers below it are frozen.
    for sub in layer._flatten_layers(include_self=True):
        sub.trainable = trainable


def _find_base(model: keras.Model) -> keras.Model:
    nested = [layer for layer in model.layers if isinstance(layer, keras.Model) and layer.weights]
    return max(nested, key=lambda m: m.count_params()) if nested else model


def load_vgg16_base(weights: str | Path | None = "imagenet",
                    input_shape: Sequence[int] = (64, 64, 3), verbose: int = 1,
                    pretrain: dict[str, Any] | None = None) -> tuple[keras.Model, str]:
    """VGG-16's convolutional base (no top) and where its weights came from.

    ``weights``: ``"imagenet"`` (Keras' download/cache), a local weights file, or ``None``
    (random). Returns ``(base, source)`` with source ``"imagenet"``, the file path, ``"random"``
    or ``"wastelab-synthetic"``: when ImageNet weights cannot be had (offline), one line says
    so and :func:`pretrained_base` (called with ``pretrain`` as keyword arguments) stands in.
    ``input_shape`` is (H, W, 3) with H, W >= 32.
    """
    shape = tuple(int(d) for d in input_shape)
    if len(shape) != 3 or shape[2] != 3 or min(shape[:2]) < VGG16_MIN_SIZE:
        raise ValueError(f"VGG-16 needs input_shape (H, W, 3) with H, W >= {VGG16_MIN_SIZE}, "
                         f"got {shape}")
    if weights is None:
        base = keras.applications.VGG16(include_top=False, weights=None, input_shape=shape)
        return base, "random"
    if str(weights) != "imagenet":
        path = Path(weights).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"VGG-16 weights file not found: {path}")
        base = keras.applications.VGG16(include_top=False, weights=str(path), input_shape=shape)
        return base, str(path)
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # Keras' "Downloading data from ..."
            base = keras.applications.VGG16(include_top=False, weights="imagenet",
                                            input_shape=shape)
        return base, "imagenet"
    except Exception:  # keras raises a bare Exception on a failed download
        if verbose:
            print(FALLBACK_MESSAGE)
    return pretrained_base(shape, verbose=verbose, **(pretrain or {})), "wastelab-synthetic"


def conv_base(input_shape: Sequence[int] = (64, 64, 3), filters: Sequence[int] = (16, 32, 64, 128),
              seed: int = 0, name: str = "wastelab_base") -> keras.Model:
    """A compact VGG-style base: per block Conv 3x3 - BatchNorm - ReLU - MaxPool 2.

    (N, H, W, C) in [0, 1] -> feature maps (N, H / 2**k, W / 2**k, filters[-1]); about 98k
    parameters with the defaults. Layer names follow VGG-16's (``block1_conv1``, ...).
    """
    seeds = _Seeds(seed)
    inputs = keras.Input(shape=tuple(int(d) for d in input_shape), name="image")
    x = inputs
    for b, n_filters in enumerate(filters, start=1):
        x = _conv_bn_relu(x, n_filters, f"block{b}", 1, seeds)
        x = keras.layers.MaxPooling2D(2, name=f"block{b}_pool")(x)
    return keras.Model(inputs, x, name=name)


def pretrained_base(input_shape: Sequence[int] = (64, 64, 3), seed: int = 0, epochs: int = 6,
                    n: int = 2000, batch_size: int = 64, verbose: int = 0,
                    cache: bool = True) -> keras.Model:
    """A :func:`conv_base` pretrained by wastelab on a source task of synthetic scenes.

    The source task (see :func:`source_scenes`): tell bottle scenes from others on ``n``
    easier, half-colour scenes at ``input_shape``, seeds ``seed + 10_000`` (never the book's
    data). Trained ``epochs`` epochs with Adam; under a minute on two CPU cores. The base is
    cached as a ``.keras`` file in :func:`cache_dir` and loaded from there next time.
    Returns the base alone: (N, H, W, C) in [0, 1] -> feature maps.
    """
    shape = tuple(int(d) for d in input_shape)
    if len(shape) != 3 or shape[2] not in (1, 3):
        raise ValueError(f"input_shape must be (H, W, 1|3), got {shape}")
    path = cache_dir() / (f"pretrained_base-{shape[0]}x{shape[1]}x{shape[2]}-n{n}-e{epochs}"
                          f"-b{batch_size}-seed{seed}-v{__version__}.keras")
    if cache and path.is_file():
        return keras.saving.load_model(path, safe_mode=True)
    x, y = source_scenes(shape, n=n, seed=seed, verbose=verbose)
    data = (tf.data.Dataset.from_tensor_slices((x, y))
            .shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
            .batch(batch_size)
            .map(lambda a, b: (tf.cast(a, tf.float32) / 255.0, b))
            .prefetch(2))
    base = conv_base(shape, seed=seed)
    seeds = _Seeds(seed + PRETRAIN_SEED_OFFSET)
    features = keras.layers.GlobalAveragePooling2D(name="global_pool")(base.output)
    source_model = keras.Model(base.input, _dense_out(2, seeds)(features), name="source_task")
    compile_model(source_model, learning_rate=3e-3)
    progress = _EpochBar(epochs, "pretraining base") if verbose else None
    source_model.fit(data, epochs=epochs, shuffle=False, verbose=0,
                     callbacks=[progress] if progress else [])
    if progress:
        progress.close()
    if cache:
        from .training import save_model

        save_model(base, path)
    return base


def source_scenes(input_shape: Sequence[int] = (64, 64, 3), n: int = 2000, seed: int = 0,
                  verbose: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The source task of :func:`pretrained_base`: x uint8 (n, H, W, C), y int64 (n,).

    Scenes from ``make_scenes`` with seeds ``seed + 10_000``, half of them bottle scenes, every
    challenge at ``SOURCE_DIFFICULTY`` (0.3) of its default, so a small base learns bottle
    features within a minute. In colour (C == 3) a seeded half of the images is turned to gray
    (repeated to three channels), so the features also serve grayscale targets.
    """
    from .data.synthetic import Challenges, make_scenes  # lazy: only the fallback needs it

    shape = tuple(int(d) for d in input_shape)
    easier = Challenges(**{k: v * SOURCE_DIFFICULTY for k, v in Challenges().as_dict().items()})
    x, y, _ = make_scenes(n=n, bottle_share=0.5, seed=seed + PRETRAIN_SEED_OFFSET,
                          size=shape[:2], color="rgb" if shape[2] == 3 else "gray",
                          challenges=easier, verbose=verbose)
    if shape[2] == 3:
        gray = np.random.default_rng(seed + PRETRAIN_SEED_OFFSET).random(n) < 0.5
        luma = np.rint(x[gray] @ np.array([0.299, 0.587, 0.114]))  # ITU-R 601, as PIL's "L"
        x[gray] = np.repeat(luma[..., None], 3, axis=-1).astype(np.uint8)
    return x, y.astype(np.int64)


def cache_dir() -> Path:
    """Where wastelab caches downloads and pretrained models: ``$WASTELAB_CACHE`` or
    ``~/.cache/wastelab``."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "wastelab").expanduser()


class _EpochBar(keras.callbacks.Callback):
    """A tqdm bar over epochs showing the training loss and accuracy."""

    def __init__(self, epochs: int, desc: str) -> None:
        super().__init__()
        self.bar = tqdm(total=epochs, desc=desc, unit="epoch")

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.bar.set_postfix({k: f"{v:.3f}" for k, v in (logs or {}).items()})
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()


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
        groups = {True: list(model.trainable_variables),
                  False: [v for v in model.variables if id(v) not in train_ids]}
    chosen = groups[True] + groups[False] if trainable is None else groups[bool(trainable)]
    return int(sum(math.prod(v.shape) for v in chosen))


def describe(model: keras.Model) -> str:
    """A plain-ASCII summary: one row per layer (name, type, output shape, params), totals.

    Same content as ``model.summary()`` without box-drawing characters, for any renderer.
    """
    rows = [("layer", "type", "output shape", "params")]
    for layer in model.layers:
        rows.append((layer.name, type(layer).__name__, _output_shape(layer),
                     f"{count_params(layer):,}"))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]

    def line(row: tuple[str, ...]) -> str:
        cells = [row[i].ljust(widths[i]) for i in range(3)] + [row[3].rjust(widths[3])]
        return "  ".join(cells).rstrip()

    rule = "-" * (sum(widths) + 2 * 3)
    total, train = count_params(model), count_params(model, trainable=True)
    out = [f'Model "{model.name}"', rule, line(rows[0]), rule.replace("-", "=")]
    out += [line(r) for r in rows[1:]]
    out += [rule, f"Total params: {total:,}", f"Trainable params: {train:,}",
            f"Non-trainable params: {total - train:,}"]
    return "\n".join(out)


def _output_shape(layer: keras.Layer) -> str:
    try:
        shape = layer.output.shape
    except (AttributeError, ValueError):  # unused, or called more than once
        return "?"
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"
