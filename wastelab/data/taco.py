"""TACO (Trash Annotations in Context): parse its COCO annotations and turn photos into arrays.

Two tasks share one index:

- ``"image"`` (the course's): one sample per photo, label 1 if any annotated object in it
  belongs to the positive supercategory ("Bottle"), the whole photo resized.
- ``"objects"``: one sample per annotated box, cropped with a margin, label bottle vs other.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from tqdm import tqdm  # text bars: no ipywidgets needed in notebooks

from .images import channels, crop, read_image, to_array

TASKS = ("image", "objects")
BOX_SLACK = (
    1.0  # pixels a box may stick out of its image (rounding in annotation tools)
)

_REQUIRED = {
    "images": ("id", "file_name", "width", "height"),
    "annotations": ("id", "image_id", "category_id", "bbox"),
    "categories": ("id", "name", "supercategory"),
}
_SINGULAR = {"images": "image", "annotations": "annotation", "categories": "category"}


@dataclass(frozen=True)
class TacoIndex:
    """A checked COCO annotation file: images, their annotations and the categories, by id.

    ``annotations`` maps every image id to the (possibly empty) list of its annotations,
    in file order.
    """

    path: Path
    images: dict[int, dict[str, Any]]
    annotations: dict[int, list[dict[str, Any]]]
    categories: dict[int, dict[str, Any]]

    @property
    def n_annotations(self) -> int:
        """Total number of annotations over all images."""
        return sum(len(anns) for anns in self.annotations.values())

    def supercategories(self) -> list[str]:
        """The distinct supercategory names, sorted."""
        return sorted({str(c["supercategory"]) for c in self.categories.values()})

    def category_ids(self, supercategory: str) -> set[int]:
        """Ids of the categories whose supercategory is ``supercategory`` (case-insensitive)."""
        wanted = supercategory.strip().casefold()
        return {
            cid
            for cid, c in self.categories.items()
            if str(c["supercategory"]).strip().casefold() == wanted
        }


def parse_annotations(path: str | Path) -> TacoIndex:
    """Read and validate a COCO-format annotation file such as TACO's ``annotations.json``.

    Checks that every image, annotation and category has its required fields, that each
    annotation points at a known image and category, and that every ``bbox`` ``[x, y, w, h]``
    lies inside its image (1 pixel of slack). Raises ``FileNotFoundError`` or ``ValueError``
    naming the file, the entry and the problem.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"annotation file not found: {path}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not valid JSON ({err})") from err
    if not isinstance(data, dict):
        raise ValueError(
            f"{path}: expected a JSON object with 'images', 'annotations', "
            f"'categories', got {type(data).__name__}"
        )
    for section in _REQUIRED:
        if not isinstance(data.get(section), list):
            raise ValueError(
                f"{path}: lacks a list '{section}'; is this a COCO annotation file?"
            )

    images = _index_section(path, data, "images")
    categories = _index_section(path, data, "categories")
    annotations = _index_section(path, data, "annotations")
    by_image: dict[int, list[dict[str, Any]]] = {image_id: [] for image_id in images}

    for ann_id, ann in annotations.items():
        where = f"{path}: annotation {ann_id}"
        image = images.get(ann["image_id"])
        if image is None:
            raise ValueError(f"{where} refers to unknown image_id {ann['image_id']!r}")
        if ann["category_id"] not in categories:
            raise ValueError(
                f"{where} refers to unknown category_id {ann['category_id']!r}"
            )
        _check_bbox(where, ann["bbox"], image)
        by_image[ann["image_id"]].append(ann)
    return TacoIndex(
        path=path, images=images, annotations=by_image, categories=categories
    )


