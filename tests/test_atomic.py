"""The atomic writer: whole files or none, the mode the umask allows, valid JSON."""

from __future__ import annotations

import errno
import json
import math
import os
from pathlib import Path

import pytest

from wastelab.atomic import atomic_write, write_json


@pytest.fixture
def umask():
    """Set the process umask for a test; restored afterwards."""
    previous = os.umask(0o022)
    yield lambda mask: os.umask(mask)
    os.umask(previous)


@pytest.mark.parametrize("mask,mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_files_get_the_mode_a_plain_open_would_give(tmp_path, umask, mask, mode):
    umask(mask)
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    path = atomic_write(tmp_path / "a.txt", lambda tmp: tmp.write_text("x"))
    assert path.stat().st_mode & 0o777 == mode == plain.stat().st_mode & 0o777
    assert write_json(tmp_path / "s.json", {}).stat().st_mode & 0o777 == mode


def test_a_full_disk_leaves_neither_a_partial_file_nor_a_temporary_one(
    tmp_path, monkeypatch
):
    old = write_json(tmp_path / "scores.json", {"f1": 0.5})

    def disk_full(self, text, *args, **kwargs):
        os.write(os.open(self, os.O_WRONLY), text[:3].encode())  # half written...
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))

    monkeypatch.setattr(Path, "write_text", disk_full)
    with pytest.raises(OSError, match="No space left"):
        write_json(tmp_path / "scores.json", {"f1": 0.75})
    with pytest.raises(OSError, match="No space left"):
        write_json(tmp_path / "new.json", {"f1": 0.75})
    assert [p.name for p in tmp_path.iterdir()] == ["scores.json"]
    assert json.loads(old.read_text()) == {"f1": 0.5}  # the old file, whole


def test_json_is_valid_even_with_non_finite_numbers(tmp_path):
    history = {"loss": [0.7, math.nan, math.inf], "best": -math.inf, "n": (1, 2)}
    text = write_json(tmp_path / "history.json", history).read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text) == {"loss": [0.7, None, None], "best": None, "n": [1, 2]}


def test_missing_folders_are_created(tmp_path):
    path = write_json(tmp_path / "a" / "b" / "c.json", [1])
    assert json.loads(path.read_text()) == [1]
