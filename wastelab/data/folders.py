"""Images sorted into a folder per class (``root/<class>/*.jpg``, TrashNet's layout)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm  # text bars: no ipywidgets needed in notebooks

from .images import channels, read_image, to_array

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def list_class_folders(root: str | Path) -> dict[str, list[Path]]:
    """Map each class folder name under ``root`` to its sorted image files.

    Hidden entries (names starting with ".") and files with other suffixes than
    ``IMAGE_SUFFIXES`` (any case) are ignored. Raises ``FileNotFoundError`` if ``root``
    is missing and ``ValueError`` if it holds no class folder or a class folder holds no
    image.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"image folder not found: {root}")
    folders = sorted(
        p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")
    )
    if not folders:
        raise ValueError(
            f"{root}: no class folders; expected {root}/<class_name>/*.jpg"
        )
    classes: dict[str, list[Path]] = {}
    for folder in folders:
        files = sorted(
            p
            for p in folder.iterdir()
            if p.is_file()
            and not p.name.startswith(".")
            and p.suffix.lower() in IMAGE_SUFFIXES
        )
        if not files:
            raise ValueError(
                f"class folder {folder} has no images "
                f"({', '.join(IMAGE_SUFFIXES)}, any case)"
            )
        classes[folder.name] = files
    return classes


def load_folders(
    root: str | Path,
    positive: str | Iterable[str] = ("bottle",),
    size: tuple[int, int] = (50, 50),
    color: str = "gray",
    verbose: int = 1,
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Load ``root/<class>/*.jpg|jpeg|png`` as ``uint8`` arrays with binary labels.

    Label 1 for images in folders named in ``positive`` (case-insensitive), 0 for the
    rest. Folders and files are read in sorted order, so the result is deterministic.

    Returns ``x`` uint8 of shape (N, H, W, C) with (H, W) = ``size`` and C = 1 for
    ``"gray"``, 3 for ``"rgb"``; ``y`` int64 of shape (N,); and ``meta`` with the
    source, root, image count per folder and the folder names taken as positive. Raises
    ``FileNotFoundError`` for a missing root and ``ValueError`` naming the folder or
    file for an empty class folder, a ``positive`` that names no folder or every folder
    (one class only), or an unreadable image.
    """
    n_channels = channels(color)
    wanted = (
        {positive.strip().casefold()}
        if isinstance(positive, str)
        else {name.strip().casefold() for name in positive}
    )
    classes = list_class_folders(root)
    matched = [name for name in classes if name.casefold() in wanted]
    if not matched:
        raise ValueError(
            f"{root}: positive={sorted(wanted)} names no class folder; "
            f"found {list(classes)}"
        )
    if len(matched) == len(classes):
        raise ValueError(
            f"{root}: every class folder {matched} is positive, so there are no images "
            "of class 'other' (label 0); a data set needs both classes: add a folder "
            "of other waste"
        )
    files = [
        (path, int(name in matched))
        for name, paths in classes.items()
        for path in paths
    ]
    x = np.empty((len(files), *size, n_channels), dtype=np.uint8)
    y = np.empty(len(files), dtype=np.int64)
    for i, (path, label) in enumerate(
        tqdm(files, desc="images", unit="img", disable=not verbose)
    ):
        x[i] = to_array(read_image(path), size=size, color=color)
        y[i] = label
    meta = {
        "source": "folder",
        "root": str(root),
        "folders": {name: len(paths) for name, paths in classes.items()},
        "positive": matched,
    }
    return x, y, meta
