"""TACO: annotation parsing and validation, both loading tasks, and every failure mode.

The defects of the real files are reproduced by the ``defective_taco`` fixture, so the
tolerant reading is tested everywhere; the real files themselves are read where
``../shared/data/taco`` exists.
"""

from __future__ import annotations

import gzip
import json
import lzma
import math
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from wastelab.data.taco import (
    ParseReport,
    TacoIndex,
    image_labels,
    load_taco,
    parse_annotations,
)

REAL_TACO = Path(__file__).resolve().parents[3] / "shared" / "data" / "taco"


def test_parse_annotations_indexes_by_id(fake_taco):
    index = parse_annotations(fake_taco.annotations)
    assert isinstance(index, TacoIndex)
    assert sorted(index.images) == [0, 1, 2, 3]
    assert [a["id"] for a in index.annotations[1]] == [12, 13]
    assert index.annotations[3] == []
    assert index.n_annotations == 5
    assert index.category_ids("Bottle") == {0, 1}
    assert index.category_ids("bottle") == {0, 1}
    assert index.supercategories() == ["Bottle", "Can", "Cigarette"]


def test_image_task_labels_shapes_and_content(fake_taco):
    x, y, meta = load_taco(fake_taco.root, verbose=0)
    assert x.dtype == np.uint8 and x.shape == (4, 50, 50, 1)
    assert y.dtype == np.int64 and y.tolist() == [1, 0, 1, 0]
    assert meta == {
        "source": "taco",
        "task": "image",
        "root": str(fake_taco.root),
        "annotations": str(fake_taco.annotations),
        "positive_supercategory": "Bottle",
        "annotation_report": "annotations.json: 5 annotations; kept 0 repeated ids, "
        "clipped 0 boxes to their image, skipped 0",
        "n_images": 4,
        "skipped_small_boxes": 0,
    }
    # image 2 is one bright box, image 3 is dark background
    assert x[2].mean() > fake_taco.bright - 20
    assert x[3].mean() < fake_taco.background + 20


def test_image_task_rgb_and_size(fake_taco):
    x, y, _ = load_taco(fake_taco.root, size=(24, 32), color="rgb", verbose=0)
    assert x.shape == (4, 24, 32, 3)


def test_objects_task_crops_boxes_and_skips_small_ones(fake_taco):
    x, y, meta = load_taco(
        fake_taco.root, task="objects", margin=0.0, min_box=16, verbose=0
    )
    assert x.shape == (4, 50, 50, 1) and x.dtype == np.uint8
    assert y.tolist() == [1, 0, 0, 1]  # annotations 10, 11, 12, 14; 13 (4x4) skipped
    assert meta["task"] == "objects"
    assert meta["skipped_small_boxes"] == 1
    assert meta["n_images"] == 4
    assert meta["min_box"] == 16 and meta["margin"] == 0.0
    # annotation 10 is exactly the bright box; 11 is background
    assert x[0].mean() > fake_taco.bright - 20
    assert x[1].mean() < fake_taco.background + 20
    # annotation 12 lies on the photo stored rotated with EXIF orientation 6: the box only
    # lands on the bright patch once the photo is turned upright
    assert x[2].mean() > fake_taco.bright - 20


def test_objects_task_margin_takes_in_surroundings(fake_taco):
    tight, _, _ = load_taco(fake_taco.root, task="objects", margin=0.0, verbose=0)
    wide, _, _ = load_taco(fake_taco.root, task="objects", margin=0.5, verbose=0)
    # around the bright box of annotation 10 is dark background
    assert wide[0].mean() < tight[0].mean() - 30


def test_objects_task_min_box_threshold(fake_taco):
    _, y, meta = load_taco(fake_taco.root, task="objects", min_box=4, verbose=0)
    assert len(y) == 5 and meta["skipped_small_boxes"] == 0
    _, y, meta = load_taco(fake_taco.root, task="objects", min_box=17, verbose=0)
    assert y.tolist() == [1, 0, 1]  # the 16x16 can goes too
    assert meta["skipped_small_boxes"] == 2
    with pytest.raises(ValueError, match="no box has a shorter side of at least 100"):
        load_taco(fake_taco.root, task="objects", min_box=100, verbose=0)


