"""One entry point from any source to ``Splits``, and the book's default data."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .cache import load_splits
from .splits import Splits, stratified_split

SOURCES = ("synthetic", "taco", "folder")
DATA_ENV = "WASTELAB_DATA"


def prepare(
    source: str = "synthetic",
    root: str | Path | None = None,
    *,
    task: str = "image",
    size: tuple[int, int] = (50, 50),
    color: str = "gray",
    seed: int = 0,
    n: int = 1500,
    bottle_share: float | None = None,
    positive: tuple[str, ...] = ("bottle",),
    strict: bool = False,
    verbose: int = 1,
) -> Splits:
    """Load images from ``source``, preprocess them and split them 80/10/10 by ``seed``.

    ``source`` is ``"synthetic"`` (``n`` generated scenes, ``bottle_share`` of them with
    a bottle; None: TACO's share), ``"taco"`` (a TACO tree at ``root``, ``task``
    ``"image"`` or ``"objects"``) or ``"folder"`` (class sub-folders at ``root``;
    folders named in ``positive`` are bottles; ``strict``: refuse a TACO annotation
    file with defects instead of repairing them). Raises ValueError when the images do
    not make a data set: a class without images, or too few for a validation and a test
    split.
    """
    if source == "synthetic":
        from .synthetic import make_scenes

        x, y, meta = make_scenes(
            n=n,
            bottle_share=bottle_share,
            seed=seed,
            size=size,
            color=color,
            verbose=verbose,
        )
    elif source in ("taco", "folder"):
        if root is None:
            raise ValueError(f"source {source!r} needs a root folder")
        if source == "taco":
            from .taco import load_taco

            x, y, meta = load_taco(
                root, task=task, size=size, color=color, strict=strict, verbose=verbose
            )
        else:
            from .folders import load_folders

            x, y, meta = load_folders(
                root, positive=positive, size=size, color=color, verbose=verbose
            )
    else:
        raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
    meta: dict[str, Any] = {**meta, "size": list(size), "color": color}
    return stratified_split(x, y, seed=seed, meta=meta)


def load_default(
    color: str = "gray",
    size: tuple[int, int] = (50, 50),
    seed: int = 0,
    verbose: int = 1,
) -> Splits:
    """The data every chapter uses: ``$WASTELAB_DATA`` if set, else synthetic scenes.

    Prints one line saying which data it is (silenced by ``verbose=0``).
    """
    path = os.environ.get(DATA_ENV)
    if path:
        splits = load_splits(path)
        if verbose:
            print(f"Data: {path} (from ${DATA_ENV}), {_sizes(splits)}")
        return splits
    splits = prepare("synthetic", size=size, color=color, seed=seed, verbose=0)
    if verbose:
        print(f"Data: synthetic scenes, {_sizes(splits)}; photos: ${DATA_ENV}")
    return splits


def _sizes(splits: Splits) -> str:
    h, w, c = splits.image_shape
    n = "/".join(str(len(splits.split(name)[1])) for name in ("train", "val", "test"))
    return f"{n} train/val/test, {h}x{w}x{c}"
