"""Saving and loading splits as .npz: round trip, atomic writes, refusing bad files."""

import json
import os

import numpy as np
import pytest

from wastelab import __version__
from wastelab.atomic import atomic_write
from wastelab.data import load_splits, save_splits, stratified_split

ARRAYS = ["x_train", "y_train", "x_val", "y_val", "x_test", "y_test"]


@pytest.fixture
def splits():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (50, 6, 6, 1), dtype=np.uint8)
    y = (np.arange(50) % 3 == 0).astype(np.int64)
    return stratified_split(x, y, seed=7, meta={"source": "synthetic", "task": "image"})


def test_round_trip_keeps_arrays_and_metadata(tmp_path, splits):
    path = save_splits(splits, tmp_path / "sub" / "data.npz")
    back = load_splits(path)
    for name in ARRAYS:
        assert np.array_equal(getattr(back, name), getattr(splits, name))
        assert getattr(back, name).dtype == getattr(splits, name).dtype
    assert back.class_names == ("other", "bottle")
    assert back.meta["source"] == "synthetic" and back.meta["seed"] == 7
    assert back.meta["wastelab_version"] == __version__
    assert back.meta["image_shape"] == [6, 6, 1]
    assert os.listdir(tmp_path / "sub") == ["data.npz"]  # no temporary file left


def test_failed_write_leaves_nothing_behind(tmp_path):
    target = tmp_path / "out.npz"

    def explode(tmp):
        tmp.write_bytes(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(target, explode)
    assert list(tmp_path.iterdir()) == []


def test_failed_write_keeps_the_previous_file(tmp_path, splits):
    path = save_splits(splits, tmp_path / "data.npz")
    before = path.read_bytes()
    with pytest.raises(RuntimeError):
        atomic_write(path, lambda tmp: (_ for _ in ()).throw(RuntimeError("boom")))
    assert path.read_bytes() == before


def _write(path, **arrays):
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)


def _valid_arrays(splits):
    arrays = {n: getattr(splits, n) for n in ARRAYS}
    arrays["meta"] = np.array(json.dumps({"class_names": ["other", "bottle"]}))
    return arrays


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="absent.npz"):
        load_splits(tmp_path / "absent.npz")


def test_not_an_npz(tmp_path):
    bad = tmp_path / "garbage.npz"
    bad.write_bytes(b"not a zip at all")
    with pytest.raises(ValueError, match="garbage.npz"):
        load_splits(bad)


@pytest.mark.parametrize(
    "content", [b"x,y\n1,2\n", np.lib.format.MAGIC_PREFIX + b"\x01\x00"]
)
def test_a_text_or_npy_file_named_npz_is_not_an_npz_file(tmp_path, content):
    bad = tmp_path / "table.npz"
    bad.write_bytes(content)
    with pytest.raises(ValueError, match=r"table\.npz: not an \.npz file") as err:
        load_splits(bad)
    assert "pickle" not in str(err.value)


@pytest.mark.parametrize("umask,mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_saved_splits_get_the_mode_the_umask_allows(tmp_path, splits, umask, mode):
    previous = os.umask(umask)
    try:
        path = save_splits(splits, tmp_path / "data.npz")
    finally:
        os.umask(previous)
    assert path.stat().st_mode & 0o777 == mode


def test_pickled_objects_are_refused(tmp_path, splits):
    arrays = _valid_arrays(splits)
    arrays["y_train"] = np.array([{"evil": 1}] * len(splits.y_train), dtype=object)
    path = tmp_path / "pickled.npz"
    _write(path, **arrays)
    with pytest.raises(ValueError, match="pickled.npz"):
        load_splits(path)


@pytest.mark.parametrize(
    "change,message",
    [
        (lambda a: a.update(x_train=a["x_train"].astype(np.float32)), "uint8"),
        (lambda a: a.update(x_val=a["x_val"][:, :, :, 0]), "shape"),
        (lambda a: a.update(y_test=a["y_test"] + 5), "out of range"),
        (lambda a: a.update(y_train=a["y_train"][:-1]), "labels must have shape"),
        (lambda a: a.pop("x_test"), "missing arrays"),
        (lambda a: a.update(meta=np.array(json.dumps({"no": "names"}))), "class_names"),
    ],
)
def test_bad_contents_are_refused_naming_the_file(tmp_path, splits, change, message):
    arrays = _valid_arrays(splits)
    change(arrays)
    path = tmp_path / "broken.npz"
    _write(path, **arrays)
    with pytest.raises(ValueError, match=message) as err:
        load_splits(path)
    assert "broken.npz" in str(err.value)