def test_objects_task_scales_boxes_for_a_resized_copy(fake_taco, make_image):
    # a half-size copy of photo 0 (as Flickr's 640-pixel versions are): boxes are scaled
    make_image(fake_taco.root / "batch_1/000000.jpg", 32, 24, box=(5, 4, 10, 15))
    x, y, _ = load_taco(fake_taco.root, task="objects", margin=0.0, verbose=0)
    assert y[0] == 1 and x[0].mean() > fake_taco.bright - 30


def test_objects_task_rejects_photo_of_another_shape(fake_taco, make_image):
    make_image(fake_taco.root / "batch_1/000000.jpg", 48, 64)
    with pytest.raises(
        ValueError, match=r"000000\.jpg: image is 48x64 but .* says 64x48"
    ):
        load_taco(fake_taco.root, task="objects", verbose=0)


def test_other_positive_supercategory(fake_taco):
    _, y, _ = load_taco(fake_taco.root, positive_supercategory="Can", verbose=0)
    assert y.tolist() == [1, 1, 0, 0]
    with pytest.raises(
        ValueError, match=r"no category has supercategory 'Glass'.*'Bottle'"
    ):
        load_taco(fake_taco.root, positive_supercategory="Glass", verbose=0)


def test_deterministic_whatever_the_file_order(fake_taco):
    x1, y1, _ = load_taco(fake_taco.root, task="objects", verbose=0)
    fake_taco.data["images"].reverse()
    fake_taco.data["annotations"].reverse()
    fake_taco.write()
    x2, y2, _ = load_taco(fake_taco.root, task="objects", verbose=0)
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(y1, y2)


def test_annotations_path_may_be_elsewhere(fake_taco, tmp_path):
    moved = tmp_path / "elsewhere.json"
    fake_taco.annotations.rename(moved)
    _, y, meta = load_taco(fake_taco.root, annotations=moved, verbose=0)
    assert len(y) == 4 and meta["annotations"] == str(moved)


def test_progress_bar_shown_and_silenced(fake_taco, capsys):
    load_taco(fake_taco.root, verbose=0)
    assert capsys.readouterr().err == ""
    load_taco(fake_taco.root, verbose=1)
    assert "4/4" in capsys.readouterr().err


# ------------------------------------------------------------------------ failures


@pytest.mark.parametrize(
    "section, entry_id, field",
    [
        ("annotations", 12, "bbox"),
        ("annotations", 10, "category_id"),
        ("annotations", 11, "image_id"),
        ("images", 2, "file_name"),
        ("images", 0, "width"),
        ("categories", 3, "supercategory"),
    ],
)
def test_missing_field_is_named(fake_taco, section, entry_id, field):
    entry = next(e for e in fake_taco.data[section] if e["id"] == entry_id)
    del entry[field]
    fake_taco.write()
    singular = {
        "annotations": "annotation",
        "images": "image",
        "categories": "category",
    }[section]
    expected = f"annotations.json: {singular} {entry_id} lacks '{field}'"
    with pytest.raises(ValueError, match=re.escape(expected)):
        parse_annotations(fake_taco.annotations)
    with pytest.raises(ValueError, match=re.escape(expected)):
        load_taco(fake_taco.root, verbose=0)


def test_entry_without_id(fake_taco):
    del fake_taco.data["annotations"][1]["id"]
    fake_taco.write()
    with pytest.raises(
        ValueError, match=r"annotations\.json: annotation #1 .*lacks 'id'"
    ):
        parse_annotations(fake_taco.annotations)


def test_missing_section(fake_taco):
    del fake_taco.data["categories"]
    fake_taco.write()
    with pytest.raises(
        ValueError, match=r"annotations\.json: lacks a list 'categories'"
    ):
        parse_annotations(fake_taco.annotations)


def test_unknown_category(fake_taco):
    fake_taco.annotation(11)["category_id"] = 99
    fake_taco.write()
    with pytest.raises(
        ValueError,
        match=r"annotations\.json: annotation 11 refers to unknown category_id 99",
    ):
        parse_annotations(fake_taco.annotations)


def test_unknown_image_id(fake_taco):
    fake_taco.annotation(13)["image_id"] = 7
    fake_taco.write()
    with pytest.raises(
        ValueError,
        match=r"annotations\.json: annotation 13 refers to unknown image_id 7",
    ):
        load_taco(fake_taco.root, verbose=0)