def load_taco(
    root: str | Path,
    task: str = "image",
    size: tuple[int, int] = (50, 50),
    color: str = "gray",
    annotations: str | Path = "annotations.json",
    positive_supercategory: str = "Bottle",
    margin: float = 0.1,
    min_box: int = 16,
    verbose: int = 1,
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Load TACO photos under ``root`` as ``uint8`` arrays with binary labels.

    ``annotations`` is relative to ``root`` (or absolute). ``task="image"``: one sample per
    photo, label 1 if it holds an object of ``positive_supercategory``. ``task="objects"``: one
    sample per box, enlarged by ``margin`` (a fraction of the box size), label 1 for the
    positive supercategory; boxes whose shorter side is under ``min_box`` pixels (in the
    annotated image size) are skipped and counted. Photos are turned upright by their EXIF
    orientation, as the annotations expect.

    Returns ``x`` uint8 of shape (N, H, W, C) with (H, W) = ``size`` and C = 1 for ``"gray"``,
    3 for ``"rgb"``; ``y`` int64 of shape (N,); and ``meta`` (source, task, root, n_images,
    skipped_small_boxes, ...). Missing photos raise ``FileNotFoundError``; unreadable ones
    ``ValueError``, both naming the file.
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    n_channels = channels(color)
    if margin < 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(
            f"TACO folder not found: {root}; fetch it with wastelab.data.download.download_taco"
        )
    index = parse_annotations(root / annotations)
    positive_ids = index.category_ids(positive_supercategory)
    if not positive_ids:
        raise ValueError(
            f"{index.path}: no category has supercategory {positive_supercategory!r}; "
            f"found {index.supercategories()}"
        )
    if not index.images:
        raise ValueError(f"{index.path}: lists no images")
    _check_files_exist(root, index)

    meta: dict[str, Any] = {
        "source": "taco",
        "task": task,
        "root": str(root),
        "annotations": str(index.path),
        "positive_supercategory": positive_supercategory,
    }
    progress = tqdm(
        total=len(index.images), desc=f"TACO {task}s", unit="img", disable=not verbose
    )
    with progress:
        if task == "image":
            x, y = _load_images(
                root, index, positive_ids, size, color, n_channels, progress
            )
            skipped = 0
        else:
            x, y, skipped = _load_objects(
                root,
                index,
                positive_ids,
                size,
                color,
                n_channels,
                margin,
                min_box,
                progress,
            )
            meta.update(margin=margin, min_box=min_box)
    meta.update(n_images=len(index.images), skipped_small_boxes=skipped)
    return x, y, meta


# ---------------------------------------------------------------------------- loading


def _load_images(root, index, positive_ids, size, color, n_channels, progress):
    image_ids = sorted(index.images)
    x = np.empty((len(image_ids), *size, n_channels), dtype=np.uint8)
    y = np.empty(len(image_ids), dtype=np.int64)
    for i, image_id in enumerate(image_ids):
        img = read_image(root / index.images[image_id]["file_name"])
        x[i] = to_array(img, size=size, color=color)
        y[i] = any(
            a["category_id"] in positive_ids for a in index.annotations[image_id]
        )
        progress.update()
    return x, y


def _load_objects(
    root, index, positive_ids, size, color, n_channels, margin, min_box, progress
):
    kept: dict[int, list[dict[str, Any]]] = {}
    skipped = 0
    for image_id in sorted(index.images):
        for ann in sorted(index.annotations[image_id], key=lambda a: a["id"]):
            if min(_visible_size(ann["bbox"], index.images[image_id])) < max(
                min_box, 1
            ):
                skipped += 1
            else:
                kept.setdefault(image_id, []).append(ann)
    n_kept = sum(len(anns) for anns in kept.values())
    if not n_kept:
        raise ValueError(
            f"{index.path}: no box has a shorter side of at least {min_box} pixels "
            f"({skipped} skipped); lower min_box"
        )
    x = np.empty((n_kept, *size, n_channels), dtype=np.uint8)
    y = np.empty(n_kept, dtype=np.int64)
    i = 0
    for image_id in sorted(index.images):
        if image_id in kept:
            info = index.images[image_id]
            path = root / info["file_name"]
            img = read_image(path)
            sx, sy = _scale_to_file(path, img, info, index.path)
            for ann in kept[image_id]:
                bx, by, bw, bh = (float(v) for v in ann["bbox"])
                box = (bx * sx, by * sy, bw * sx, bh * sy)
                patch = crop(img, box, margin)
                if patch.width == 0 or patch.height == 0:
                    raise ValueError(
                        f"{path}: box of annotation {ann['id']} is too small to "
                        f"crop at {img.width}x{img.height}; raise min_box"
                    )
                x[i] = to_array(patch, size=size, color=color)
                y[i] = ann["category_id"] in positive_ids
                i += 1
        progress.update()
    return x, y, skipped


def _visible_size(bbox: list[float], image: dict[str, Any]) -> tuple[float, float]:
    """Width and height of the part of a COCO box inside its image."""
    x, y, w, h = bbox
    return (
        min(x + w, image["width"]) - max(x, 0.0),
        min(y + h, image["height"]) - max(y, 0.0),
    )


def _scale_to_file(
    path: Path, img: Image.Image, info: dict[str, Any], ann_path: Path
) -> tuple[float, float]:
    """Factors from annotated to actual pixel coordinates (1, 1 unless the file was resized)."""
    width, height = info["width"], info["height"]
    if img.size == (width, height):
        return 1.0, 1.0
    sx, sy = img.width / width, img.height / height
    if abs(sx / sy - 1) > 0.02:
        raise ValueError(
            f"{path}: image is {img.width}x{img.height} but {ann_path} says {width}x{height} "
            "(a different shape, not just a resized copy); boxes would land in the wrong place"
        )
    return sx, sy


def _check_files_exist(root: Path, index: TacoIndex) -> None:
    missing = [
        info["file_name"]
        for _, info in sorted(index.images.items())
        if not (root / info["file_name"]).is_file()
    ]
    if missing:
        shown = ", ".join(str(root / name) for name in missing[:5])
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise FileNotFoundError(
            f"{len(missing)} image file(s) listed in {index.path} are missing: {shown}{more}; "
            "fetch them with wastelab.data.download.download_taco"
        )


# ---------------------------------------------------------------------------- validation


def _index_section(
    path: Path, data: dict[str, Any], section: str
) -> dict[int, dict[str, Any]]:
    """Entries of ``data[section]`` by id, after checking their required fields and types."""
    singular = _SINGULAR[section]
    out: dict[int, dict[str, Any]] = {}
    for position, entry in enumerate(data[section]):
        if not isinstance(entry, dict):
            raise ValueError(f"{path}: {singular} #{position} is not a JSON object")
        if "id" not in entry:
            raise ValueError(
                f"{path}: {singular} #{position} (position in list) lacks 'id'"
            )
        entry_id = entry["id"]
        where = f"{path}: {singular} {entry_id!r}"
        for name in _REQUIRED[section]:
            if name not in entry:
                raise ValueError(f"{where} lacks '{name}'")
        for name in ("id", "image_id", "category_id", "width", "height"):
            if name in _REQUIRED[section] and not _is_int(entry[name]):
                raise ValueError(
                    f"{where}: '{name}' must be an integer, got {entry[name]!r}"
                )
        if entry_id in out:
            raise ValueError(f"{where} appears twice")
        if section == "images":
            if entry["width"] <= 0 or entry["height"] <= 0:
                raise ValueError(
                    f"{where}: size must be positive, got "
                    f"{entry['width']}x{entry['height']}"
                )
            if not isinstance(entry["file_name"], str) or not entry["file_name"]:
                raise ValueError(f"{where}: 'file_name' must be a non-empty string")
        out[entry_id] = entry
    return out


def _check_bbox(where: str, bbox: Any, image: dict[str, Any]) -> None:
    if (
        not isinstance(bbox, list | tuple)
        or len(bbox) != 4
        or not all(_is_number(v) and math.isfinite(v) for v in bbox)
    ):
        raise ValueError(f"{where}: bbox must be 4 numbers [x, y, w, h], got {bbox!r}")
    x, y, w, h = bbox
    if w < 0 or h < 0:
        raise ValueError(f"{where}: bbox {bbox} has a negative width or height")
    width, height = image["width"], image["height"]
    if (
        x < -BOX_SLACK
        or y < -BOX_SLACK
        or x + w > width + BOX_SLACK
        or y + h > height + BOX_SLACK
    ):
        raise ValueError(
            f"{where}: bbox {bbox} lies outside its image {image['id']} "
            f"({width}x{height}, file {image['file_name']})"
        )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
