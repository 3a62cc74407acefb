"""Statistics of COCO files and ``wastelab data summary/prepare`` on them.

The numbers for the real official file are checked against an independent count made
here with plain json and numpy, not against constants copied from the output.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from wastelab.cli import main
from wastelab.data.coco_stats import BOTTLE_CATEGORIES, coco_statistics

ROOT = Path(__file__).resolve().parents[2]
REAL_TACO = ROOT.parent / "shared" / "data" / "taco"
SHIPPED = ROOT / "book" / "data" / "taco" / "annotations.json.xz"


def _real(name: str) -> Path:
    path = REAL_TACO / name
    if not path.is_file():
        pytest.skip(f"the real TACO file {path} is not on this machine")
    return path


def _independent(path: Path) -> dict:
    """The statistics, counted with json + numpy only (the official file has no box to
    skip, and clipping moves no box by more than 1.4 pixels: sizes use the raw boxes)."""
    data = json.loads(path.read_text())
    images = {image["id"]: image for image in data["images"]}
    names = {c["id"]: c["name"] for c in data["categories"]}
    bottles = {cid for cid, name in names.items() if name in BOTTLE_CATEGORIES}
    per_image = {image_id: 0 for image_id in images}
    with_bottle = set()
    sizes = []
    for ann in data["annotations"]:
        per_image[ann["image_id"]] += 1
        if ann["category_id"] in bottles:
            with_bottle.add(ann["image_id"])
        image = images[ann["image_id"]]
        _, _, w, h = ann["bbox"]
        sizes.append(math.sqrt(w * h / (image["width"] * image["height"])))
    counts = np.array(list(per_image.values()))
    return {
        "images": len(images),
        "annotations": len(data["annotations"]),
        "categories": len(names),
        "bottle images": len(with_bottle),
        "objects mean": counts.mean(),
        "objects median": np.median(counts),
        "size quartiles": np.percentile(sizes, [25, 50, 75]),
        "cigarettes": sum(
            names[a["category_id"]] == "Cigarette" for a in data["annotations"]
        ),
    }


def test_official_file_against_an_independent_count():
    path = _real("annotations.json")
    stats = coco_statistics(path)
    expected = _independent(path)
    assert stats.n_images == expected["images"]
    assert stats.n_annotations == expected["annotations"]
    assert stats.n_categories == expected["categories"]
    assert stats.n_bottle_images == expected["bottle images"]
    assert stats.bottle_share == pytest.approx(
        expected["bottle images"] / expected["images"]
    )
    assert stats.objects_per_image.mean() == pytest.approx(expected["objects mean"])
    assert np.median(stats.objects_per_image) == expected["objects median"]
    quartiles = np.percentile(stats.relative_sizes, [25, 50, 75])
    assert quartiles == pytest.approx(expected["size quartiles"], rel=1e-3)
    assert stats.category_counts["Cigarette"] == expected["cigarettes"]
    assert sum(stats.category_counts.values()) == expected["annotations"]
    assert stats.is_bottle.sum() == sum(
        stats.category_counts[name] for name in BOTTLE_CATEGORIES
    )


def test_shipped_copy_gives_the_same_statistics():
    path = _real("annotations.json")
    real, shipped = coco_statistics(path), coco_statistics(SHIPPED)
    assert shipped.report.name == "annotations.json.xz"
    assert real.summary() == shipped.summary()


def test_caps_and_lids_are_not_bottles(fake_taco):
    fake_taco.data["categories"].append(
        {"id": 7, "name": "Plastic bottle cap", "supercategory": "Bottle cap"}
    )
    fake_taco.data["categories"][0]["name"] = "Glass bottle"
    fake_taco.data["categories"][1]["name"] = "Clear plastic bottle"
    fake_taco.annotation(13)["category_id"] = 7  # a cap on photo 1: not a bottle photo
    stats = coco_statistics(fake_taco.data)
    assert stats.has_bottle.tolist() == [True, False, True, False]
    assert stats.is_bottle.tolist() == [True, False, False, False, True]
    assert stats.objects_per_image.tolist() == [2, 2, 1, 0]
    assert stats.relative_sizes[0] == pytest.approx(math.sqrt(20 * 30 / (64 * 48)))
    assert stats.image_sizes.tolist() == [[64, 48], [48, 64], [64, 64], [40, 40]]


@pytest.mark.parametrize("name", ["annotations.json", "annotations_unofficial.json"])
def test_summary_command_on_the_real_files(name, capsys):
    path = _real(name)
    assert main(["data", "summary", str(path)]) == 0
    out = capsys.readouterr().out
    first, *rest = out.splitlines()
    assert first.startswith(f"{name}: ") and "repeated ids" in first
    assert "images with a bottle:" in out and "objects per image:" in out
    assert "sqrt(box area / image area)" in out and "image sizes:" in out
    assert "caps and lids are not bottles" in out
    assert all(len(line) <= 88 for line in rest)
    assert main(["data", "summary", "--strict", str(path)]) == 2
    assert "error:" in capsys.readouterr().err


def test_summary_command_on_a_defective_file_and_on_an_npz(
    defective_taco, tmp_path, capsys
):
    assert main(["data", "summary", str(defective_taco.annotations)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("annotations.json: 11 annotations; kept 1 repeated ids, ")
    assert "images 4, annotations 8, categories 4" in out
    npz = tmp_path / "s.npz"
    args = ["data", "prepare", "--n", "40", "--out", str(npz)]
    assert main(["-q", *args]) == 0
    capsys.readouterr()
    assert main(["data", "summary", str(npz)]) == 0
    assert "synthetic: 50x50x1 images" in capsys.readouterr().out


def test_prepare_taco_with_the_real_defects_succeeds_and_reports(
    defective_taco, make_image, tmp_path, capsys
):
    for k in range(4, 24):  # enough photos of each class for three non-empty splits
        name = f"batch_3/{k:06d}.jpg"
        make_image(defective_taco.root / name, 32, 32, seed=k)
        defective_taco.data["images"].append(
            {"id": k, "file_name": name, "width": 32, "height": 32}
        )
        defective_taco.data["annotations"].append(
            {
                "id": 100 + k,
                "image_id": k,
                "category_id": 2 * (k % 2),
                "bbox": [1, 1, 8, 8],
            }
        )
    defective_taco.write()
    out = tmp_path / "taco.npz"
    args = ["data", "prepare", "--source", "taco", "--root", str(defective_taco.root)]
    assert main(["-q", *args, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith(
        "annotations.json: 31 annotations; kept 1 repeated ids, clipped 2 boxes to "
        "their image, skipped 3"
    )
    assert out.is_file()
    refused = tmp_path / "strict.npz"
    assert main(["-q", *args, "--strict", "--out", str(refused)]) == 2
    assert "appears twice" in capsys.readouterr().err
    assert not refused.exists()
