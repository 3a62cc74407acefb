"""Saving and loading ``Splits`` as ``.npz`` files: atomic, no pickles, checked."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np

from .. import __version__
from ..atomic import atomic_write
from .splits import SPLIT_NAMES, Splits

FORMAT = "wastelab-splits/1"
_ARRAYS = [f"{p}_{s}" for s in SPLIT_NAMES for p in ("x", "y")]


def save_splits(splits: Splits, path: str | Path) -> Path:
    """Write ``splits`` to an uncompressed ``.npz``, its metadata as a JSON string."""
    meta = {
        **splits.meta,
        "format": FORMAT,
        "class_names": list(splits.class_names),
        "image_shape": list(splits.image_shape),
        "wastelab_version": __version__,
    }
    arrays = {name: getattr(splits, name) for name in _ARRAYS}
    arrays["meta"] = np.array(json.dumps(meta, sort_keys=True))

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)

    return atomic_write(path, write)


def load_splits(path: str | Path) -> Splits:
    """Read a ``.npz`` written by :func:`save_splits`: no pickles, every array checked.

    Raises ``FileNotFoundError`` or ``ValueError`` naming the file and what is wrong.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"data file not found: {path}")
    if not zipfile.is_zipfile(path):  # np.load would try it as a pickle
        raise ValueError(
            f"{path}: not an .npz file (no zip archive); expected a file written by "
            "`wastelab data prepare` or save_splits"
        )
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [k for k in [*_ARRAYS, "meta"] if k not in npz.files]
            if missing:
                raise ValueError(
                    f"{path}: missing arrays {missing}; is this a wastelab .npz?"
                )
            arrays = {k: npz[k] for k in _ARRAYS}
            meta = json.loads(str(npz["meta"]))
    except ValueError as err:
        if str(path) in str(err):
            raise
        # numpy raises ValueError on object arrays when allow_pickle=False
        raise ValueError(f"{path}: unreadable or unsafe .npz ({err})") from err
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        raise ValueError(f"{path}: not a valid .npz file ({err})") from err
    if not isinstance(meta, dict) or "class_names" not in meta:
        raise ValueError(f"{path}: metadata lacks 'class_names'")
    class_names = tuple(meta.pop("class_names"))
    try:
        return Splits(**arrays, class_names=class_names, meta=meta)
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from err
