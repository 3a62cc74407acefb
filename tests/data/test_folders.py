"""Class folders (TrashNet layout): labels, order, metadata and every failure mode."""

from __future__ import annotations

import numpy as np
import pytest

from wastelab.data.folders import list_class_folders, load_folders


def test_labels_shapes_and_meta(class_folders):
    x, y, meta = load_folders(class_folders, verbose=0)
    assert x.dtype == np.uint8 and x.shape == (6, 50, 50, 1)
    assert y.dtype == np.int64
    # folders sorted (Can, bottle, paper: case-sensitive sort), files sorted within
    assert y.tolist() == [0, 0, 1, 1, 1, 0]
    assert meta == {
        "source": "folder",
        "root": str(class_folders),
        "folders": {"Can": 2, "bottle": 3, "paper": 1},
        "positive": ["bottle"],
    }
    # bottle images carry a bright box, the others are dark
    assert x[y == 1].mean() > x[y == 0].mean() + 20


def test_list_class_folders_sorted_and_filtered(class_folders):
    classes = list_class_folders(class_folders)
    assert list(classes) == ["Can", "bottle", "paper"]
    assert [p.name for p in classes["bottle"]] == ["a.jpg", "b.PNG", "c.jpeg"]
    assert [p.name for p in classes["paper"]] == ["f.jpg"]  # notes.txt ignored


def test_positive_is_case_insensitive_and_may_be_a_string(class_folders):
    _, y, meta = load_folders(class_folders, positive="can", verbose=0)
    assert y.tolist() == [1, 1, 0, 0, 0, 0]
    assert meta["positive"] == ["Can"]
    _, y, meta = load_folders(
        class_folders, positive=["BOTTLE", "Paper", "glass"], verbose=0
    )
    assert y.tolist() == [0, 0, 1, 1, 1, 1]
    assert meta["positive"] == ["bottle", "paper"]


def test_rgb_and_size(class_folders):
    x, _, _ = load_folders(class_folders, size=(20, 30), color="rgb", verbose=0)
    assert x.shape == (6, 20, 30, 3)


def test_deterministic(class_folders):
    x1, y1, _ = load_folders(class_folders, verbose=0)
    x2, y2, _ = load_folders(class_folders, verbose=0)
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(y1, y2)


def test_progress_bar_shown_and_silenced(class_folders, capsys):
    load_folders(class_folders, verbose=0)
    assert capsys.readouterr().err == ""
    load_folders(class_folders, verbose=1)
    assert "6/6" in capsys.readouterr().err


def test_missing_root(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"image folder not found: .*nowhere"):
        load_folders(tmp_path / "nowhere", verbose=0)


def test_no_class_folders(tmp_path, make_image):
    make_image(tmp_path / "loose.jpg")
    with pytest.raises(ValueError, match=r"no class folders"):
        load_folders(tmp_path, verbose=0)


def test_empty_class_folder(class_folders):
    (class_folders / "metal").mkdir()
    (class_folders / "metal" / "readme.md").write_text("empty")
    with pytest.raises(ValueError, match=r"class folder .*metal has no images"):
        load_folders(class_folders, verbose=0)


def test_positive_names_no_folder(class_folders):
    with pytest.raises(
        ValueError,
        match=r"positive=\['glass'\] names no class folder; "
        r"found \['Can', 'bottle', 'paper'\]",
    ):
        load_folders(class_folders, positive=("glass",), verbose=0)


def test_corrupt_image(class_folders):
    (class_folders / "Can" / "d.JPG").write_bytes(b"\xff\xd8 definitely not a jpeg")
    with pytest.raises(ValueError, match=r"Can/d\.JPG: not a readable image"):
        load_folders(class_folders, verbose=0)


def test_truncated_image(class_folders):
    photo = class_folders / "bottle" / "b.PNG"
    photo.write_bytes(photo.read_bytes()[: photo.stat().st_size // 2])
    with pytest.raises(ValueError, match=r"bottle/b\.PNG: not a readable image"):
        load_folders(class_folders, verbose=0)


def test_only_positive_folders_is_refused_naming_the_missing_class(
    tmp_path, make_image
):
    make_image(tmp_path / "bottle" / "a.jpg")
    make_image(tmp_path / "bottle" / "b.jpg")
    with pytest.raises(ValueError, match=r"no images of class 'other'"):
        load_folders(tmp_path, positive="bottle", verbose=0)


def test_16_bit_photos_in_a_class_folder_keep_their_gray_levels(class_folders):
    from PIL import Image

    mid = np.full((40, 40), 32768, dtype=np.uint16)  # mid-gray in 16 bits
    Image.fromarray(mid).save(class_folders / "paper" / "deep.png")
    x, _, _ = load_folders(class_folders, size=(10, 10), verbose=0)
    assert x.shape[0] == 7 and abs(int(x[5].mean()) - 128) <= 1  # paper/deep.png
