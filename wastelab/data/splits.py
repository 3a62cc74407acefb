"""The ``Splits`` result: train/validation/test arrays, stratified splitting, checks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

SPLIT_NAMES = ("train", "val", "test")
BOTTLE_CLASSES = ("other", "bottle")


def validate_arrays(
    x: np.ndarray, y: np.ndarray, n_classes: int, where: str = "data"
) -> None:
    """Check one split: ``x`` uint8 (N, H, W, C), C 1 or 3; ``y`` ints (N,) in range.

    Raises ``ValueError`` naming ``where`` and the problem.
    """
    if not isinstance(x, np.ndarray) or x.dtype != np.uint8:
        got = getattr(x, "dtype", type(x))
        raise ValueError(f"{where}: images must be a uint8 array, got {got}")
    if x.ndim != 4 or x.shape[-1] not in (1, 3):
        raise ValueError(
            f"{where}: images must have shape (N, H, W, 1|3), got {x.shape}"
        )
    if not isinstance(y, np.ndarray) or not np.issubdtype(y.dtype, np.integer):
        got = getattr(y, "dtype", type(y))
        raise ValueError(f"{where}: labels must be an integer array, got {got}")
    if y.shape != (x.shape[0],):
        raise ValueError(
            f"{where}: labels must have shape ({x.shape[0]},), got {y.shape}"
        )
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(
            f"{where}: labels out of range [0, {n_classes - 1}]: "
            f"found {int(y.min())}..{int(y.max())}"
        )


@dataclass(frozen=True)
class Splits:
    """Images and labels split into train, validation and test sets.

    Images are ``uint8`` of shape (N, H, W, C); labels are integer class ids indexing
    ``class_names``. ``meta`` records where the data came from (source, task, seed...).
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...] = BOTTLE_CLASSES
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "class_names", tuple(self.class_names))
        shapes = set()
        for name in SPLIT_NAMES:
            x, y = self.split(name)
            validate_arrays(x, y, len(self.class_names), where=f"{name} split")
            shapes.add(x.shape[1:])
        if len(shapes) != 1:
            raise ValueError(f"splits disagree on image shape: {sorted(shapes)}")

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(H, W, C) of every image."""
        return tuple(self.x_train.shape[1:])  # type: ignore[return-value]

    def split(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """``(x, y)`` of the split ``"train"``, ``"val"`` or ``"test"``."""
        if name not in SPLIT_NAMES:
            raise ValueError(f"split must be one of {SPLIT_NAMES}, got {name!r}")
        return getattr(self, f"x_{name}"), getattr(self, f"y_{name}")

    def summary_rows(self) -> list[dict[str, Any]]:
        """One dict per split: count, count and share per class, pixel mean and std."""
        rows = []
        for name in SPLIT_NAMES:
            x, y = self.split(name)
            row: dict[str, Any] = {"split": name, "images": int(len(y))}
            for cid, cname in enumerate(self.class_names):
                count = int(np.sum(y == cid))
                row[cname] = count
                row[f"{cname} share"] = count / len(y) if len(y) else 0.0
            row["pixel mean"] = float(x.mean()) if x.size else 0.0
            row["pixel std"] = float(x.std()) if x.size else 0.0
            rows.append(row)
        return rows

    def summary(self) -> str:
        """A small text table: images, classes and pixel statistics per split."""
        rows = self.summary_rows()
        h, w, c = self.image_shape
        source = self.meta.get("source", "unknown source")
        head = f"{source}: {h}x{w}x{c} images, classes {list(self.class_names)}"
        cols = [
            "split",
            "images",
            *self.class_names,
            f"{self.class_names[-1]} share",
            "pixel mean",
            "pixel std",
        ]
        lines = [head, "  ".join(f"{c:>12}" for c in cols)]
        for row in rows:
            cells = []
            for col in cols:
                val = row[col]
                cells.append(
                    f"{val:>12.3f}" if isinstance(val, float) else f"{val!s:>12}"
                )
            lines.append("  ".join(cells))
        return "\n".join(lines)

    def __repr__(self) -> str:
        sizes = ", ".join(f"{n}={len(self.split(n)[1])}" for n in SPLIT_NAMES)
        classes = list(self.class_names)
        return f"Splits({sizes}, image_shape={self.image_shape}, classes={classes})"


def stratified_split(
    x: np.ndarray,
    y: np.ndarray,
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
    seed: int = 0,
    class_names: tuple[str, ...] = BOTTLE_CLASSES,
    meta: dict[str, Any] | None = None,
) -> Splits:
    """Shuffle and split ``(x, y)`` into train/validation/test, keeping class shares.

    Each class is split on its own by ``fractions`` (rounded, largest remainders first),
    so every split has (almost exactly) the same share of each class. Same seed, same
    split. Every class must have images, and every split must get some.
    """
    fr = _check_split_input(x, y, fractions, class_names)
    rng = np.random.default_rng(seed)
    parts: list[list[np.ndarray]] = [[], [], []]
    for cid in range(len(class_names)):
        idx = np.flatnonzero(y == cid)
        rng.shuffle(idx)
        counts = _allocate(len(idx), fr)
        start = 0
        for k, n in enumerate(counts):
            parts[k].append(idx[start : start + n])
            start += n
    arrays = []
    for k in range(3):
        idx = np.concatenate(parts[k]) if parts[k] else np.empty(0, dtype=int)
        idx = rng.permutation(idx)
        arrays += [x[idx], y[idx].astype(np.int64)]
    meta = {**(meta or {}), "seed": seed, "fractions": [float(f) for f in fr]}
    return Splits(*arrays, class_names=class_names, meta=meta)


def _check_split_input(
    x: np.ndarray,
    y: np.ndarray,
    fractions: tuple[float, float, float],
    class_names: tuple[str, ...],
) -> np.ndarray:
    """Refuse input that cannot make a data set; return the fractions as an array."""
    validate_arrays(x, y, len(class_names), where="input")
    fr = np.asarray(fractions, dtype=float)
    if fr.shape != (3,) or np.any(fr < 0) or not np.isclose(fr.sum(), 1.0):
        raise ValueError(
            f"fractions must be three non-negative numbers summing to 1, "
            f"got {fractions}"
        )
    counts = np.bincount(y, minlength=len(class_names))
    for cid, name in enumerate(class_names):
        if counts[cid] == 0:
            raise ValueError(
                f"no images of class {name!r} (label {cid}) among the {len(y)}: a data "
                f"set needs images of every class {list(class_names)}"
            )
    sizes = np.sum([_allocate(int(n), fr) for n in counts], axis=0)
    for name, size in zip(SPLIT_NAMES, sizes, strict=True):
        if size == 0:
            raise ValueError(
                f"the {name} split would be empty: {len(y)} images split by "
                f"{list(fractions)} per class; a data set needs images in every split "
                "(use more images)"
            )
    return fr


def _allocate(n: int, fractions: np.ndarray) -> list[int]:
    """Split ``n`` items by ``fractions`` into whole counts (largest remainders)."""
    raw = n * fractions
    counts = np.floor(raw).astype(int)
    order = np.argsort(-(raw - counts), kind="stable")
    for k in order[: n - counts.sum()]:
        counts[k] += 1
    return counts.tolist()
