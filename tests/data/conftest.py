"""Fixtures for the data tests: small generated image files and a fake TACO tree."""

from __future__ import annotations

import copy
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

BACKGROUND = 30  # gray level of generated photos
BRIGHT = 230  # gray level of the marked box inside them


def write_image(
    path: Path,
    width: int = 64,
    height: int = 48,
    box: tuple[int, int, int, int] | None = None,
    fmt: str | None = None,
    orientation: int = 1,
    seed: int = 0,
) -> Path:
    """Write a dark, slightly noisy RGB image with an optional bright ``box`` (x, y, w, h).

    ``orientation`` 6 stores the pixels rotated so that an EXIF-aware reader sees the
    upright image again (as phone cameras do). ``fmt`` defaults to the suffix's format.
    """
    rng = np.random.default_rng(seed)
    pixels = np.full((height, width, 3), BACKGROUND, dtype=np.int16)
    pixels += rng.integers(-10, 11, size=pixels.shape, dtype=np.int16)
    if box is not None:
        x, y, w, h = box
        pixels[y : y + h, x : x + w] = BRIGHT
    img = Image.fromarray(pixels.clip(0, 255).astype(np.uint8), mode="RGB")
    options: dict[str, Any] = {}
    if orientation != 1:
        if orientation != 6:
            raise ValueError("only orientations 1 and 6 are generated")
        img = img.transpose(Image.Transpose.ROTATE_90)  # undone by EXIF orientation 6
        exif = Image.Exif()
        exif[274] = 6
        options["exif"] = exif
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(
        path,
        format=fmt or Image.registered_extensions()[path.suffix.lower()],
        **options,
    )
    return path


@pytest.fixture
def make_image():
    """The :func:`write_image` helper, for tests to make image files."""
    return write_image


@dataclass
class FakeTaco:
    """A tiny TACO tree: photos under ``root`` and ``data`` written to ``annotations.json``."""

    root: Path
    data: dict[str, Any] = field(default_factory=dict)
    background: int = BACKGROUND  # gray level of the photos
    bright: int = BRIGHT  # gray level of their marked box

    @property
    def annotations(self) -> Path:
        return self.root / "annotations.json"

    def write(self) -> Path:
        """(Re)write ``annotations.json`` from ``data``, e.g. after a test broke something."""
        self.annotations.write_text(json.dumps(self.data), encoding="utf-8")
        return self.annotations

    def image(self, image_id: int) -> dict[str, Any]:
        return next(img for img in self.data["images"] if img["id"] == image_id)

    def annotation(self, ann_id: int) -> dict[str, Any]:
        return next(ann for ann in self.data["annotations"] if ann["id"] == ann_id)


# Four photos. Labels, task "image": [1, 0, 1, 0]. Boxes, task "objects" with min_box=16:
# 10 (bottle), 11 (can), 12 (can), 14 (bottle) kept -> labels [1, 0, 0, 1]; 13 is 4x4: skipped.
TACO_IMAGES = [
    # id, file_name, width, height, bright box, EXIF orientation
    (0, "batch_1/000000.jpg", 64, 48, (10, 8, 20, 30), 1),
    (
        1,
        "batch_1/000001.jpg",
        48,
        64,
        (5, 20, 30, 30),
        6,
    ),  # stored landscape, shown portrait
    (2, "batch_2/000002.JPG", 64, 64, (0, 0, 64, 64), 1),
    (3, "batch_2/000003.png", 40, 40, None, 1),  # no annotation at all
]
TACO_CATEGORIES = [
    {"id": 0, "name": "Glass bottle", "supercategory": "Bottle"},
    {"id": 1, "name": "Plastic drink bottle", "supercategory": "Bottle"},
    {"id": 2, "name": "Drink can", "supercategory": "Can"},
    {"id": 3, "name": "Cigarette", "supercategory": "Cigarette"},
]
TACO_ANNOTATIONS = [
    # id, image_id, category_id, bbox
    (10, 0, 0, [10.0, 8.0, 20.0, 30.0]),
    (11, 0, 2, [40.0, 5.0, 16.0, 16.0]),
    (12, 1, 2, [5.0, 20.0, 30.0, 30.0]),
    (13, 1, 3, [1.0, 1.0, 4.0, 4.0]),
    (14, 2, 1, [0.0, 0.0, 64.0, 64.0]),
]


