"""Where training runs: the devices TensorFlow sees, and a placement for ``train``.

:func:`place` turns ``train``'s ``devices`` argument into a :class:`Placement`: the kind
of hardware, the ``tf.distribute`` strategy, how many model copies (replicas) train in
parallel and a label for the log. ``with placement.scope():`` builds and trains there.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field

import keras
import tensorflow as tf

DEVICES = ("auto", "cpu", "gpu", "multi-gpu")


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
    """Where a model trains: ``kind`` ("cpu", "gpu" or "multi-gpu"), its strategy, the
    ``tf.device`` string for one device (None under a strategy), the number of model
    ``replicas``, a ``label`` for the log, and ``notes`` on choices made."""

    kind: str
    strategy: tf.distribute.Strategy
    device: str | None
    replicas: int
    label: str
    notes: list[str] = field(default_factory=list)

    @contextlib.contextmanager
    def scope(self) -> Iterator[None]:
        """Create and train models inside this block to place them here."""
        with contextlib.ExitStack() as stack:
            if self.device is not None:
                stack.enter_context(tf.device(self.device))
            stack.enter_context(self.strategy.scope())
            yield


def place(devices: str = "auto", has_builder: bool = True) -> Placement:
    """Resolve ``devices`` ("auto", "cpu", "gpu", "multi-gpu") to a :class:`Placement`.

    Several GPUs need the model as a builder (``has_builder``): one copy per GPU.
    """
    gpus = gpu_names()
    _check_request(devices, len(gpus), has_builder)
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
