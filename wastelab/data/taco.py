"""TACO (Trash Annotations in Context): read its COCO annotations, load its photos.

Two tasks share one index:

- ``"image"`` (the course's): one sample per photo, label 1 if any annotated object in
  it belongs to the positive supercategory ("Bottle"), the whole photo resized.
- ``"objects"``: one sample per annotated box, cropped with a margin, label bottle vs
  other.
"""

from __future__ import annotations

import gzip
import json
import lzma
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from tqdm import tqdm  # text bars: no ipywidgets needed in notebooks

from .images import channels, crop, read_image, to_array

TASKS = ("image", "objects")
BOX_SLACK = 1.0  # pixels a box may stick out of its image with strict=True

_REQUIRED = {
    "images": ("id", "file_name", "width", "height"),
    "annotations": ("id", "image_id", "category_id", "bbox"),
    "categories": ("id", "name", "supercategory"),
}
_SINGULAR = {"images": "image", "annotations": "annotation", "categories": "category"}
_GZIP, _XZ = b"\x1f\x8b", b"\xfd7zXZ\x00"


@dataclass(frozen=True)
class ParseReport:
    """What reading an annotation file repaired and skipped, counted.

    ``annotations`` is the number of annotations in the file; ``repeated_ids`` those
    whose id an earlier annotation already had (kept: they label other objects);
    ``clipped`` boxes that stuck out of their image, cut to it; the ``skipped_*`` count
    annotations left out: a non-finite box, a box with no area, a box wholly outside its
    image.
    """

    name: str
    annotations: int
    repeated_ids: int = 0
    clipped: int = 0
    skipped_nonfinite: int = 0
    skipped_empty: int = 0
    skipped_outside: int = 0

    @property
    def skipped(self) -> int:
        """Annotations left out, for any reason."""
        return self.skipped_nonfinite + self.skipped_empty + self.skipped_outside

    @property
    def kept(self) -> int:
        """Annotations in the index."""
        return self.annotations - self.skipped

    def line(self) -> str:
        """The accounting in one line, e.g. for ``wastelab data summary``."""
        reasons = [
            (self.skipped_nonfinite, "with a non-finite box"),
            (self.skipped_empty, "with an empty box"),
            (self.skipped_outside, "outside their image"),
        ]
        why = ", ".join(f"{n:,} {text}" for n, text in reasons if n)
        return (
            f"{self.name}: {self.annotations:,} annotations; "
            f"kept {self.repeated_ids:,} repeated ids, "
            f"clipped {self.clipped:,} boxes to their image, "
            f"skipped {self.skipped:,}" + (f" ({why})" if why else "")
        )

    def as_dict(self) -> dict[str, Any]:
        """The counts as a plain (JSON-serialisable) dict."""
        return asdict(self)


@dataclass(frozen=True)
class TacoIndex:
    """A checked COCO annotation file: images, their annotations and categories, by id.

    ``annotations`` maps every image id to the (possibly empty) list of its annotations,
    in file order, with boxes clipped to their image. ``report`` counts what was
    repaired or skipped on the way.
    """

    path: Path | None
    images: dict[int, dict[str, Any]]
    annotations: dict[int, list[dict[str, Any]]]
    categories: dict[int, dict[str, Any]]
    report: ParseReport

    @property
    def n_annotations(self) -> int:
        """Total number of annotations over all images."""
        return sum(len(anns) for anns in self.annotations.values())

    def supercategories(self) -> list[str]:
        """The distinct supercategory names, sorted."""
        return sorted({str(c["supercategory"]) for c in self.categories.values()})

    def category_ids(self, supercategory: str) -> set[int]:
        """Ids of the categories whose supercategory is ``supercategory`` (any case)."""
        wanted = supercategory.strip().casefold()
        return {
            cid
            for cid, c in self.categories.items()
            if str(c["supercategory"]).strip().casefold() == wanted
        }


