"""Where training runs: the devices TensorFlow sees, and a placement for ``train``.

:func:`place` turns ``train``'s ``devices`` argument into a :class:`Placement`: the kind
of hardware, the ``tf.distribute`` strategy, how many model copies (replicas) train in
parallel and a label for the log. ``with placement.scope():`` builds and trains there.

Several nodes (``devices="multi-worker"``): one process per node, the cluster from
``TF_CONFIG`` or Slurm (:func:`resolve_cluster`), ``MultiWorkerMirroredStrategy``
between them; worker 0 is the chief, the only one that writes (:func:`worker_outputs`).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

import keras
import tensorflow as tf

DEVICES = ("auto", "cpu", "gpu", "multi-gpu", "multi-worker")


def cpu_threads() -> int:
    """CPU threads TensorFlow runs operations on (the cores this process may use)."""
    intra = tf.config.threading.get_intra_op_parallelism_threads()
    if intra:
        return intra
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def gpu_names() -> list[str]:
    """Names of the GPUs TensorFlow sees (empty on a CPU-only machine)."""
    names = []
    for gpu in tf.config.list_physical_devices("GPU"):
        try:
            details = tf.config.experimental.get_device_details(gpu)
        except (ValueError, RuntimeError):
            details = {}
        names.append(details.get("device_name", gpu.name))
    return names


def describe_devices() -> str:
    """What TensorFlow can train on here, e.g. ``"CPU (2 threads); no GPU"``."""
    gpus = gpu_names()
    cpu = f"CPU ({cpu_threads()} threads)"
    if not gpus:
        return f"{cpu}; no GPU"
    listed = ", ".join(f"GPU:{i} {name}" for i, name in enumerate(gpus))
    return f"{cpu}; {len(gpus)} GPU{'s' if len(gpus) > 1 else ''}: {listed}"


@dataclass
class Placement:
    """Where a model trains: ``kind`` ("cpu", "gpu", "multi-gpu", "multi-worker"), its
    strategy, the
    ``tf.device`` string for one device (None under a strategy), the number of model
    ``replicas``, a ``label`` for the log, and ``notes`` on choices made."""

    kind: str
    strategy: tf.distribute.Strategy
    device: str | None
    replicas: int
    label: str
    notes: list[str] = field(default_factory=list)
    workers: int = 1  # processes training together ("multi-worker": one per node)
    chief: bool = True  # whether this process writes checkpoints, logs and the model
    worker_gpus: int = 0  # "multi-worker": the GPUs each worker trains on

    @property
    def on_gpu(self) -> bool:
        """Whether the model copies live on GPUs (where mixed precision and XLA pay)."""
        return self.kind in ("gpu", "multi-gpu") or self.worker_gpus > 0

    def shard(self, dataset: tf.data.Dataset) -> tf.data.Dataset:
        """``dataset`` of global batches as this placement reads it: with several
        workers each takes its share of every batch (the same images, in the same
        steps, as on one machine); otherwise unchanged."""
        if self.workers == 1:
            return dataset
        options = tf.data.Options()
        data = tf.data.experimental.AutoShardPolicy.DATA
        options.experimental_distribute.auto_shard_policy = data
        return dataset.with_options(options)

    @contextlib.contextmanager
    def scope(self) -> Iterator[None]:
        """Create and train models inside this block to place them here."""
        with contextlib.ExitStack() as stack:
            if self.device is not None:
                stack.enter_context(tf.device(self.device))
            stack.enter_context(self.strategy.scope())
            yield


def place(devices: str = "auto", has_builder: bool = True) -> Placement:
    """Resolve ``devices`` (one of :data:`DEVICES`) to a :class:`Placement`.

    Several GPUs or workers need the model as a builder (``has_builder``): one copy per
    GPU. "multi-worker" joins the cluster of :func:`resolve_cluster` (once per process).
    """
    gpus = gpu_names()
    _check_request(devices, len(gpus), has_builder)
    if devices == "multi-worker":
        return _multi_worker_placement(len(gpus))
    kind, notes = devices, []
    if devices == "auto":
        kind = "cpu" if not gpus else "gpu" if len(gpus) == 1 else "multi-gpu"
        if kind == "multi-gpu" and not has_builder:
            kind = "gpu"
            notes.append(f"1 of {len(gpus)} GPUs: pass a model builder to use all")
    default = tf.distribute.get_strategy()
    if kind == "cpu":
        label = f"CPU ({cpu_threads()} threads)"
        return Placement("cpu", default, "/CPU:0", 1, label, notes)
    if kind == "gpu":
        return Placement("gpu", default, "/GPU:0", 1, f"GPU ({gpus[0]})", notes)
    strategy = tf.distribute.MirroredStrategy()
    n = strategy.num_replicas_in_sync
    return Placement(kind, strategy, None, n, f"{n} GPUs (MirroredStrategy)", notes)


def _check_request(devices: str, n_gpus: int, has_builder: bool) -> None:
    """Refuse, with a ValueError saying why, devices this machine cannot give."""
    if devices not in DEVICES:
        raise ValueError(f"devices must be one of {DEVICES}, got {devices!r}")
    if devices == "gpu" and n_gpus == 0:
        raise ValueError(
            "devices='gpu' but TensorFlow sees no GPU here "
            f"({describe_devices()}); use devices='auto' or 'cpu'"
        )
    if devices == "multi-gpu" and n_gpus < 2:
        raise ValueError(
            f"devices='multi-gpu' needs 2 or more GPUs, TensorFlow sees "
            f"{n_gpus} ({describe_devices()})"
        )
    if devices == "multi-worker" and not has_builder:
        raise ValueError(
            "devices='multi-worker' needs the model as a zero-argument builder "
            "(e.g. lambda: build_cnn()), so it is built on every worker"
        )
    if devices == "multi-gpu" and not has_builder:
        raise ValueError(
            "devices='multi-gpu' needs the model as a zero-argument builder "
            "(e.g. lambda: build_cnn()), so it is built on every GPU"
        )


@contextlib.contextmanager
def dtype_policy(name: str | None) -> Iterator[None]:
    """Set Keras' global dtype policy (e.g. "mixed_float16") for the block, then restore
    the previous one; ``None`` changes nothing."""
    if name is None:
        yield
        return
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


# --------------------------------------------------------------------------------------
# Several nodes: one worker process per node, MultiWorkerMirroredStrategy between them
# --------------------------------------------------------------------------------------

#: Slurm: the workers' port is SLURM_PORT + (job id % SLURM_PORT_SPAN) (+ 1 for each
#: further task on a node), so that two jobs sharing a node do not take the same port.
SLURM_PORT = 20000
SLURM_PORT_SPAN = 20000
_STRATEGY: list[tf.distribute.MultiWorkerMirroredStrategy] = []  # one per process


def tf_config(workers: Sequence[str], index: int) -> str:
    """The ``TF_CONFIG`` value for worker ``index`` of the cluster ``workers``, a list
    of ``"host:port"``, one per worker process (worker 0 is the chief)."""
    if not 0 <= index < len(workers):
        raise ValueError(f"index must lie in [0, {len(workers) - 1}], got {index}")
    task = {"type": "worker", "index": index}
    return json.dumps({"cluster": {"worker": list(workers)}, "task": task})


def resolve_cluster(
    environ: Mapping[str, str] | None = None,
) -> tf.distribute.cluster_resolver.ClusterResolver:
    """The cluster this process trains in, and its place in it.

    From ``TF_CONFIG`` when it is set (see :func:`tf_config`); otherwise, inside a Slurm
    job step (``srun``), from Slurm's variables through TensorFlow's
    ``SlurmClusterResolver``: the step's node list, its tasks per node and this task's
    rank, with the port :data:`SLURM_PORT` + job id % :data:`SLURM_PORT_SPAN`. Each
    worker trains on the GPUs it sees (those Slurm gave it). ``environ``: the
    variables to read (default ``os.environ``).
    """
    env = dict(os.environ if environ is None else environ)
    if env.get("TF_CONFIG"):
        spec, task_type, task_id = _from_tf_config(env["TF_CONFIG"])
    elif "SLURM_STEP_NUM_TASKS" in env and "SLURM_PROCID" in env:
        spec, task_type, task_id = _from_slurm(env)
    else:
        raise ValueError(
            "devices='multi-worker' needs to know its cluster: start one process per "
            "node with srun inside a Slurm job, or set TF_CONFIG in each process "
            "(wastelab.devices.tf_config)"
        )
    return tf.distribute.cluster_resolver.SimpleClusterResolver(
        spec,
        task_type=task_type,
        task_id=task_id,
        rpc_layer="grpc",
        num_accelerators={"GPU": len(gpu_names())},
    )


def _from_tf_config(text: str) -> tuple[tf.train.ClusterSpec, str, int]:
    try:
        config = json.loads(text)
        cluster, task = config["cluster"], config["task"]
        task_type, task_id = str(task["type"]), int(task["index"])
        size = len(cluster[task_type])
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(
            f"TF_CONFIG must be JSON with 'cluster' and 'task' (type and index), "
            f"got {text!r}: {err}"
        ) from err
    if not 0 <= task_id < size:
        raise ValueError(f"TF_CONFIG: task index {task_id} outside [0, {size - 1}]")
    return tf.train.ClusterSpec(cluster), task_type, task_id


def _from_slurm(env: dict[str, str]) -> tuple[tf.train.ClusterSpec, str, int]:
    port = SLURM_PORT + int(env.get("SLURM_JOB_ID", "0")) % SLURM_PORT_SPAN
    with mock.patch.dict(os.environ, env, clear=True):  # the resolver reads os.environ
        resolver = tf.distribute.cluster_resolver.SlurmClusterResolver(
            port_base=port,
            # the resolver's own GPU bookkeeping stays unused (auto_set_gpu=False):
            # these numbers only keep it from asking nvidia-smi
            gpus_per_node=64,
            gpus_per_task=1,
            auto_set_gpu=False,
        )
        spec = resolver.cluster_spec()
    return spec, resolver.task_type, resolver.task_id


def _multi_worker_placement(n_gpus: int) -> Placement:
    strategy = _multi_worker_strategy()
    resolver = strategy.cluster_resolver
    spec = resolver.cluster_spec()
    workers = sum(
        spec.num_tasks(job) for job in ("chief", "worker") if job in spec.jobs
    )
    chief = bool(strategy.extended.should_checkpoint)
    local = f"{n_gpus} GPU{'s' if n_gpus > 1 else ''}" if n_gpus else "CPU"
    role = "the chief" if chief else "not the chief"
    label = (
        f"{workers} workers x {local} (MultiWorkerMirroredStrategy; this is "
        f"{resolver.task_type} {resolver.task_id}, {role})"
    )
    n = strategy.num_replicas_in_sync
    return Placement(
        "multi-worker", strategy, None, n, label, [], workers, chief, n_gpus
    )


def _multi_worker_strategy() -> tf.distribute.MultiWorkerMirroredStrategy:
    """The process's MultiWorkerMirroredStrategy: made at the first call, then reused
    (TensorFlow fixes its cluster once per process)."""
    if not _STRATEGY:
        resolver = resolve_cluster()
        try:
            strategy = tf.distribute.MultiWorkerMirroredStrategy(
                cluster_resolver=resolver
            )
        except RuntimeError as err:  # "Collective ops must be configured at startup"
            raise ValueError(
                "devices='multi-worker' must come before any other TensorFlow work in "
                "the process (TensorFlow joins its cluster when it starts): train "
                f"first, as the `wastelab train` command does ({err})"
            ) from err
        _repair_keras_for_multi_worker()
        _STRATEGY.append(strategy)
    return _STRATEGY[0]


def scale_for_workers(
    placement: Placement,
    batch_size: int | None,
    learning_rate: float,
    scalable: bool = True,
) -> tuple[int | None, float]:
    """``train``'s batch size and learning rate for ``placement``.

    Both arguments of ``train`` mean what one worker (one node) uses. With W workers
    every training step consumes W such batches, one per worker, so the global batch
    is W times larger, and the learning rate is multiplied by W too (the linear scaling
    rule). ``batch_size=None`` (the default for the hardware) is per device already.
    ``scalable=False`` (an optimizer instance brings its own rate): the rate stays.
    Adds a note saying what it did to ``placement.notes``.
    """
    w = placement.workers
    if w == 1:
        return batch_size, learning_rate
    if batch_size is not None:
        placement.notes.append(f"batch {batch_size} per worker")
        batch_size *= w
    if scalable:
        placement.notes.append(
            f"learning rate {learning_rate * w:g} = {learning_rate:g} x {w} workers"
        )
        learning_rate *= w
    else:
        placement.notes.append("the optimizer's own learning rate, not scaled")
    return batch_size, learning_rate


@contextlib.contextmanager
def worker_outputs(
    placement: Placement, *paths: str | Path | None
) -> Iterator[tuple[Path | None, ...]]:
    """Where this process writes ``paths`` (log folder, checkpoint, backup folder).

    The chief, and any process outside multi-worker training, gets ``paths`` as they
    are. Every other worker gets the same names in a temporary folder, removed when the
    block ends; a path that exists already (the chief's backup, on a file system all
    nodes share) is copied there first, so that every worker resumes from the same
    epoch.
    """
    if placement.chief:
        yield tuple(None if p is None else Path(p) for p in paths)
        return
    with tempfile.TemporaryDirectory(prefix="wastelab-worker-") as scratch:
        mine: list[Path | None] = []
        for i, path in enumerate(paths):
            if path is None:
                mine.append(None)
                continue
            local = Path(scratch, str(i), Path(path).name)
            local.parent.mkdir()
            if Path(path).is_dir():
                shutil.copytree(path, local)
            elif Path(path).is_file():
                shutil.copy2(path, local)
            mine.append(local)
        yield tuple(mine)


def _repair_keras_for_multi_worker() -> None:
    """Two repairs to Keras 3's TensorFlow trainer under MultiWorkerMirroredStrategy
    (keras-team/keras#20585, tensorflow/tensorflow#72388); once per process, and only
    for models under a strategy with several workers.

    - Before the first step Keras averages one batch over the replicas to learn its
      shapes; across workers that average fails. This worker's share has the shapes.
    - After each step Keras averages the logs over the replicas along axis 0, which
      fails for scalars (loss, accuracy) across workers: average them with axis None.
    """
    from keras.src.backend.tensorflow import trainer

    if getattr(trainer, "_wastelab_repaired", False):
        return
    several = trainer._collective_all_reduce_multi_worker
    reduce_per_replica = trainer.reduce_per_replica
    maybe_symbolic_build = trainer.TensorFlowTrainer._maybe_symbolic_build

    def local_share(strategy: tf.distribute.Strategy, value):
        if isinstance(value, tf.distribute.DistributedValues):
            return strategy.experimental_local_results(value)[0]
        return value

    def symbolic_build(self, iterator=None, data_batch=None):
        strategy = self._distribute_strategy
        if strategy is None or iterator is None or not several(strategy):
            return maybe_symbolic_build(self, iterator, data_batch)
        for _, _, batches in iterator:
            batch = next(batches)
            data_batch = tf.nest.map_structure(
                lambda v: local_share(strategy, v), batch
            )
            break
        with strategy.scope():
            self._symbolic_build(data_batch=data_batch)

    def reduce(values, strategy, reduction):
        if reduction not in ("auto", "mean") or not several(strategy):
            return reduce_per_replica(values, strategy, reduction)

        def mean(value):
            if local_share(strategy, value).shape.rank == 0:
                return strategy.reduce("MEAN", value, axis=None)
            return reduce_per_replica(value, strategy, reduction)

        return tf.nest.map_structure(mean, values)

    trainer.TensorFlowTrainer._maybe_symbolic_build = symbolic_build
    trainer.reduce_per_replica = reduce
    trainer._wastelab_repaired = True
