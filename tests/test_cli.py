"""The ``wastelab`` command's error policy: every fault it can explain is one line on
stderr with its own exit code, nothing half written is left behind, and a run stopped
with Ctrl-C (a real SIGINT, mid-epoch) resumes to exactly the uninterrupted result."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from wastelab import cli
from wastelab.data import save_splits, stratified_split

ROOT = Path(__file__).resolve().parent.parent
SIDE = 16
RESUME = "interrupted after epoch {}; run the same command again to resume"


@pytest.fixture(scope="module")
def npz(tmp_path_factory) -> Path:
    """200 noisy 16x16 images, a third with a bright square (class 1), as a prepared
    .npz: 160 for training, 20 each for validation and test."""
    rng = np.random.default_rng(0)
    y = (rng.random(200) < 0.33).astype(np.int64)
    x = rng.integers(0, 110, (200, SIDE, SIDE, 1)).astype(np.uint8)
    x[y == 1, 4:12, 4:12, 0] += 120
    path = tmp_path_factory.mktemp("data") / "tiny.npz"
    return save_splits(stratified_split(x, y, seed=0), path)


def wastelab(capsys, *args: str) -> tuple[int, str, str]:
    """Run ``wastelab -q ARGS`` in this process: exit code, stdout, stderr."""
    code = cli.main(["-q", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def one_line(err: str) -> str:
    """stderr must be exactly one line from wastelab, with no traceback."""
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("wastelab: "), err
    return lines[0]


def disk_full_on(monkeypatch, cls, method: str) -> None:
    """``cls.method`` fails as on a full disk (ENOSPC, naming the file)."""

    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))

    monkeypatch.setattr(cls, method, full)


def leftovers(folder: Path) -> list[str]:
    """Temporary files of the atomic writer (or anything hidden) under ``folder``."""
    return sorted(str(p) for p in folder.rglob(".*"))


def test_exit_codes_are_distinct():
    codes = [
        cli.EXIT_BAD_INPUT,
        cli.EXIT_DIVERGED,
        cli.EXIT_IMAGE,
        cli.EXIT_FILE,
        cli.EXIT_TENSORFLOW,
        cli.EXIT_INTERRUPTED,
    ]
    assert len(set(codes)) == len(codes) and 0 not in codes and 1 not in codes
    assert cli.EXIT_INTERRUPTED == 130


# ----------------------------------------------------------- checked before any work


@pytest.mark.parametrize("rate", ["nan", "inf", "0", "-1"])
def test_a_bad_learning_rate_is_refused_before_any_work(tmp_path, capsys, rate):
    with pytest.raises(SystemExit) as done:
        cli.main(["train", "--learning-rate", rate, "--out", str(tmp_path / "run")])
    assert done.value.code == cli.EXIT_BAD_INPUT
    assert "--learning-rate: must be a finite number above 0" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


@pytest.fixture
def no_data_loading(monkeypatch):
    """Fail the test if the command starts its work (loading data)."""

    def load(*args, **kwargs):
        raise AssertionError("the data was loaded before the output was checked")

    monkeypatch.setattr(cli, "_load", load)


def test_train_out_naming_a_file_is_one_line(tmp_path, capsys, no_data_loading):
    taken = tmp_path / "notes.txt"
    taken.write_text("mine")
    code, _, err = wastelab(capsys, "train", "--out", taken)
    assert code == cli.EXIT_FILE
    assert one_line(err) == f"wastelab: error: {taken}: exists and is not a folder"
    assert taken.read_text() == "mine"


def test_evaluate_json_naming_a_folder_is_one_line(tmp_path, capsys, no_data_loading):
    code, _, err = wastelab(capsys, "evaluate", "m.keras", "--json", tmp_path)
    assert code == cli.EXIT_FILE and "is a folder, not a file" in one_line(err)


def test_a_read_only_output_folder_is_one_line_and_nothing_is_created(
    tmp_path, capsys, monkeypatch, no_data_loading
):
    """The check asks the OS (os.access), so it also sees read-only file systems."""
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access
    monkeypatch.setattr(
        cli.os, "access", lambda p, mode: Path(p) != locked and real_access(p, mode)
    )
    code, _, err = wastelab(capsys, "train", "--out", locked / "runs" / "cnn")
    assert code == cli.EXIT_FILE
    assert one_line(err) == f"wastelab: error: {locked}: no permission to write here"
    assert list(locked.iterdir()) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only folders")
def test_a_read_only_folder_for_real(tmp_path, capsys, no_data_loading):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    code, _, err = wastelab(capsys, "train", "--out", locked / "run")
    assert code == cli.EXIT_FILE and "no permission" in one_line(err)


# ----------------------------------------------------------- errors during the work


def test_a_tensorflow_error_is_one_line(tmp_path, capsys, monkeypatch, npz):
    import tensorflow as tf

    from wastelab import training

    def denied(*args, **kwargs):
        raise tf.errors.PermissionDeniedError(
            None, None, "run/logs/train; Permission denied\n\t[[node WriteSummary]]"
        )

    monkeypatch.setattr(training, "train", denied)
    code, _, err = wastelab(capsys, "train", "--data", npz, "--out", tmp_path / "r")
    assert code == cli.EXIT_TENSORFLOW
    assert one_line(err) == (
        "wastelab: error: TensorFlow: run/logs/train; Permission denied"
    )


def test_a_pillow_error_is_one_line(tmp_path, capsys, monkeypatch):
    def bomb(*args, **kwargs):
        raise Image.DecompressionBombError(
            "Image size (192000000 pixels) exceeds limit"
        )

    monkeypatch.setattr(cli, "_load", bomb)
    code, _, err = wastelab(capsys, "train", "--out", tmp_path / "r")
    assert code == cli.EXIT_IMAGE and "192000000 pixels" in one_line(err)


def test_debug_shows_the_traceback(tmp_path, no_data_loading):
    taken = tmp_path / "file"
    taken.write_text("")
    with pytest.raises(NotADirectoryError):
        cli.main(["--debug", "train", "--out", str(taken)])


@pytest.mark.parametrize(
    "backup_epochs,message",
    [
        (None, "interrupted before an epoch was backed up"),
        (2, RESUME.format(2)),
    ],
)
def test_ctrl_c_is_one_line_with_exit_code_130(
    tmp_path, capsys, monkeypatch, backup_epochs, message
):
    out = tmp_path / "run"
    if backup_epochs is not None:
        (out / "backup").mkdir(parents=True)
        meta = {"epoch": backup_epochs, "batch": 0}
        (out / "backup" / "training_metadata.json").write_text(json.dumps(meta))

    def ctrl_c(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_load", ctrl_c)
    code, _, err = wastelab(capsys, "train", "--out", out)
    assert code == cli.EXIT_INTERRUPTED and message in one_line(err)


def test_prepare_with_one_class_only_names_the_missing_class(tmp_path, capsys):
    for name in ("a.png", "b.png"):
        (tmp_path / "photos" / "bottle").mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (20, 20)).save(tmp_path / "photos" / "bottle" / name)
    code, _, err = wastelab(
        capsys,
        "data",
        "prepare",
        "--source",
        "folder",
        "--root",
        tmp_path / "photos",
        "--out",
        tmp_path / "out.npz",
    )
    assert code == cli.EXIT_BAD_INPUT and "no images of class 'other'" in one_line(err)
    assert not (tmp_path / "out.npz").exists()


def test_prepare_with_an_image_over_the_pixel_limit_is_one_line(
    tmp_path, capsys, monkeypatch
):
    for folder, size in (("bottle", 20), ("other", 20), ("other", 200)):
        (tmp_path / "photos" / folder).mkdir(parents=True, exist_ok=True)
        Image.new("L", (size, size)).save(tmp_path / "photos" / folder / f"{size}.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 30_000)  # 40,000: over it
    with pytest.warns(Image.DecompressionBombWarning):
        code, _, err = wastelab(
            capsys,
            "data",
            "prepare",
            "--source",
            "folder",
            "--root",
            tmp_path / "photos",
            "--out",
            tmp_path / "out.npz",
        )
    assert code == cli.EXIT_BAD_INPUT
    line = one_line(err)
    assert "other/200.png: 40,000 pixels is over Pillow's limit" in line


def test_disk_full_during_prepare_leaves_no_file(tmp_path, capsys, monkeypatch):
    from wastelab.data import cache

    def savez(fh, **arrays):
        fh.write(b"PK\x03\x04 half an archive")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(cache.np, "savez", savez)
    out = tmp_path / "data" / "tiny.npz"
    code, _, err = wastelab(
        capsys, "data", "prepare", "--n", "60", "--size", "16", "--out", out
    )
    assert code == cli.EXIT_FILE
    assert one_line(err) == "wastelab: error: No space left on device"
    assert list(out.parent.iterdir()) == []


# ----------------------------------------------------------- real training runs


@pytest.fixture(scope="module")
def trained(npz, tmp_path_factory):
    """One `wastelab train` run (2 epochs of the course CNN) and its folder."""
    out = tmp_path_factory.mktemp("runs") / "cnn"
    previous = os.umask(0o022)
    try:
        code = cli.main(
            [
                "-q",
                "train",
                "--data",
                str(npz),
                "--epochs",
                "2",
                "--batch-size",
                "32",
                "--out",
                str(out),
            ]
        )
    finally:
        os.umask(previous)
    assert code == 0
    return out


def test_train_writes_every_file_valid_and_readable_by_others(trained):
    history = json.loads((trained / "history.json").read_text())
    assert len(history["val_loss"]) == 2 and len(history["loss"]) == 2
    assert not (trained / "backup").exists()
    for name in ("model.keras", "best.keras", "history.json"):
        assert (trained / name).stat().st_mode & 0o777 == 0o644, name
    assert leftovers(trained) == []


def test_evaluate_json_is_written_whole_and_valid(trained, npz, tmp_path, capsys):
    path = tmp_path / "scores" / "test.json"
    code, out, _ = wastelab(
        capsys, "evaluate", trained / "model.keras", "--data", npz, "--json", path
    )
    assert code == 0 and out.startswith("test (20 images):")
    assert set(json.loads(path.read_text())) >= {"accuracy", "f1", "loss"}


def test_disk_full_during_evaluate_json_leaves_no_file(
    trained, npz, tmp_path, capsys, monkeypatch
):
    disk_full_on(monkeypatch, Path, "write_text")
    path = tmp_path / "test.json"
    code, _, err = wastelab(
        capsys, "evaluate", trained / "model.keras", "--data", npz, "--json", path
    )
    assert code == cli.EXIT_FILE
    line = one_line(err)
    assert "No space left on device" in line and "test.json" in line
    assert list(tmp_path.iterdir()) == []  # no 0-byte file, no temporary file


def test_disk_full_during_train_is_one_line_and_leaves_no_partial_file(
    npz, tmp_path, capsys, monkeypatch
):
    disk_full_on(monkeypatch, Path, "write_text")  # the first: the backup's history
    out = tmp_path / "run"
    code, _, err = wastelab(
        capsys, "train", "--data", npz, "--epochs", "2", "--out", out
    )
    assert code == cli.EXIT_FILE
    line = one_line(err)
    assert "No space left on device" in line and "history.json" in line
    assert leftovers(out) == [] and not (out / "model.keras").exists()


def test_training_that_diverges_stops_with_its_own_exit_code(
    npz, tmp_path, capsys, monkeypatch
):
    from wastelab import training

    def diverges(*args, **kwargs):
        raise FloatingPointError("the training loss became nan in epoch 3, so ...")

    monkeypatch.setattr(training, "train", diverges)
    code, _, err = wastelab(capsys, "train", "--data", npz, "--out", tmp_path / "r")
    assert code == cli.EXIT_DIVERGED and "loss became nan in epoch 3" in one_line(err)


# ----------------------------------------------------------- Ctrl-C for real

PAUSING_CHILD = """
import os, sys, time
import keras
from wastelab import cli, training