def parse_annotations(
    source: str | Path | Mapping[str, Any], strict: bool = False
) -> TacoIndex:
    """Read and check a COCO annotation file such as TACO's ``annotations.json``.

    ``source`` is a file (plain, gzip- or xz-compressed JSON) or an already loaded dict.
    Real files have small defects; they are repaired or skipped and counted in the
    index's ``report`` (see :class:`ParseReport`): an annotation id used twice is kept
    (the two label different objects), a box sticking out of its image is clipped to it,
    and an annotation whose box is non-finite, has no area or lies wholly outside its
    image is skipped. With ``strict=True`` each of these raises instead (a box may stick
    out by ``BOX_SLACK`` pixels). Structural problems always raise ``ValueError`` naming
    the file and entry: not JSON, a missing list or field, an image or category id used
    twice, an annotation of an unknown image or category, a box that is not 4 numbers.
    A missing file raises ``FileNotFoundError``.
    """
    if isinstance(source, Mapping):
        path, name, data = None, "annotations", source
    else:
        path = Path(source)
        name, data = str(path), _read_json(path)
    if not isinstance(data, Mapping):
        raise ValueError(
            f"{name}: expected a JSON object with 'images', 'annotations', "
            f"'categories', got {type(data).__name__}"
        )
    for section in _REQUIRED:
        if not isinstance(data.get(section), list):
            raise ValueError(
                f"{name}: lacks a list '{section}'; is this a COCO annotation file?"
            )
    images = _index_section(name, data, "images")
    categories = _index_section(name, data, "categories")
    by_image, counts = _check_annotations(name, data, images, categories, strict)
    report = ParseReport(
        name=path.name if path is not None else name,
        annotations=len(data["annotations"]),
        **counts,
    )
    return TacoIndex(
        path=path,
        images=images,
        annotations=by_image,
        categories=categories,
        report=report,
    )


def image_labels(index: TacoIndex, positive_ids: set[int]) -> np.ndarray:
    """Label of each photo, in image id order: 1 if any of its objects is positive.

    ``positive_ids`` are category ids (e.g. ``index.category_ids("Bottle")``). Returns
    int64 of shape (number of images,).
    """
    return np.array(
        [
            any(ann["category_id"] in positive_ids for ann in index.annotations[i])
            for i in sorted(index.images)
        ],
        dtype=np.int64,
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
    strict: bool = False,
    verbose: int = 1,
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Load TACO photos under ``root`` as ``uint8`` arrays with binary labels.

    ``annotations`` is relative to ``root`` (or absolute), read by
    :func:`parse_annotations` (``strict`` as there); its one-line account of what was
    repaired or skipped is printed (with ``verbose``) and kept in ``meta``.
    ``task="image"``: one sample per photo, label 1 if it holds an object of
    ``positive_supercategory``. ``task="objects"``: one sample per box, enlarged by
    ``margin`` (a fraction of the box size), label 1 for the positive supercategory;
    boxes whose shorter side is under ``min_box`` pixels (in the annotated image size)
    are skipped and counted. Photos are turned upright by their EXIF orientation, as the
    annotations expect.

    Returns ``x`` uint8 of shape (N, H, W, C) with (H, W) = ``size`` and C = 1 for
    ``"gray"``, 3 for ``"rgb"``; ``y`` int64 of shape (N,); and ``meta`` (source, task,
    root, n_images, skipped_small_boxes, annotation_report, ...). Missing photos raise
    ``FileNotFoundError``; unreadable ones ``ValueError``, both naming the file.
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    n_channels = channels(color)
    if margin < 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(
            f"TACO folder not found: {root}; fetch it with "
            "wastelab.data.download.download_taco"
        )
    index = parse_annotations(root / annotations, strict=strict)
    if verbose:
        print(index.report.line())
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
        "annotation_report": index.report.line(),
    }
    progress = tqdm(
        total=len(index.images), desc=f"TACO {task}s", unit="img", disable=not verbose
    )
    with progress:
        if task == "image":
            x = _load_images(root, index, size, color, n_channels, progress)
            y = image_labels(index, positive_ids)
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


# ------------------------------------------------------------------------ loading


def _load_images(root, index, size, color, n_channels, progress):
    image_ids = sorted(index.images)
    x = np.empty((len(image_ids), *size, n_channels), dtype=np.uint8)
    for i, image_id in enumerate(image_ids):
        img = read_image(root / index.images[image_id]["file_name"])
        x[i] = to_array(img, size=size, color=color)
        progress.update()
    return x


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
    """Factors from annotated to actual pixel coordinates (1, 1 unless resized)."""
    width, height = info["width"], info["height"]
    if img.size == (width, height):
        return 1.0, 1.0
    sx, sy = img.width / width, img.height / height
    if abs(sx / sy - 1) > 0.02:
        raise ValueError(
            f"{path}: image is {img.width}x{img.height} but {ann_path} says "
            f"{width}x{height} (a different shape, not just a resized copy); boxes "
            "would land in the wrong place"
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
            f"{len(missing)} image file(s) listed in {index.path} are missing: "
            f"{shown}{more}; fetch them with wastelab.data.download.download_taco"
        )


# ------------------------------------------------------------------------ validation