@pytest.mark.parametrize(
    "bbox",
    [
        [50.0, 8.0, 20.0, 30.0],  # right edge at 70 > 64 + 1
        [10.0, -2.0, 20.0, 30.0],  # above the top
        [10.0, 20.0, 20.0, 30.0],  # bottom edge at 50 > 48 + 1
    ],
)
def test_box_outside_image(fake_taco, bbox):
    fake_taco.annotation(10)["bbox"] = bbox
    fake_taco.write()
    with pytest.raises(
        ValueError,
        match=r"annotations\.json: annotation 10: bbox .* lies "
        r"outside its image 0 \(64x48, file batch_1/000000",
    ):
        parse_annotations(fake_taco.annotations, strict=True)
    index = parse_annotations(fake_taco.annotations)  # clipped to the 64x48 photo
    x, y, w, h = index.annotations[0][0]["bbox"]
    assert 0 <= x and 0 <= y and x + w <= 64 and y + h <= 48
    assert index.report.clipped == 1 and index.report.skipped == 0


def test_box_one_pixel_over_the_edge_is_tolerated(fake_taco):
    fake_taco.annotation(10)["bbox"] = [-0.5, 8.0, 65.0, 40.5]  # 0.5 px out, 3 sides
    fake_taco.write()
    _, y, _ = load_taco(fake_taco.root, task="objects", verbose=0)
    assert y[0] == 1
    strict = parse_annotations(fake_taco.annotations, strict=True)
    assert strict.annotations[0][0]["bbox"] == [-0.5, 8.0, 65.0, 40.5]  # as it was
    assert parse_annotations(fake_taco.annotations).annotations[0][0]["bbox"] == [
        0.0,
        8.0,
        64.0,
        40.0,
    ]


@pytest.mark.parametrize("bbox", [[1.0, 2.0, 3.0], [1.0, 2.0, "3", 4.0], None])
def test_malformed_box_is_structural(fake_taco, bbox):
    fake_taco.annotation(12)["bbox"] = bbox
    fake_taco.write()
    for strict in (False, True):
        with pytest.raises(ValueError, match=r"annotation 12: bbox must be 4 numbers"):
            parse_annotations(fake_taco.annotations, strict=strict)


@pytest.mark.parametrize(
    "bbox, problem, counter",
    [
        ([1.0, 2.0, -3.0, 4.0], r"bbox .* has a width or height <= 0", "empty"),
        ([1.0, 2.0, 0.0, 4.0], r"bbox .* has a width or height <= 0", "empty"),
        ([math.nan, 2.0, 3.0, 4.0], "bbox must be 4 finite numbers", "nonfinite"),
        ([300.0, 2.0, 3.0, 4.0], r"bbox .* lies outside its image", "outside"),
    ],
)
def test_unusable_box_is_skipped_or_refused(fake_taco, bbox, problem, counter):
    fake_taco.annotation(12)["bbox"] = bbox
    fake_taco.write()
    with pytest.raises(ValueError, match=rf"annotation 12: {problem}"):
        parse_annotations(fake_taco.annotations, strict=True)
    index = parse_annotations(fake_taco.annotations)
    assert [a["id"] for a in index.annotations[1]] == [13]
    assert getattr(index.report, f"skipped_{counter}") == 1
    assert (index.report.annotations, index.report.kept) == (5, 4)


def test_duplicate_id(fake_taco):
    fake_taco.data["images"].append(dict(fake_taco.image(2)))
    fake_taco.write()
    with pytest.raises(ValueError, match=r"annotations\.json: image 2 appears twice"):
        parse_annotations(fake_taco.annotations)


def test_not_json(fake_taco):
    fake_taco.annotations.write_text('{"images": [')
    with pytest.raises(ValueError, match=r"annotations\.json: not valid JSON"):
        parse_annotations(fake_taco.annotations)


def test_missing_annotation_file_and_root(fake_taco, tmp_path):
    fake_taco.annotations.unlink()
    with pytest.raises(
        FileNotFoundError, match=r"annotation file not found: .*annotations\.json"
    ):
        load_taco(fake_taco.root, verbose=0)
    with pytest.raises(FileNotFoundError, match=r"TACO folder not found: .*nowhere"):
        load_taco(tmp_path / "nowhere", verbose=0)