@pytest.fixture
def fake_taco(tmp_path: Path) -> FakeTaco:
    """A fake TACO tree in ``tmp_path/taco`` (see ``TACO_IMAGES`` for what it holds)."""
    root = tmp_path / "taco"
    images = []
    for image_id, name, width, height, box, orientation in TACO_IMAGES:
        write_image(
            root / name, width, height, box=box, orientation=orientation, seed=image_id
        )
        images.append(
            {
                "id": image_id,
                "file_name": name,
                "width": width,
                "height": height,
                "flickr_url": f"https://example.invalid/{image_id}.jpg",
            }
        )
    annotations = [
        {
            "id": ann_id,
            "image_id": image_id,
            "category_id": category_id,
            "bbox": bbox,
            "segmentation": [
                [
                    bbox[0],
                    bbox[1],
                    bbox[0] + bbox[2],
                    bbox[1],
                    bbox[0] + bbox[2],
                    bbox[1] + bbox[3],
                ]
            ],
            "area": bbox[2] * bbox[3],
            "iscrowd": 0,
        }
        for ann_id, image_id, category_id, bbox in TACO_ANNOTATIONS
    ]
    data = {
        "info": {"description": "fake TACO"},
        "images": images,
        "annotations": annotations,
        "categories": copy.deepcopy(TACO_CATEGORIES),
    }
    taco = FakeTaco(root, data)
    taco.write()
    return taco


@pytest.fixture
def class_folders(tmp_path: Path) -> Path:
    """``tmp_path/folders`` with classes bottle (3 images), Can (2) and paper (1)."""
    root = tmp_path / "folders"
    files = [
        "bottle/a.jpg",
        "bottle/b.PNG",
        "bottle/c.jpeg",
        "Can/d.JPG",
        "Can/e.png",
        "paper/f.jpg",
    ]
    for seed, name in enumerate(files):
        box = (4, 4, 20, 30) if name.startswith("bottle") else None
        write_image(root / name, 40, 40, box=box, seed=seed)
    (root / "paper" / "notes.txt").write_text("not an image")
    (root / ".ipynb_checkpoints").mkdir()
    return root


# The defects of the real TACO files (../shared/data/taco), one of each, added to the
# fake tree: (id, image_id, category_id, bbox, what it reproduces).
REAL_DEFECTS = [
    # official annotations.json: ids 309 and 4040 each label two objects on two photos
    (10, 2, 2, [20.0, 20.0, 16.0, 16.0], "repeated id"),
    # official: [171.0, -1.3, 518.4, 413.4] on an 842x474 photo (1.3 px over the top)
    (20, 0, 2, [40.0, -1.3, 20.0, 20.0], "1.3 px outside"),
    # unofficial: [2105, 2302, 271, 547] on 2368x4208 (8 px over the right edge)
    (21, 2, 2, [50.0, 10.0, 22.0, 20.0], "8 px outside"),
    # unofficial: [11438.9, 15641.4, 2750, 7061.1] on 3000x4000 (nowhere near it)
    (22, 0, 3, [300.0, 400.0, 10.0, 10.0], "wholly outside"),
    # unofficial: 15 boxes [Infinity, Infinity, -Infinity, -Infinity], area 0
    (23, 1, 3, [math.inf, math.inf, -math.inf, -math.inf], "non-finite"),
    # a box with no area (COCO tools write these for degenerate polygons)
    (24, 1, 3, [5.0, 5.0, 0.0, 7.0], "empty"),
]


@pytest.fixture
def defective_taco(fake_taco: FakeTaco) -> FakeTaco:
    """``fake_taco`` plus one annotation for each defect of the real files.

    Optional fields are missing as in many COCO files: no ``area``, ``segmentation`` or
    ``iscrowd`` on the new annotations, no ``flickr_url`` on image 3, no ``info``.
    """
    for ann_id, image_id, category_id, bbox, _ in REAL_DEFECTS:
        fake_taco.data["annotations"].append(
            {
                "id": ann_id,
                "image_id": image_id,
                "category_id": category_id,
                "bbox": bbox,
            }
        )
    del fake_taco.image(3)["flickr_url"]
    del fake_taco.data["info"]
    fake_taco.write()  # json.dumps writes inf as Infinity, as the real file has it
    return fake_taco