def _read_json(path: Path) -> Any:
    """The JSON in ``path``, decompressed first when it is gzip or xz data."""
    if not path.is_file():
        raise FileNotFoundError(f"annotation file not found: {path}")
    raw = path.read_bytes()
    try:
        if raw.startswith(_GZIP):
            raw = gzip.decompress(raw)
        elif raw.startswith(_XZ):
            raw = lzma.decompress(raw)
    except (OSError, EOFError, lzma.LZMAError) as err:
        raise ValueError(f"{path}: compressed data is corrupt ({err})") from err
    try:
        return json.loads(raw.decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not valid JSON ({err})") from err


def _checked_entry(name: str, section: str, position: int, entry: Any) -> Any:
    """The id of an entry of ``section``, after checking its required fields."""
    singular = _SINGULAR[section]
    if not isinstance(entry, dict):
        raise ValueError(f"{name}: {singular} #{position} is not a JSON object")
    if "id" not in entry:
        raise ValueError(
            f"{name}: {singular} #{position} (position in list) lacks 'id'"
        )
    where = f"{name}: {singular} {entry['id']!r}"
    for field in _REQUIRED[section]:
        if field not in entry:
            raise ValueError(f"{where} lacks '{field}'")
    for field in ("id", "image_id", "category_id", "width", "height"):
        if field in _REQUIRED[section] and not _is_int(entry[field]):
            raise ValueError(
                f"{where}: '{field}' must be an integer, got {entry[field]!r}"
            )
    return entry["id"]


def _index_section(
    name: str, data: Mapping[str, Any], section: str
) -> dict[int, dict[str, Any]]:
    """Entries of ``data[section]`` (images or categories) by id; no id twice."""
    out: dict[int, dict[str, Any]] = {}
    for position, entry in enumerate(data[section]):
        entry_id = _checked_entry(name, section, position, entry)
        where = f"{name}: {_SINGULAR[section]} {entry_id!r}"
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


def _check_annotations(
    name: str,
    data: Mapping[str, Any],
    images: dict[int, dict[str, Any]],
    categories: dict[int, dict[str, Any]],
    strict: bool,
) -> tuple[dict[int, list[dict[str, Any]]], dict[str, int]]:
    """Annotations by image id, repaired or skipped as ``parse_annotations`` says."""
    by_image: dict[int, list[dict[str, Any]]] = {image_id: [] for image_id in images}
    counts = dict.fromkeys(
        (
            "repeated_ids",
            "clipped",
            "skipped_nonfinite",
            "skipped_empty",
            "skipped_outside",
        ),
        0,
    )
    seen: set[int] = set()
    for position, ann in enumerate(data["annotations"]):
        ann_id = _checked_entry(name, "annotations", position, ann)
        where = f"{name}: annotation {ann_id}"
        if ann_id in seen:
            if strict:
                raise ValueError(f"{where} appears twice")
            counts["repeated_ids"] += 1
        seen.add(ann_id)
        image = images.get(ann["image_id"])
        if image is None:
            raise ValueError(f"{where} refers to unknown image_id {ann['image_id']!r}")
        if ann["category_id"] not in categories:
            raise ValueError(
                f"{where} refers to unknown category_id {ann['category_id']!r}"
            )
        outcome, box = _check_bbox(where, ann["bbox"], image, strict)
        if outcome.startswith("skipped"):
            counts[outcome] += 1
            continue
        if outcome == "clipped":
            counts["clipped"] += 1
            ann = {**ann, "bbox": box}
        by_image[ann["image_id"]].append(ann)
    return by_image, counts


def _check_bbox(
    where: str, bbox: Any, image: dict[str, Any], strict: bool
) -> tuple[str, list[float]]:
    """("kept" | "clipped" | "skipped_<why>", the box to use) for one box."""
    if (
        not isinstance(bbox, list | tuple)
        or len(bbox) != 4
        or not all(_is_number(v) for v in bbox)
    ):
        raise ValueError(f"{where}: bbox must be 4 numbers [x, y, w, h], got {bbox!r}")
    x, y, w, h = (float(v) for v in bbox)
    if not all(math.isfinite(v) for v in (x, y, w, h)):
        if strict:
            raise ValueError(
                f"{where}: bbox must be 4 finite numbers [x, y, w, h], got {bbox!r}"
            )
        return "skipped_nonfinite", []
    if w <= 0 or h <= 0:
        if strict:
            raise ValueError(f"{where}: bbox {bbox} has a width or height <= 0")
        return "skipped_empty", []
    width, height = image["width"], image["height"]
    left, top = max(x, 0.0), max(y, 0.0)
    right, bottom = min(x + w, float(width)), min(y + h, float(height))
    inside = right > left and bottom > top
    if inside and (left, top, right, bottom) == (x, y, x + w, y + h):
        return "kept", list(bbox)
    slack = max(-x, -y, x + w - width, y + h - height)
    if strict and (not inside or slack > BOX_SLACK):
        raise ValueError(
            f"{where}: bbox {bbox} lies outside its image {image['id']} "
            f"({width}x{height}, file {image['file_name']})"
        )
    if strict:
        return "kept", list(bbox)
    if not inside:
        return "skipped_outside", []
    return "clipped", [left, top, right - left, bottom - top]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
