"""The batch job scripts of chapter 11 and the HPC appendix: valid bash, correct
scheduler directives, and ``wastelab`` commands that the real CLI parser accepts.

The scripts are run for real with a stand-in ``wastelab`` on the PATH: it parses its
arguments with :func:`wastelab.cli.build_parser` (exit status 2 on anything the CLI would
reject) and records them, so the test sees exactly what bash expands and passes. For the
multi-node script a stand-in ``srun`` starts the command once per node, with the
variables real ``srun`` sets for each task, and the test resolves the cluster each task
would join from them.
"""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from wastelab.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
JOBS = ROOT / "book" / "jobs"
SLURM = JOBS / "slurm_train.sh"
PBS = JOBS / "pbs_train.sh"
MULTI = JOBS / "slurm_multinode.sh"

SHIM = """\
import json, os, sys, time
from pathlib import Path
from wastelab.cli import build_parser

args = build_parser().parse_args(sys.argv[1:])  # exits with status 2 on bad arguments
parsed = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()
          if k != "func"}
env = {k: v for k, v in os.environ.items() if k.startswith("SLURM_")}
with open(os.environ["SHIM_LOG"], "a") as log:
    log.write(json.dumps({"argv": sys.argv[1:], "args": parsed, "pid": os.getpid(),
                          "env": env}) + "\\n")
if args.command == "train":
    time.sleep(float(os.environ.get("SHIM_TRAIN_SECONDS", "0")))
"""


# srun: start the command once per node (options only in --name=value form), each task
# with the variables srun sets, and wait for all; record the options.
SRUN = """\
#!/bin/bash
echo "srun $*" >> "$SRUN_LOG"
while [[ $# -gt 0 && "$1" == --* ]]; do shift; done
n="${SLURM_JOB_NUM_NODES:-1}"
pids=()
for ((i = 0; i < n; i++)); do
    SLURM_PROCID=$i SLURM_NODEID=$i SLURM_STEP_NUM_TASKS=$n \\
    SLURM_STEP_NODELIST="$SLURM_JOB_NODELIST" SLURM_STEP_TASKS_PER_NODE="1(x$n)" "$@" &
    pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=$?; done
exit $status
"""


def directives(path: Path, prefix: str) -> list[str]:
    """The scheduler directives of a job script: ``prefix`` lines before the first command.

    Schedulers stop reading directives at the first line that is neither a comment nor
    blank, so a directive after it would be silently ignored: that fails here.
    """
    found, in_header = [], True
    for line in path.read_text().splitlines()[1:]:
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            in_header = False
        if line.startswith(prefix + " "):
            assert in_header, (
                f"{path.name}: {line!r} comes after the first command: ignored"
            )
            found.append(line[len(prefix) :].split(" #")[0].strip())
    return found


def commented_commands(path: Path) -> list[list[str]]:
    """``wastelab ...`` commands shown in comments (continuation lines joined), as argv."""
    import shlex

    lines = [
        re.sub(r"^#\s*", "", line)
        for line in path.read_text().splitlines()
        if line.startswith("#")
    ]
    commands, current = [], ""
    for line in lines:
        if current or line.startswith("wastelab "):
            current += line.rstrip("\\").strip() + " "
            if not line.endswith("\\"):
                commands.append(shlex.split(current)[1:])
                current = ""
    return commands