def test_missing_image_file(fake_taco):
    (fake_taco.root / "batch_2/000002.JPG").unlink()
    with pytest.raises(
        FileNotFoundError, match=r"1 image file\(s\) .* missing: .*000002\.JPG"
    ):
        load_taco(fake_taco.root, verbose=0)
    with pytest.raises(FileNotFoundError, match=r"000002\.JPG"):
        load_taco(fake_taco.root, task="objects", verbose=0)


def test_corrupt_image(fake_taco):
    bad = fake_taco.root / "batch_1/000001.jpg"
    bad.write_bytes(np.random.default_rng(0).bytes(500))
    with pytest.raises(ValueError, match=r"000001\.jpg: not a readable image"):
        load_taco(fake_taco.root, verbose=0)


def test_truncated_image(fake_taco):
    photo = fake_taco.root / "batch_1/000000.jpg"
    photo.write_bytes(photo.read_bytes()[: photo.stat().st_size // 2])
    with pytest.raises(ValueError, match=r"000000\.jpg: not a readable image"):
        load_taco(fake_taco.root, task="objects", verbose=0)


def test_bad_arguments(fake_taco):
    with pytest.raises(ValueError, match="task must be one of"):
        load_taco(fake_taco.root, task="boxes", verbose=0)
    with pytest.raises(ValueError, match="color must be one of"):
        load_taco(fake_taco.root, color="cmyk", verbose=0)
    with pytest.raises(ValueError, match="margin must be >= 0"):
        load_taco(fake_taco.root, margin=-0.1, verbose=0)


# ------------------------------------------------------------------------ real defects


def test_every_real_defect_is_repaired_or_skipped_and_counted(defective_taco):
    index = parse_annotations(defective_taco.annotations)
    assert index.report == ParseReport(
        name="annotations.json",
        annotations=11,
        repeated_ids=1,
        clipped=2,
        skipped_nonfinite=1,
        skipped_empty=1,
        skipped_outside=1,
    )
    assert index.report.line() == (
        "annotations.json: 11 annotations; kept 1 repeated ids, clipped 2 boxes to "
        "their image, skipped 3 (1 with a non-finite box, 1 with an empty box, "
        "1 outside their image)"
    )
    assert index.n_annotations == 8
    # both annotations with id 10 are kept, each on its own photo
    assert [a["category_id"] for a in index.annotations[0] if a["id"] == 10] == [0]
    assert [a["category_id"] for a in index.annotations[2] if a["id"] == 10] == [2]
    boxes = {a["id"]: a["bbox"] for anns in index.annotations.values() for a in anns}
    assert boxes[20] == pytest.approx([40.0, 0.0, 20.0, 18.7])  # cut at the top
    assert boxes[21] == pytest.approx([50.0, 10.0, 14.0, 20.0])  # cut at the right
    assert not {22, 23, 24} & set(boxes)
    # the file itself is left as it was
    on_disk = json.loads(defective_taco.annotations.read_text())
    assert defective_taco.annotation(20)["bbox"] in [
        a["bbox"] for a in on_disk["annotations"]
    ]


@pytest.mark.parametrize(
    "ann_id, problem",
    [
        (10, "annotation 10 appears twice"),
        (20, r"annotation 20: bbox .* lies outside its image 0"),
        (21, r"annotation 21: bbox .* lies outside its image 2"),
        (22, r"annotation 22: bbox .* lies outside its image 0"),
        (23, r"annotation 23: bbox must be 4 finite numbers .*inf"),
        (24, r"annotation 24: bbox .* has a width or height <= 0"),
    ],
)
def test_strict_refuses_each_real_defect(defective_taco, ann_id, problem):
    originals, defects = (
        defective_taco.data["annotations"][:5],
        defective_taco.data["annotations"][5:],
    )
    defective_taco.data["annotations"] = originals + [
        d for d in defects if d["id"] == ann_id
    ]
    defective_taco.write()
    with pytest.raises(ValueError, match=problem):
        parse_annotations(defective_taco.annotations, strict=True)
    parse_annotations(defective_taco.annotations)  # the tolerant reading goes through


def test_loading_a_defective_tree_reports_in_one_line(defective_taco, capsys):
    x, y, meta = load_taco(defective_taco.root, task="objects", verbose=1)
    out = capsys.readouterr().out.strip().splitlines()
    assert out == [meta["annotation_report"]]
    assert "kept 1 repeated ids, clipped 2 boxes" in out[0]
    # 8 annotations kept; 13 (4x4) and 21's clipped 14-pixel box are under min_box 16
    assert len(y) == 6 and meta["skipped_small_boxes"] == 2
    with pytest.raises(ValueError, match="appears twice"):
        load_taco(defective_taco.root, strict=True, verbose=0)


def test_optional_fields_may_be_missing(fake_taco):
    for ann in fake_taco.data["annotations"]:
        for optional in ("segmentation", "area", "iscrowd"):
            del ann[optional]
    for image in fake_taco.data["images"]:
        del image["flickr_url"]
    del fake_taco.data["info"]
    fake_taco.write()
    index = parse_annotations(fake_taco.annotations, strict=True)
    assert index.n_annotations == 5 and index.report.skipped == 0


def test_image_labels_in_image_id_order(fake_taco):
    index = parse_annotations(fake_taco.annotations)
    y = image_labels(index, index.category_ids("Bottle"))
    assert y.dtype == np.int64 and y.tolist() == [1, 0, 1, 0]


@pytest.mark.parametrize(
    "compress, suffix", [(gzip.compress, ".gz"), (lzma.compress, ".xz")]
)
def test_compressed_files_are_read_transparently(fake_taco, compress, suffix):
    packed = fake_taco.root / f"annotations.json{suffix}"
    packed.write_bytes(compress(fake_taco.annotations.read_bytes()))
    index = parse_annotations(packed)
    assert index.n_annotations == 5 and index.report.name == packed.name
    _, y, _ = load_taco(fake_taco.root, annotations=packed.name, verbose=0)
    assert y.tolist() == [1, 0, 1, 0]
    packed.write_bytes(packed.read_bytes()[:40])  # cut short
    with pytest.raises(
        ValueError, match=rf"annotations\.json\{suffix}: compressed data"
    ):
        parse_annotations(packed)


def test_a_loaded_dict_is_accepted(fake_taco):
    index = parse_annotations(fake_taco.data)
    assert index.path is None and index.n_annotations == 5
    assert index.report.line().startswith("annotations: 5 annotations;")


# ------------------------------------------------------------------------ real files


def _real(name: str) -> Path:
    path = REAL_TACO / name
    if not path.is_file():
        pytest.skip(f"the real TACO file {path} is not on this machine")
    return path


def _independent_count(path: Path) -> dict[str, int]:
    """Repeated ids, boxes to clip and boxes to skip, counted with plain json."""
    data = json.loads(path.read_text())
    images = {image["id"]: image for image in data["images"]}
    ids = Counter(ann["id"] for ann in data["annotations"])
    counts = Counter(repeated_ids=sum(n - 1 for n in ids.values()))
    for ann in data["annotations"]:
        x, y, w, h = ann["bbox"]
        width, height = (
            images[ann["image_id"]]["width"],
            images[ann["image_id"]]["height"],
        )
        if not all(map(math.isfinite, (x, y, w, h))):
            counts["skipped_nonfinite"] += 1
        elif w <= 0 or h <= 0:
            counts["skipped_empty"] += 1
        elif min(x + w, width) <= max(x, 0) or min(y + h, height) <= max(y, 0):
            counts["skipped_outside"] += 1
        elif x < 0 or y < 0 or x + w > width or y + h > height:
            counts["clipped"] += 1
    return {"annotations": len(data["annotations"]), **+counts}  # + drops zeros


@pytest.mark.parametrize("name", ["annotations.json", "annotations_unofficial.json"])
def test_real_files_are_read_and_accounted(name):
    path = _real(name)
    with pytest.raises(ValueError):  # the defects are real: strict refuses both files
        parse_annotations(path, strict=True)
    index = parse_annotations(path)
    report = index.report.as_dict()
    assert report.pop("name") == name
    expected = _independent_count(path)
    assert {k: v for k, v in report.items() if v or k == "annotations"} == expected
    assert index.n_annotations == index.report.kept
    for image_id, anns in index.annotations.items():
        image = index.images[image_id]
        for ann in anns:
            x, y, w, h = ann["bbox"]
            assert 0 <= x and 0 <= y and w > 0 and h > 0
            assert x + w <= image["width"] and y + h <= image["height"]


def test_official_file_has_the_defects_issue_9_names():
    report = parse_annotations(_real("annotations.json")).report
    assert report.annotations == 4784 and report.repeated_ids == 2
