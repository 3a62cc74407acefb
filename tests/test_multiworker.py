"""Training across nodes (``devices="multi-worker"``), tested on one machine.

Two worker processes on 127.0.0.1, each with its own ``TF_CONFIG`` (ports chosen free at
run time) and no GPU, train the course CNN on the default data with
``MultiWorkerMirroredStrategy``, writing to one output folder as nodes would on a shared
file system. The test checks that both finish, that only the chief (worker 0) writes and
the other worker's temporary folder is gone, that the chief's saved model loads, and
that it scores like one process trained with the same global batch and learning rate.
A second test stops both workers after the first epoch and runs them again: they resume
from the chief's backup and end where the uninterrupted run ended.

Agreement: the two runs see the same images in the same steps and add the same
gradients, only in another order (two half-batches all-reduced instead of one batch), so
the weights differ by float32 rounding alone. Tolerances: predicted probabilities within
``PROB_TOL`` on every test image, losses within ``LOSS_TOL``, the same predicted class
for every image.
"""

import json
import os
import socket
import subprocess
import sys
import time
import warnings
from contextlib import ExitStack
from pathlib import Path

import numpy as np
import pytest

from wastelab import devices
from wastelab.data import load_default, save_splits
from wastelab.io import load_model
from wastelab.models import build_cnn
from wastelab.training import backup_epoch, predict_proba, sparse_cross_entropy, train

ROOT = Path(__file__).resolve().parent.parent
EPOCHS = 2
LEARNING_RATE = 1e-3  # per worker; train doubles it for two workers
PROB_TOL = 1e-4
LOSS_TOL = 1e-4
TIMEOUT_S = 240  # per launch, generous for a shared machine; idle it takes ~25 s

WORKER = """\
import json, os, sys
from pathlib import Path

import keras

from wastelab.data import load_splits
from wastelab.io import save_model
from wastelab.models import build_cnn
from wastelab.training import train

data, out, epochs, stop_after = load_splits(sys.argv[1]), Path(sys.argv[2]), \\
    int(sys.argv[3]), int(sys.argv[4])


class Stop(keras.callbacks.Callback):  # the scheduler ending the job after an epoch
    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == stop_after:
            raise SystemExit(3)


result = train(
    lambda: build_cnn(data.image_shape), data, epochs=epochs,
    learning_rate=float(os.environ["LR"]), devices="multi-worker",
    log_dir=out / "logs", checkpoint=out / "best.keras", backup_dir=out / "backup",
    callbacks=[Stop()], verbose=1,
)
if result.chief:
    save_model(result.model, out / "model.keras")
print("RESULT " + json.dumps({"chief": result.chief, "device": result.device,
                              "epochs": result.epochs, "history": result.history}))
"""


def free_ports(n: int) -> list[int]:
    """``n`` distinct free TCP ports on 127.0.0.1 (held together while chosen)."""
    with ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(n)]
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """The default data as a file for the workers, and the worker script."""
    tmp = tmp_path_factory.mktemp("multiworker")
    data = load_default(verbose=0)
    save_splits(data, tmp / "data.npz")
    (tmp / "worker.py").write_text(WORKER)
    return data, tmp


def launch(tmp: Path, out: Path, epochs: int = EPOCHS, stop_after: int = 0):
    """Start two workers on 127.0.0.1; return them and their temporary folders."""
    cluster = [f"127.0.0.1:{port}" for port in free_ports(2)]
    procs, tmpdirs = [], []
    for index in range(2):
        tmpdir = tmp / f"tmp-{out.name}-{index}"
        tmpdir.mkdir(exist_ok=True)
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("SLURM_", "TF_CONFIG"))
        }
        env |= {
            "TF_CONFIG": devices.tf_config(cluster, index),
            "CUDA_VISIBLE_DEVICES": "",  # CPU only
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "PYTHONPATH": str(ROOT),
            "TMPDIR": str(tmpdir),  # where the non-chief's scratch goes
            "LR": str(LEARNING_RATE),
        }
        args = [sys.executable, str(tmp / "worker.py"), str(tmp / "data.npz")]
        args += [str(out), str(epochs), str(stop_after)]
        log = (tmp / f"{out.name}-{index}.log").open("w")
        procs.append(
            subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)
        )
        tmpdirs.append(tmpdir)
    return procs, tmpdirs


def finish(procs, tmp: Path, out: Path) -> list[tuple[int, str]]:
    """Wait for the workers (killing both if one hangs); their exit codes and logs."""
    deadline = time.monotonic() + TIMEOUT_S
    try:
        for proc in procs:
            proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    logs = [(tmp / f"{out.name}-{i}.log").read_text() for i in range(len(procs))]
    return [(p.returncode, log) for p, log in zip(procs, logs, strict=True)]