@pytest.fixture
def shim(tmp_path):
    """A folder with a stand-in ``wastelab`` and ``scontrol``, and the log they write."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "shim.py").write_text(SHIM)
    wastelab = bin_dir / "wastelab"
    wastelab.write_text(
        f'#!/bin/sh\nexec "{sys.executable}" "{bin_dir / "shim.py"}" "$@"\n'
    )
    scontrol = bin_dir / "scontrol"
    scontrol.write_text('#!/bin/sh\necho "scontrol $*" >> "$SCONTROL_LOG"\n')
    srun = bin_dir / "srun"
    srun.write_text(SRUN)
    for exe in (wastelab, scontrol, srun):
        exe.chmod(0o755)
    log = tmp_path / "calls.jsonl"
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "SHIM_LOG": str(log),
        "SCONTROL_LOG": str(tmp_path / "scontrol.log"),
        "PYTHONPATH": str(ROOT),
        "SRUN_LOG": str(tmp_path / "srun.log"),
        "SLURM_JOB_ID": "4242",
        "SLURM_JOB_NUM_NODES": "2",
        "SLURM_JOB_NODELIST": "gpu[07-08]",
        "SLURM_CPUS_PER_TASK": "32",
        "PBS_O_WORKDIR": str(tmp_path / "work"),
    }
    (tmp_path / "work").mkdir()
    return env, log, tmp_path


def calls(log: Path) -> list[dict]:
    return (
        [json.loads(line) for line in log.read_text().splitlines()]
        if log.exists()
        else []
    )


@pytest.mark.parametrize("script", [SLURM, PBS, MULTI], ids=lambda p: p.name)
def test_scripts_are_valid_bash(script):
    assert script.read_text().startswith("#!/bin/bash\n")
    subprocess.run(["bash", "-n", str(script)], check=True)


def test_slurm_directives():
    found = directives(SLURM, "#SBATCH")
    options = dict(d.split("=", 1) if "=" in d else (d, "") for d in found)
    assert options["--gres"] == "gpu:1"
    assert int(options["--cpus-per-task"]) >= 1
    assert re.fullmatch(r"\d+[KMGT]", options["--mem"])
    assert re.fullmatch(r"\d+:\d\d:\d\d", options["--time"])
    assert "%j" in options["--output"]
    assert options["--open-mode"] == "append"  # a requeued job keeps its earlier log
    assert "--requeue" in options
    assert re.fullmatch(
        r"B:USR1@\d+", options["--signal"]
    )  # to the batch shell, with trap
    assert "trap requeue USR1" in SLURM.read_text()


def test_pbs_directives():
    found = directives(PBS, "#PBS")
    resources = [d[3:] for d in found if d.startswith("-l ")]
    select = next(r for r in resources if r.startswith("select="))
    chunk = dict(kv.split("=") for kv in select.split(":")[1:])
    assert select.startswith("select=1:") and chunk["ngpus"] == "1"
    assert int(chunk["ncpus"]) >= 1 and re.fullmatch(r"\d+[kmgt]b", chunk["mem"])
    assert any(re.fullmatch(r"walltime=\d+:\d\d:\d\d", r) for r in resources)
    assert "-j oe" in found and "-r y" in found
    assert any(d.startswith("-o ") for d in found) and any(
        d.startswith("-N ") for d in found
    )
    assert 'cd "${PBS_O_WORKDIR:-.}"' in PBS.read_text()


@pytest.mark.parametrize("script", [SLURM, PBS], ids=lambda p: p.name)
def test_script_trains_then_evaluates_with_valid_arguments(script, shim):
    env, log, tmp = shim
    done = subprocess.run(
        ["bash", str(script)],
        cwd=tmp / "work",
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    train, evaluate = calls(log)  # exactly two commands, in this order
    assert train["args"]["command"] == "train"
    assert (
        train["args"]
        | {
            "model": "cnn",
            "epochs": 30,
            "data": "data/taco.npz",
            "out": "runs/cnn",
            "devices": "auto",
        }
        == train["args"]
    )
    assert evaluate["args"]["command"] == "evaluate"
    assert evaluate["args"]["model"] == "runs/cnn/best.keras"
    assert (
        evaluate["args"]["data"] == "data/taco.npz"
        and evaluate["args"]["split"] == "test"
    )


@pytest.mark.parametrize("script", [SLURM, PBS, MULTI], ids=lambda p: p.name)
def test_data_and_out_can_be_set_from_outside(script, shim):
    env, log, tmp = shim
    env = {**env, "DATA": "/scratch/me/taco_100.npz", "OUT": "runs/cnn-100"}
    subprocess.run(
        ["bash", str(script)],
        cwd=tmp / "work",
        env=env,
        check=True,
        timeout=60,
        capture_output=True,
    )
    *trains, evaluate = calls(log)  # one training process per node
    for train in trains:
        assert train["args"]["data"] == "/scratch/me/taco_100.npz"
        assert train["args"]["out"] == "runs/cnn-100"
    assert evaluate["args"]["model"] == "runs/cnn-100/best.keras"


@pytest.mark.parametrize("script", [SLURM, PBS, MULTI], ids=lambda p: p.name)
def test_finished_run_is_not_started_again(script, shim):
    env, log, tmp = shim
    env = {**env, "OUT": "runs/done"}
    (tmp / "work" / "runs" / "done").mkdir(parents=True)
    (tmp / "work" / "runs" / "done" / "model.keras").write_bytes(b"")
    done = subprocess.run(
        ["bash", str(script)],
        cwd=tmp / "work",
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and "training is done" in done.stdout
    assert calls(log) == []


@pytest.mark.parametrize("script", [SLURM, PBS], ids=lambda p: p.name)
def test_commented_multi_gpu_variant_parses(script):
    commands = commented_commands(script)
    assert commands, f"{script.name}: no commented multi-GPU command"
    for argv in commands:
        args = build_parser().parse_args(argv)
        assert args.command == "train" and args.devices == "multi-gpu"


@pytest.mark.parametrize("script", [SLURM, MULTI], ids=lambda p: p.name)
def test_slurm_requeues_itself_on_the_warning_signal(script, shim):
    """USR1 (sent by --signal=B:USR1@...) runs the trap: scontrol requeue, no evaluation."""
    env, log, tmp = shim
    env = {**env, "SHIM_TRAIN_SECONDS": "30"}
    out_path = tmp / "job.out"
    with out_path.open(
        "w"
    ) as out:  # a file, not a pipe: the orphaned trainer keeps pipes open
        job = subprocess.Popen(
            ["bash", str(script)],
            cwd=tmp / "work",
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 30
    started = 2 if script == MULTI else 1
    while len(calls(log)) < started and time.monotonic() < deadline:  # training started
        time.sleep(0.1)
    training = calls(log)
    try:
        assert training, "the training command never started"
        job.send_signal(signal.SIGUSR1)
        job.wait(timeout=20)
    finally:
        for call in training:  # Slurm would end it; here the test does
            try:
                os.kill(call["pid"], signal.SIGTERM)
            except ProcessLookupError:
                pass
        if job.poll() is None:
            job.kill()
    output = out_path.read_text()
    assert job.returncode == 0, output
    assert "requeueing job 4242" in output
    assert (tmp / "scontrol.log").read_text().split() == ["scontrol", "requeue", "4242"]
    assert {c["args"]["command"] for c in calls(log)} == {"train"}  # no evaluation


# ------------------------------------------------------------------ several nodes
def test_multinode_directives_ask_for_nodes_gpus_and_one_task_each():
    found = directives(MULTI, "#SBATCH")
    options = dict(d.split("=", 1) if "=" in d else (d, "") for d in found)
    assert int(options["--nodes"]) >= 2
    assert options["--ntasks-per-node"] == "1"  # one worker process per node
    assert re.fullmatch(r"gpu:\d+", options["--gres"])
    assert int(options["--cpus-per-task"]) >= 1
    assert re.fullmatch(r"\d+[KMGT]", options["--mem"])
    assert re.fullmatch(r"\d+:\d\d:\d\d", options["--time"])
    assert "%j" in options["--output"] and options["--open-mode"] == "append"
    assert "--requeue" in options and re.fullmatch(r"B:USR1@\d+", options["--signal"])
    assert "trap requeue USR1" in MULTI.read_text()


def test_multinode_script_starts_one_worker_per_node_that_finds_its_cluster(shim):
    env, log, tmp = shim
    done = subprocess.run(
        ["bash", str(MULTI)],
        cwd=tmp / "work",
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "2 nodes (gpu[07-08])" in done.stdout
    srun = (tmp / "srun.log").read_text().split()
    assert srun[:4] == [
        "srun",
        "--ntasks-per-node=1",
        "--cpus-per-task=32",  # sbatch's value, passed on
        "--kill-on-bad-exit=1",
    ]
    *trains, evaluate = calls(log)
    assert len(trains) == 2 and evaluate["args"]["command"] == "evaluate"
    assert all(t["args"]["devices"] == "multi-worker" for t in trains)
    assert trains[0]["argv"] == trains[1]["argv"]  # the same command on every node
    assert evaluate["args"]["model"] == "runs/cnn-nodes/best.keras"

    from wastelab import devices  # TensorFlow: imported here only

    port = devices.SLURM_PORT + 4242 % devices.SLURM_PORT_SPAN
    ranks = set()
    for train in trains:
        resolver = devices.resolve_cluster(train["env"])
        assert resolver.cluster_spec().as_dict() == {
            "worker": [f"gpu07:{port}", f"gpu08:{port}"]
        }
        ranks.add(resolver.task_id)
    assert ranks == {0, 1}  # worker 0 (the first node) is the chief
