"""Transfer learning: a pretrained convolutional base with a new head; freezing and
fine-tuning.

The base is VGG-16 with ImageNet weights when they can be had; offline, a small base
that wastelab pretrains on synthetic scenes (:func:`pretrained_base`) stands in, and
one line says so.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from tqdm import tqdm  # text bars: no ipywidgets needed in notebooks
from tqdm.keras import TqdmCallback

from . import __version__
from .io import CaffePreprocess, save_model
from .models import _conv_bn_relu, _dense_out, _image_input, _Seeds, compile_model

CACHE_ENV = "WASTELAB_CACHE"
FALLBACK_MESSAGE = (
    "ImageNet weights unavailable (offline?): "
    "falling back to a base pretrained by wastelab on synthetic waste scenes"
)
VGG16_MIN_SIZE = 32
#: Source-task data for :func:`pretrained_base`: seeds far from the book's; balanced.
PRETRAIN_SEED_OFFSET = 10_000
#: How hard the source scenes are, as a fraction of every default challenge level.
SOURCE_DIFFICULTY = 0.3


def build_transfer(
    input_shape: Sequence[int] = (50, 50, 1),
    n_classes: int = 2,
    base: keras.Model | None = None,
    trainable: bool = False,
    dropout: float = 0.3,
    seed: int = 0,
    preprocessing: str = "auto",
) -> keras.Model:
    """A pretrained ``base`` with a new head: global pooling, dropout, Dense softmax.

    Images (N, H, W, C) in [0, 1] are resized to the base's input size, grayscale is
    repeated to 3 channels if the base wants them, and ``preprocessing`` adapts the
    pixel values: ``"caffe"`` (VGG-16's ImageNet convention), ``"none"`` (the base takes
    [0, 1], as :func:`pretrained_base` does) or ``"auto"`` (``"caffe"`` for a base named
    ``vgg16``). The base runs in inference mode (BatchNorm keeps its statistics) and is
    frozen unless ``trainable``; see :func:`set_trainable` for fine-tuning its last
    layers. Output: class probabilities (N, n_classes).
    """
    if base is None:
        raise ValueError(
            "build_transfer needs a pretrained base: "
            "base, source = load_vgg16_base(); build_transfer(base=base)"
        )
    if preprocessing == "auto":
        preprocessing = "caffe" if base.name == "vgg16" else "none"
    if preprocessing not in ("caffe", "none"):
        raise ValueError(
            f"preprocessing must be 'auto', 'caffe' or 'none', got {preprocessing!r}"
        )
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
        raise ValueError(
            f"cannot feed images with {channels} channels to a base expecting "
            f"{base_c}: input_shape {tuple(input_shape)}, "
            f"base input {base.inputs[0].shape}"
        )
    if preprocessing == "caffe":
        x = CaffePreprocess(name="caffe_preprocess")(x)
    set_trainable(base, bool(trainable))  # BatchNorm stays frozen either way
    x = base(x, training=False)
    x = keras.layers.GlobalAveragePooling2D(name="global_pool")(x)
    x = keras.layers.Dropout(dropout, seed=seeds(), name="dropout")(x)
    return keras.Model(
        inputs, _dense_out(n_classes, seeds)(x), name=f"transfer_{base.name}"
    )


def set_trainable(model_or_base: keras.Model, layers: bool | int) -> keras.Model:
    """Freeze or unfreeze a pretrained base for fine-tuning; returns ``model_or_base``.

    Given a transfer model, acts on its base (the nested model holding the most
    weights) and leaves the head alone; given a base, acts on it. ``layers``: ``False``
    freezes everything, ``True`` unfreezes everything, an int ``n`` freezes all but the
    last ``n`` layers that hold weights (pooling and BatchNorm layers do not count:
    ``3`` is VGG-16's last block). BatchNormalization layers always stay frozen, so
    they keep running in inference mode. Compile the model again afterwards for the
    change to reach training.
    """
    base = _find_base(model_or_base)
    weighted = [
        layer
        for layer in base.layers
        if layer.weights and not isinstance(layer, keras.layers.BatchNormalization)
    ]
    if isinstance(layers, bool):
        _set_flag(base, layers)
    elif isinstance(layers, int | np.integer) and 0 <= layers <= len(weighted):
        _set_flag(base, True)
        for layer in weighted[: len(weighted) - int(layers)]:
            _set_flag(layer, False)
    else:
        raise ValueError(
            f"layers must be True, False or an int in [0, {len(weighted)}] "
            f"(layers with weights in {base.name!r}, BatchNorm aside), "
            f"got {layers!r}"
        )
    for layer in base._flatten_layers(include_self=False):
        if isinstance(layer, keras.layers.BatchNormalization):
            _set_flag(layer, False)
    return model_or_base


def _set_flag(layer: keras.Layer, trainable: bool) -> None:
    # Visit every sublayer: with the TensorFlow backend, ``layer.trainable = True`` is
    # skipped when the flag is already True, even if sublayers below it are frozen.
    for sub in layer._flatten_layers(include_self=True):
        sub.trainable = trainable


def _find_base(model: keras.Model) -> keras.Model:
    nested = [
        layer
        for layer in model.layers
        if isinstance(layer, keras.Model) and layer.weights
    ]
    return max(nested, key=lambda m: m.count_params()) if nested else model


def load_vgg16_base(
    weights: str | Path | None = "imagenet",
    input_shape: Sequence[int] = (64, 64, 3),
    verbose: int = 1,
    pretrain: dict[str, Any] | None = None,
) -> tuple[keras.Model, str]:
    """VGG-16's convolutional base (no top) and where its weights came from.

    ``weights``: ``"imagenet"`` (Keras' download, kept in its cache), a local weights
    file, or ``None`` (random). Returns ``(base, source)`` with source ``"imagenet"``,
    the file path, ``"random"`` or ``"wastelab-synthetic"``: when ImageNet weights
    cannot be had (offline), one line says so and :func:`pretrained_base` (called with
    ``pretrain`` as keyword arguments) stands in. ``input_shape`` is (H, W, 3) with
    H, W >= 32; the base maps images (N, H, W, 3) to feature maps (N, H/32, W/32, 512).
    """
    shape = tuple(int(d) for d in input_shape)
    if len(shape) != 3 or shape[2] != 3 or min(shape[:2]) < VGG16_MIN_SIZE:
        raise ValueError(
            f"VGG-16 needs input_shape (H, W, 3) with H, W >= {VGG16_MIN_SIZE}, "
            f"got {shape}"
        )
    if weights is None:
        base = keras.applications.VGG16(
            include_top=False, weights=None, input_shape=shape
        )
        return base, "random"
    if str(weights) != "imagenet":
        path = Path(weights).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"VGG-16 weights file not found: {path}")
        base = keras.applications.VGG16(
            include_top=False, weights=str(path), input_shape=shape
        )
        return base, str(path)
    try:
        # silence Keras' "Downloading data from ..."
        with contextlib.redirect_stdout(io.StringIO()):
            base = keras.applications.VGG16(
                include_top=False, weights="imagenet", input_shape=shape
            )
        return base, "imagenet"
    except Exception:  # keras raises a bare Exception on a failed download
        if verbose:
            print(FALLBACK_MESSAGE)
    return pretrained_base(
        shape, verbose=verbose, **(pretrain or {})
    ), "wastelab-synthetic"


def conv_base(
    input_shape: Sequence[int] = (64, 64, 3),
    filters: Sequence[int] = (16, 32, 64, 128),
    seed: int = 0,
    name: str = "wastelab_base",
) -> keras.Model:
    """A compact VGG-style base: per block Conv 3x3 - BatchNorm - ReLU - MaxPool 2.

    (N, H, W, C) in [0, 1] -> feature maps (N, H / 2**k, W / 2**k, filters[-1]) for k
    blocks; about 98k parameters with the defaults. Layer names follow VGG-16's
    (``block1_conv1``, ...).
    """
    seeds = _Seeds(seed)
    inputs = keras.Input(shape=tuple(int(d) for d in input_shape), name="image")
    x = inputs
    for b, n_filters in enumerate(filters, start=1):
        x = _conv_bn_relu(x, n_filters, f"block{b}", 1, seeds)
        x = keras.layers.MaxPooling2D(2, name=f"block{b}_pool")(x)
    return keras.Model(inputs, x, name=name)


def pretrained_base(
    input_shape: Sequence[int] = (64, 64, 3),
    seed: int = 0,
    epochs: int = 6,
    n: int = 2000,
    batch_size: int = 64,
    verbose: int = 0,
    cache: bool = True,
) -> keras.Model:
    """A :func:`conv_base` pretrained by wastelab on a source task of synthetic scenes.

    The source task (see :func:`source_scenes`): tell bottle scenes from others on
    ``n`` easier, half-colour scenes at ``input_shape``, seeds ``seed + 10_000`` (never
    the book's data). Trained ``epochs`` epochs with Adam; under a minute on two CPU
    cores. The base is cached as a ``.keras`` file in :func:`cache_dir` and loaded from
    there next time.
    Returns the base alone: (N, H, W, C) in [0, 1] -> feature maps.
    """
    shape = tuple(int(d) for d in input_shape)
    if len(shape) != 3 or shape[2] not in (1, 3):
        raise ValueError(f"input_shape must be (H, W, 1|3), got {shape}")
    path = cache_dir() / (
        f"pretrained_base-{shape[0]}x{shape[1]}x{shape[2]}-n{n}-e{epochs}"
        f"-b{batch_size}-seed{seed}-v{__version__}.keras"
    )
    if cache and path.is_file():
        return keras.saving.load_model(path, safe_mode=True)
    x, y = source_scenes(shape, n=n, seed=seed, verbose=verbose)
    data = (
        tf.data.Dataset.from_tensor_slices((x, y))
        .shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size)
        .map(lambda a, b: (tf.cast(a, tf.float32) / 255.0, b))
        .prefetch(2)
    )
    base = conv_base(shape, seed=seed)
    seeds = _Seeds(seed + PRETRAIN_SEED_OFFSET)
    features = keras.layers.GlobalAveragePooling2D(name="global_pool")(base.output)
    source_model = keras.Model(
        base.input, _dense_out(2, seeds)(features), name="source_task"
    )
    compile_model(source_model, learning_rate=3e-3)
    progress = [
        TqdmCallback(epochs, verbose=0, tqdm_class=tqdm, desc="pretraining base")
    ]
    source_model.fit(
        data,
        epochs=epochs,
        shuffle=False,
        verbose=0,
        callbacks=progress if verbose else [],
    )
    if cache:
        save_model(base, path)
    return base


def source_scenes(
    input_shape: Sequence[int] = (64, 64, 3),
    n: int = 2000,
    seed: int = 0,
    verbose: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """The source task of :func:`pretrained_base`: x uint8 (n, H, W, C), y int64 (n,).

    Scenes from ``make_scenes`` with seeds ``seed + 10_000``, half of them bottle
    scenes, every challenge at ``SOURCE_DIFFICULTY`` (0.3) of its default, so a small
    base learns bottle features within a minute. In colour (C == 3) a seeded half of
    the images is turned to gray (repeated to three channels), so the features also
    serve grayscale targets.
    """
    # imported here: only the fallback needs the synthetic scenes
    from .data.synthetic import Challenges, make_scenes

    shape = tuple(int(d) for d in input_shape)
    easier = Challenges(
        **{k: v * SOURCE_DIFFICULTY for k, v in Challenges().as_dict().items()}
    )
    x, y, _ = make_scenes(
        n=n,
        bottle_share=0.5,
        seed=seed + PRETRAIN_SEED_OFFSET,
        size=shape[:2],
        color="rgb" if shape[2] == 3 else "gray",
        challenges=easier,
        verbose=verbose,
    )
    if shape[2] == 3:
        gray = np.random.default_rng(seed + PRETRAIN_SEED_OFFSET).random(n) < 0.5
        # ITU-R BT.601 luma weights, as PIL's "L" mode
        luma = np.rint(x[gray] @ np.array([0.299, 0.587, 0.114]))
        x[gray] = np.repeat(luma[..., None], 3, axis=-1).astype(np.uint8)
    return x, y.astype(np.int64)


def cache_dir() -> Path:
    """Where wastelab caches downloads and pretrained models: ``$WASTELAB_CACHE`` or
    ``~/.cache/wastelab``."""
    return Path(
        os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "wastelab"
    ).expanduser()
