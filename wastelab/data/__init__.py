"""Data: sources (TACO, folders, synthetic), splits, .npz cache, tf.data pipeline."""

from .cache import load_splits, save_splits
from .images import crop, read_image, to_array
from .prepare import DATA_ENV, SOURCES, load_default, prepare
from .splits import (
    BOTTLE_CLASSES,
    SPLIT_NAMES,
    Splits,
    stratified_split,
    validate_arrays,
)

__all__ = [
    "BOTTLE_CLASSES",
    "DATA_ENV",
    "SOURCES",
    "SPLIT_NAMES",
    "Splits",
    "crop",
    "load_default",
    "load_splits",
    "prepare",
    "read_image",
    "save_splits",
    "stratified_split",
    "to_array",
    "validate_arrays",
]