class PauseMidEpoch(keras.callbacks.Callback):
    # In epoch 2, after the first steps: tell the test, then wait for its SIGINT.
    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.epoch == 1:
            open(os.environ["PAUSED"], "w").close()
            time.sleep(300)


train = training.train
training.train = lambda *a, **k: train(*a, callbacks=[PauseMidEpoch()], **k)
sys.exit(cli.main(sys.argv[1:]))
"""


def command(*args) -> list[str]:
    return [sys.executable, "-m", "wastelab.cli", "-q", *map(str, args)]


@pytest.mark.slow
def test_sigint_mid_epoch_then_resume_gives_the_uninterrupted_result(npz, tmp_path):
    from wastelab.io import load_model

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PAUSED": str(tmp_path / "p")}
    # the MLP has dropout: a resumed epoch must draw the same random masks too
    train = [
        "train",
        "--model",
        "mlp",
        "--data",
        npz,
        "--epochs",
        "3",
        "--batch-size",
        "8",
        "--seed",
        "1",
        "--out",
    ]
    # 160 training images, batch 8: 20 steps an epoch, 16 per call: the pause is mid-epoch
    full = subprocess.Popen(
        command(*train, tmp_path / "full"),
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    cut_args = [sys.executable, "-c", PAUSING_CHILD, "-q", *map(str, train)]
    cut = subprocess.Popen(
        [*cut_args, tmp_path / "cut"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 300
    while not (tmp_path / "p").exists():
        assert cut.poll() is None, cut.communicate()
        assert time.monotonic() < deadline, "the run never reached epoch 2"
        time.sleep(0.2)
    cut.send_signal(signal.SIGINT)
    _, err = cut.communicate(timeout=120)
    assert cut.returncode == cli.EXIT_INTERRUPTED, err
    assert "Traceback" not in err
    assert err.rstrip().splitlines()[-1] == "wastelab: " + RESUME.format(1)
    partial = json.loads((tmp_path / "cut" / "backup" / "history.json").read_text())
    assert partial["epochs"] == [1]

    resumed = subprocess.run(
        command(*train, tmp_path / "cut"),
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert full.wait(timeout=300) == 0, full.stderr.read()

    history = [
        json.loads((tmp_path / r / "history.json").read_text()) for r in ("full", "cut")
    ]
    assert history[0] == history[1] and len(history[1]["loss"]) == 3  # every epoch
    for name in ("model.keras", "best.keras"):
        a, b = (load_model(tmp_path / r / name) for r in ("full", "cut"))
        assert all(
            np.array_equal(u, v)
            for u, v in zip(a.get_weights(), b.get_weights(), strict=True)
        ), name


def test_sigterm_ends_like_ctrl_c():
    """Slurm preempts a job with SIGTERM: the CLI treats it as Ctrl-C (exit 130)."""
    import signal as signal_module

    from wastelab import cli

    with pytest.raises(KeyboardInterrupt):
        cli._terminated(signal_module.SIGTERM, None)
