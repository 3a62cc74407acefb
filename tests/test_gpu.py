"""The GPU paths of ``train``, and the GPU check that runs them.

Tests marked ``gpu`` need an NVIDIA GPU that TensorFlow sees; without one they skip.
``bench/gpu_check.sh`` runs them on a GPU machine (``pytest -m gpu``). The other tests
here run everywhere: the check's dry run (its plumbing, on the CPU) and its answer on a
machine without a GPU.
"""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHECK = ROOT / "bench" / "gpu_check.sh"


@pytest.fixture(scope="module")
def gpus():
    import tensorflow as tf

    found = tf.config.list_physical_devices("GPU")
    if not found:
        pytest.skip("no GPU: TensorFlow sees none here")
    return found


@pytest.fixture(scope="module")
def small():
    from wastelab.data import prepare

    return prepare("synthetic", n=300, verbose=0)


def cnn(data):
    from wastelab.models import build_cnn

    return lambda: build_cnn(data.image_shape)


@pytest.mark.gpu
def test_auto_trains_on_the_gpu(gpus, small):
    from wastelab.training import train

    result = train(cnn(small), small, epochs=2, verbose=0)
    assert "GPU" in result.device
    assert math.isfinite(result.history["loss"][-1])
    assert result.images_per_second > 0


@pytest.mark.gpu
def test_mixed_precision_computes_in_float16_with_a_float32_output(gpus, small):
    from wastelab.training import train

    result = train(
        cnn(small), small, epochs=2, devices="gpu", mixed_precision=True, verbose=0
    )
    layers = {layer.name: layer for layer in result.model.layers}
    assert layers["conv1"].compute_dtype == "float16"
    assert layers["conv1"].kernel.dtype == "float32"  # stored in float32
    assert layers["probabilities"].compute_dtype == "float32"
    assert type(result.model.optimizer).__name__ == "LossScaleOptimizer"
    assert math.isfinite(result.history["loss"][-1])


@pytest.mark.gpu
def test_xla_compiles_the_training_step(gpus, small):
    from wastelab.training import train

    result = train(cnn(small), small, epochs=2, devices="gpu", xla=True, verbose=0)
    assert result.model.jit_compile is True
    assert math.isfinite(result.history["loss"][-1])


@pytest.mark.gpu
def test_gpu_and_cpu_train_alike(gpus, small):
    """The same seed and batch on CPU and GPU give the same model, up to rounding
    (TensorFloat-32 off, so that the GPU multiplies in full float32)."""
    import numpy as np
    import tensorflow as tf

    from wastelab.training import predict_proba, train

    tf32 = tf.config.experimental.tensor_float_32_execution_enabled()
    tf.config.experimental.enable_tensor_float_32_execution(False)
    try:
        on = {
            d: train(cnn(small), small, epochs=2, batch_size=64, devices=d, verbose=0)
            for d in ("cpu", "gpu")
        }
    finally:
        tf.config.experimental.enable_tensor_float_32_execution(tf32)
    cpu = predict_proba(on["cpu"].model, small.x_val)
    gpu = predict_proba(on["gpu"].model, small.x_val)
    assert np.abs(cpu - gpu).max() < 0.05  # Adam amplifies rounding a little


@pytest.mark.gpu
def test_several_gpus_mirror_the_model(gpus, small):
    from wastelab.training import train

    if len(gpus) < 2:
        pytest.skip("one GPU: multi-gpu needs two or more")
    result = train(cnn(small), small, epochs=2, devices="multi-gpu", verbose=0)
    assert "MirroredStrategy" in result.device
    assert math.isfinite(result.history["loss"][-1])


# ------------------------------------------------------------------ the check itself
def run_check(*args, tmp_path, path=None, timeout=300):
    env = {**os.environ, "PYTHON": sys.executable, "PYTHONPATH": str(ROOT)}
    if path is not None:
        env["PATH"] = path
    return subprocess.run(
        ["bash", str(CHECK), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_check_without_a_gpu_says_so_and_succeeds(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stub = bin_dir / "nvidia-smi"  # as on a machine with the driver but no GPU
    stub.write_text("#!/bin/sh\necho 'No devices were found' >&2\nexit 6\n")
    stub.chmod(0o755)
    done = run_check(
        "--json",
        tmp_path / "gpu.json",
        tmp_path=tmp_path,
        path=f"{bin_dir}:/usr/bin:/bin",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "gpu_check: no NVIDIA GPU here (nvidia-smi lists none): nothing to check"
    ]
    assert not (tmp_path / "gpu.json").exists()


@pytest.mark.slow
def test_dry_run_goes_through_every_step_and_writes_the_result(tmp_path):
    sys.path.insert(0, str(ROOT / "bench"))
    import bench_gpu
    import common

    out = tmp_path / "gpu.json"
    done = run_check("--dry-run", "--json", out, tmp_path=tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    for step in ("2. tests marked gpu", "3. chapter 11: skipped", "4. training speed"):
        assert step in done.stdout
    payload = common.read_json(out)
    assert payload["benchmark"] == "gpu" and payload["settings"]["quick"] is True
    runs = {(r["model"], r["precision"], r["where"]) for r in payload["runs"]}
    for model in bench_gpu.MODELS:
        assert (model, "float32", "cpu") in runs
        for precision in bench_gpu.PRECISIONS:
            assert (model, precision, "cpu") in runs  # the dry run's "GPU" runs
    assert payload["gpu_tests"] == "passed"  # skipped without a GPU: nothing failed
    assert payload["chapter_11"] == {"status": "skipped", "seconds": None}
    assert 0 < payload["check_seconds"] < bench_gpu.LIMIT_S
    assert all(r["images_per_second"] > 0 for r in payload["runs"])
    # the results page renders it
    tables = bench_gpu.tables(payload)
    assert len(tables[0][2]) == len(bench_gpu.MODELS) * (1 + len(bench_gpu.PRECISIONS))
    text = "\n".join(bench_gpu.verdicts(payload))
    assert "Dry run" in text and "Whole check under 8 min: met" in text
    assert json.loads(out.read_text())["schema"] == common.SCHEMA
