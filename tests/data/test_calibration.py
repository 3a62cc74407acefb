"""The synthetic stand-in stays within the stated tolerance of TACO's statistics.

TACO's statistics come from the annotation file the book ships (book/data/taco); the
stand-in's from the boxes of its default scenes. If a change to wastelab.data.synthetic
moves the stand-in out of tolerance, this test says which statistic drifted.
"""

from __future__ import annotations

import hashlib
import json
import lzma
import time
from pathlib import Path

import numpy as np
import pytest

from wastelab.data.coco_stats import (
    BOTTLE_CATEGORIES,
    TOLERANCES,
    calibration_table,
    coco_statistics,
)
from wastelab.data.synthetic import (
    DEFAULT_BOTTLE_SHARE,
    Challenges,
    make_scenes,
    render_scene,
    scene_annotations,
    scene_seed,
)
from wastelab.data.taco import parse_annotations

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "book" / "data" / "taco" / "annotations.json.xz"
REAL = ROOT.parent / "shared" / "data" / "taco" / "annotations.json"
SHA256 = "ac1ec605c9e1fcda767970de3457c69b4a43b62c02aca8c4c80f51d1b5ae8449"


@pytest.fixture(scope="module")
def taco():
    return coco_statistics(SHIPPED)


@pytest.fixture(scope="module")
def stand_in():
    """The stand-in at TACO's object sizes (``Challenges.taco()``)."""
    return coco_statistics(
        scene_annotations(1500, seed=0, challenges=Challenges.taco())
    )


@pytest.fixture(scope="module")
def book_default():
    """The book's default scenes: TACO's counts, larger objects (see Challenges)."""
    return coco_statistics(scene_annotations(1500, seed=0))


def test_shipped_file_is_tacos_official_annotation_file():
    raw = lzma.decompress(SHIPPED.read_bytes())
    assert hashlib.sha256(raw).hexdigest() == SHA256  # as stated in its README
    if REAL.is_file():
        assert raw == REAL.read_bytes()
    readme = (SHIPPED.parent / "README.md").read_text()
    assert SHA256 in readme and "arXiv:2003.06975" in readme
    assert "MIT License" in (SHIPPED.parent / "LICENSE").read_text()


def test_stand_in_matches_taco_within_the_stated_tolerance(taco, stand_in):
    rows = calibration_table(taco, stand_in)
    assert [row["statistic"] for row in rows] == [t[0] for t in TOLERANCES]
    drifted = [row for row in rows if not row["ok"]]
    assert not drifted, "\n".join(
        f"{r['statistic']}: TACO {r['reference']:.3f}, stand-in {r['other']:.3f}, "
        f"allowed {r['tolerance']}"
        for r in drifted
    )


def test_book_default_has_tacos_counts_and_larger_objects(taco, book_default):
    rows = {r["statistic"]: r for r in calibration_table(taco, book_default)}
    for counted in (
        "bottle share",
        "objects per image, mean",
        "objects per image, median",
        "share of photos with one object",
    ):
        assert rows[counted]["ok"], counted
    # larger objects on purpose: at least twice TACO's median bottle, at most half the
    # picture (documented in Challenges)
    ratio = (
        rows["bottle size, median"]["other"] / rows["bottle size, median"]["reference"]
    )
    assert 2.0 <= ratio <= 5.0, ratio


def test_tolerance_fails_a_stand_in_that_drifts(taco, stand_in):
    """The comparison is not vacuous: a doubled object size or one object per photo fail."""
    from dataclasses import replace

    bigger = replace(stand_in, relative_sizes=stand_in.relative_sizes * 2)
    failed = {r["statistic"] for r in calibration_table(taco, bigger) if not r["ok"]}
    assert {"object size, median", "bottle size, median"} <= failed
    lonely = replace(
        stand_in, objects_per_image=np.ones_like(stand_in.objects_per_image)
    )
    failed = {r["statistic"] for r in calibration_table(taco, lonely) if not r["ok"]}
    assert "objects per image, mean" in failed


def test_default_bottle_share_is_tacos(taco):
    assert abs(DEFAULT_BOTTLE_SHARE - taco.bottle_share) < 0.001
    _, y, meta = make_scenes(n=200, size=(8, 8), render_size=16)
    assert meta["bottle_share"] == DEFAULT_BOTTLE_SHARE
    assert int(y.sum()) == round(200 * DEFAULT_BOTTLE_SHARE)


def test_annotations_describe_the_scenes_make_scenes_draws():
    coco = scene_annotations(40, seed=3, render_size=64)
    _, y, _ = make_scenes(n=40, seed=3, size=(8, 8), render_size=64)
    index = parse_annotations(coco, strict=True)  # boxes inside, ids unique
    bottle_ids = {c["id"] for c in coco["categories"] if c["name"] in BOTTLE_CATEGORIES}
    has_bottle = [
        any(a["category_id"] in bottle_ids for a in index.annotations[i])
        for i in range(40)
    ]
    assert has_bottle == y.astype(bool).tolist()
    assert json.loads(json.dumps(coco)) == coco
    # the boxes are where the objects are: the pixels inside the boxes of a scene drawn
    # on plain ground differ from it, outside they barely do (shadows aside)
    from dataclasses import replace

    from wastelab.data.synthetic import Challenges, _render_image

    flat = replace(Challenges.none(), scale=0.5, clutter=0.15)
    objects: list = []
    scene = np.asarray(_render_image(scene_seed(3, 0), True, 96, flat, objects))
    laid_out: list = []
    _render_image(scene_seed(3, 0), True, 96, flat, laid_out, draw=False)
    assert laid_out == objects and objects
    again = render_scene(scene_seed(3, 0), True, size=96, challenges=flat)
    assert np.array_equal(scene, again)  # recording boxes changes no pixel


def test_annotations_are_deterministic_and_fast():
    start = time.process_time()
    a = scene_annotations(300, seed=5)
    seconds = time.process_time() - start
    assert a == scene_annotations(300, seed=5)
    assert a != scene_annotations(300, seed=6)
    assert seconds < 5  # 1,500 scenes take about 1-2 s of CPU


def test_generation_stays_fast():
    start = time.process_time()
    make_scenes(n=300)
    assert time.process_time() - start < 5  # 1,500 scenes: a few seconds of CPU