def result_of(log: str) -> dict:
    lines = [line for line in log.splitlines() if line.startswith("RESULT ")]
    assert lines, f"no result line in the worker's log:\n{log[-3000:]}"
    return json.loads(lines[-1][len("RESULT ") :])


@pytest.fixture(scope="module")
def reference(setup):
    """One process, the same global batch (2 x 128) and learning rate (2 x 1e-3);
    trained at the first call (a test calls it while its workers run), then kept."""
    data, _ = setup
    runs = []

    def run():
        if not runs:
            runs.append(
                train(
                    lambda: build_cnn(data.image_shape),
                    data,
                    epochs=EPOCHS,
                    batch_size=2 * 128,
                    learning_rate=2 * LEARNING_RATE,
                    devices="cpu",
                    verbose=0,
                )
            )
        return runs[0]

    return run


def plan_line(log: str) -> str:
    """The line train prints first (TensorFlow may write to the log before it)."""
    return next(line for line in log.splitlines() if line.startswith("Training on "))


def assert_like_reference(model, history, reference, data):
    ref_probs = predict_proba(reference.model, data.x_test)
    probs = predict_proba(model, data.x_test)
    gap = float(np.max(np.abs(probs - ref_probs)))
    assert gap <= PROB_TOL, f"probabilities differ by {gap:.2e}"
    assert np.array_equal(probs.argmax(1), ref_probs.argmax(1))
    loss = sparse_cross_entropy(probs, data.y_test)
    loss_gap = abs(loss - sparse_cross_entropy(ref_probs, data.y_test))
    assert loss_gap <= LOSS_TOL
    print(f"largest probability gap {gap:.1e}, test loss gap {loss_gap:.1e}")
    for key in ("loss", "val_loss", "accuracy", "val_f1"):
        np.testing.assert_allclose(
            history[key], reference.history[key], atol=LOSS_TOL, err_msg=key
        )


@pytest.mark.slow
def test_two_workers_train_like_one_process(setup, reference, tmp_path):
    data, tmp = setup
    out = tmp_path / "run"
    start = time.monotonic()
    procs, tmpdirs = launch(tmp, out)
    single = reference()  # trained meanwhile, in this process
    (code0, log0), (code1, log1) = finish(procs, tmp, out)
    assert code0 == 0, log0[-3000:]
    assert code1 == 0, log1[-3000:]
    chief, other = result_of(log0), result_of(log1)
    assert chief["chief"] and not other["chief"]
    assert chief["epochs"] == other["epochs"] == list(range(1, EPOCHS + 1))
    assert chief["history"] == other["history"]  # the same global numbers
    plan0, plan1 = plan_line(log0), plan_line(log1)
    assert "2 workers x CPU (MultiWorkerMirroredStrategy" in plan0
    assert "worker 0, the chief" in plan0 and "worker 1, not the chief" in plan1
    assert "batch 256" in plan0 and "learning rate 0.002 = 0.001 x 2 workers" in plan0

    # only the chief wrote, and the other worker's scratch is gone
    assert sorted(p.name for p in out.iterdir()) == [
        "best.keras",
        "logs",
        "model.keras",
    ]
    assert all(list(d.iterdir()) == [] for d in tmpdirs)

    with warnings.catch_warnings():  # the optimizer's state is saved whole, too
        warnings.simplefilter("error", UserWarning)
        model = load_model(out / "model.keras")
    assert_like_reference(model, chief["history"], single, data)
    print(f"two workers and the reference: {time.monotonic() - start:.1f} s")


@pytest.mark.slow
def test_two_workers_resume_after_a_stop(setup, reference, tmp_path):
    data, tmp = setup
    out = tmp_path / "resumed"
    procs, _ = launch(tmp, out, stop_after=1)
    single = reference()
    results = finish(procs, tmp, out)
    assert [code for code, _ in results] == [3, 3], results[0][1][-3000:]
    assert (out / "backup").is_dir() and not (out / "model.keras").exists()
    assert backup_epoch(out / "backup") == 1

    procs, _ = launch(tmp, out)
    (code0, log0), (code1, log1) = finish(procs, tmp, out)
    assert code0 == 0 and code1 == 0, log0[-3000:] + log1[-3000:]
    assert "resuming after epoch 1" in plan_line(log0)
    chief, other = result_of(log0), result_of(log1)
    assert chief["epochs"] == other["epochs"] == list(range(1, EPOCHS + 1))
    assert not (out / "backup").exists()  # removed once training completed
    model = load_model(out / "model.keras")
    assert_like_reference(model, chief["history"], single, data)


# ------------------------------------------------------------- the cluster, without one
def test_tf_config_names_the_cluster_and_the_task():
    config = json.loads(devices.tf_config(["a:1", "b:2"], 1))
    assert config == {
        "cluster": {"worker": ["a:1", "b:2"]},
        "task": {"type": "worker", "index": 1},
    }
    with pytest.raises(ValueError, match="index"):
        devices.tf_config(["a:1"], 1)


