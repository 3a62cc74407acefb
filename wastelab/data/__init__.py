"""Data: sources (TACO, class folders, synthetic scenes), splits, ``.npz`` cache, tf.data pipeline."""

from .cache import atomic_write, load_splits, save_splits
from .images import crop, read_image, to_array
from .splits import BOTTLE_CLASSES, SPLIT_NAMES, Splits, stratified_split, validate_arrays

__all__ = [
    "BOTTLE_CLASSES", "SPLIT_NAMES", "Splits", "atomic_write", "crop", "load_splits",
    "read_image", "save_splits", "stratified_split", "to_array", "validate_arrays",
]
