"""Saving and loading Keras models, with wastelab's custom layer registered."""

from __future__ import annotations

from pathlib import Path

import keras

from .atomic import atomic_write

#: Mean pixel of ImageNet in BGR order, 0-255 scale (VGG-16's "caffe" preprocessing).
IMAGENET_MEAN_BGR = (103.939, 116.779, 123.68)


@keras.saving.register_keras_serializable(package="wastelab")
class CaffePreprocess(keras.layers.Layer):
    """VGG-16's input convention for RGB in [0, 1]: to 0-255, RGB -> BGR, minus mean."""

    def call(self, inputs):
        x = inputs * 255.0
        x = keras.ops.flip(x, axis=-1)
        return x - keras.ops.convert_to_tensor(IMAGENET_MEAN_BGR, dtype=x.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape


def save_model(model: keras.Model, path: str | Path) -> Path:
    """Save ``model`` to a ``.keras`` file atomically (a temporary file, renamed)."""
    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"model files must end in .keras, got {path}")
    return atomic_write(path, lambda tmp: model.save(tmp), suffix=".keras")


def load_model(path: str | Path) -> keras.Model:
    """Load a ``.keras`` model with ``safe_mode=True`` (no code from the file runs).

    Raises FileNotFoundError if ``path`` is missing, ValueError if it is no model file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model file not found: {path}")
    if path.suffix != ".keras":
        raise ValueError(f"model files must end in .keras, got {path}")
    try:
        return keras.models.load_model(path, safe_mode=True)
    except Exception as err:  # Keras raises many kinds for a bad file
        raise ValueError(
            f"{path}: not a loadable Keras model ({type(err).__name__}: {err})"
        ) from err