def test_resolve_cluster_from_tf_config():
    env = {"TF_CONFIG": devices.tf_config(["127.0.0.1:5000", "127.0.0.1:5001"], 0)}
    resolver = devices.resolve_cluster(env)
    assert resolver.cluster_spec().as_dict() == {
        "worker": ["127.0.0.1:5000", "127.0.0.1:5001"]
    }
    assert (resolver.task_type, resolver.task_id) == ("worker", 0)
    for bad in ("not json", '{"cluster": {}}', devices.tf_config(["a:1"], 0)[:-2]):
        with pytest.raises(ValueError, match="TF_CONFIG"):
            devices.resolve_cluster({"TF_CONFIG": bad})
    index_out = json.dumps(
        {"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 3}}
    )
    with pytest.raises(ValueError, match="outside"):
        devices.resolve_cluster({"TF_CONFIG": index_out})


def slurm_env(rank: int, nodes: str = "gpu[07-08]", job: str = "4242") -> dict:
    """What srun sets in task ``rank`` of a step with one task on each of two nodes."""
    return {
        "SLURM_JOB_ID": job,
        "SLURM_PROCID": str(rank),
        "SLURM_STEP_NUM_TASKS": "2",
        "SLURM_STEP_NODELIST": nodes,
        "SLURM_STEP_TASKS_PER_NODE": "1(x2)",
    }


def test_resolve_cluster_from_slurm():
    port = devices.SLURM_PORT + 4242 % devices.SLURM_PORT_SPAN
    workers = [f"gpu07:{port}", f"gpu08:{port}"]
    for rank in (0, 1):
        resolver = devices.resolve_cluster(slurm_env(rank))
        assert resolver.cluster_spec().as_dict() == {"worker": workers}
        assert (resolver.task_type, resolver.task_id) == ("worker", rank)
    assert "SLURM_PROCID" not in os.environ  # read, not left behind
    # TF_CONFIG, when set, wins over Slurm
    config = devices.tf_config(["h:1", "h:2"], 1)
    resolver = devices.resolve_cluster({**slurm_env(0), "TF_CONFIG": config})
    assert resolver.task_id == 1


def test_multi_worker_without_a_cluster_or_a_builder_says_what_to_do(monkeypatch):
    data = load_default(verbose=0)
    for name in ("TF_CONFIG", "SLURM_STEP_NUM_TASKS", "SLURM_PROCID"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ValueError, match="srun.*TF_CONFIG"):
        devices.resolve_cluster()
    with pytest.raises(ValueError, match="builder"):
        train(build_cnn(data.image_shape), data, devices="multi-worker", verbose=0)


def placement(workers: int, chief: bool = True) -> devices.Placement:
    import tensorflow as tf

    strategy = tf.distribute.get_strategy()
    return devices.Placement(
        "multi-worker", strategy, None, workers, "test", [], workers, chief
    )


def test_batch_and_learning_rate_scale_with_the_workers():
    four = placement(4)
    assert devices.scale_for_workers(four, None, 1e-3) == (None, pytest.approx(4e-3))
    assert devices.scale_for_workers(four, 64, 1e-3)[0] == 256
    assert "learning rate 0.004 = 0.001 x 4 workers" in four.notes
    assert "batch 64 per worker" in four.notes
    kept = placement(2)
    assert devices.scale_for_workers(kept, 32, 0.01, scalable=False) == (64, 0.01)
    assert "not scaled" in kept.notes[-1]
    one = devices.Placement("cpu", four.strategy, "/CPU:0", 1, "CPU")
    assert devices.scale_for_workers(one, 32, 0.01) == (32, 0.01) and one.notes == []


def test_only_the_chief_writes_where_asked(tmp_path):
    backup = tmp_path / "backup"
    backup.mkdir()
    (backup / "training_metadata.json").write_text('{"epoch": 1}')
    paths = (tmp_path / "logs", tmp_path / "best.keras", backup)
    with devices.worker_outputs(placement(2, chief=True), *paths) as mine:
        assert mine == paths
    with devices.worker_outputs(placement(2, chief=False), *paths, None) as mine:
        logs, best, copy, nothing = mine
        assert nothing is None and all(tmp_path not in p.parents for p in mine[:3])
        assert (logs.name, best.name, copy.name) == ("logs", "best.keras", "backup")
        assert (copy / "training_metadata.json").read_text() == '{"epoch": 1}'
        (copy / "latest.weights.h5").write_bytes(b"x")  # the worker's own backup
        scratch = copy.parents[1]
    assert not scratch.exists()
    assert sorted(p.name for p in backup.iterdir()) == ["training_metadata.json"]
