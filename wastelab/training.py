"""Training: one :func:`train` for every chapter and the CLI, plus evaluate, predict, save, load.

``train`` picks the devices (CPU, one GPU, several GPUs), feeds the model through the tf.data
pipeline (:mod:`wastelab.data.pipeline`) or, for comparison, the course's plain
``fit`` on numpy arrays, and wires the callbacks: progress bar, validation precision /
recall / F1 per epoch, TensorBoard, best-model checkpoint, early stopping and resume.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from .data.pipeline import (
    class_weights,
    make_dataset,
    new_epoch_counter,
    normalize,
    steps_per_epoch,
)
from .data.splits import Splits
from .io import save_model

LOOPS = ("fast", "course")
MONITORS = (
    "val_loss",
    "val_accuracy",
    "val_precision",
    "val_recall",
    "val_f1",
    "loss",
    "accuracy",
)
DEVICES = ("auto", "cpu", "gpu", "multi-gpu")
OPTIMIZERS = {
    "adam": keras.optimizers.Adam,
    "sgd": keras.optimizers.SGD,
    "rmsprop": keras.optimizers.RMSprop,
}
# Fast-loop defaults, measured with the course CNN (7,394 parameters, 50x50x1) on 2 CPU
# cores, in CPU milliseconds per training image (steady epochs): fit on numpy at batch 32
# 0.27; tf.data batch 32 0.26, with 16 steps per execution 0.22; batch 128 0.19, with 16
# steps 0.18, the same as a bare compiled step (no Keras loop, no data); batch 256 0.17.
# Keras' Python loop costs about 1.5 ms per step, which steps_per_execution removes; what
# remains is convolution, half of it the full-resolution first block (conv1 + pool1).
# XLA on CPU cost 4x more (0.8 ms/img); channels_first 2x more; thread settings no gain.
CPU_BATCH_SIZE = 128
GPU_BATCH_SIZE = 256  # per GPU; not measured here (no GPU)
COURSE_BATCH_SIZE = 32
STEPS_PER_EXECUTION = 16  # compiled training steps per call from Python
BACKUP_FILES = (
    "latest.weights.h5",
    "training_metadata.json",
    "latest.weights.h5.bkp",
    "training_metadata.json.bkp",
)


@dataclass
class TrainResult:
    """What :func:`train` returns.

    ``history`` maps each metric (loss, accuracy, val_loss, val_accuracy, val_precision,
    val_recall, val_f1) to one value per epoch run; ``epochs`` holds those epochs' numbers
    (1-based, as the progress bar prints them; a resumed run starts after 1). ``best_epoch``
    is the number of the epoch with the best ``monitor`` value (None without it).
    ``images_per_second`` is the training throughput, leaving out the first epoch (tracing
    and warm-up) when more than one ran.
    """

    model: keras.Model
    history: dict[str, list[float]]
    epochs_run: int
    wall_time: float
    images_per_second: float
    device: str
    best_epoch: int | None
    epochs: list[int] = field(default_factory=list)


# --------------------------------------------------------------------------------------------
# Devices
# --------------------------------------------------------------------------------------------


def _cpu_threads() -> int:
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
    cpu = f"CPU ({_cpu_threads()} threads)"
    if not gpus:
        return f"{cpu}; no GPU"
    listed = ", ".join(f"GPU:{i} {name}" for i, name in enumerate(gpus))
    return f"{cpu}; {len(gpus)} GPU{'s' if len(gpus) > 1 else ''}: {listed}"


@dataclass
class _Placement:
    kind: str  # "cpu", "gpu" or "multi-gpu"
    strategy: tf.distribute.Strategy
    device: str | None  # a tf.device string for one device, None for a strategy
    replicas: int
    label: str
    notes: list[str]


def _place(devices: str, has_builder: bool) -> _Placement:
    """Resolve ``devices`` to a kind, a tf.distribute strategy and a description."""
    if devices not in DEVICES:
        raise ValueError(f"devices must be one of {DEVICES}, got {devices!r}")
    gpus = gpu_names()
    notes: list[str] = []
    kind = devices
    if devices == "auto":
        kind = "cpu" if not gpus else "gpu" if len(gpus) == 1 else "multi-gpu"
        if kind == "multi-gpu" and not has_builder:
            kind = "gpu"
            notes.append(f"1 of {len(gpus)} GPUs: pass a model builder to use all")
    elif devices == "gpu" and not gpus:
        raise ValueError(
            "devices='gpu' but TensorFlow sees no GPU here "
            f"({describe_devices()}); use devices='auto' or 'cpu'"
        )
    elif devices == "multi-gpu":
        if len(gpus) < 2:
            raise ValueError(
                f"devices='multi-gpu' needs 2 or more GPUs, TensorFlow sees "
                f"{len(gpus)} ({describe_devices()})"
            )
        if not has_builder:
            raise ValueError(
                "devices='multi-gpu' needs the model as a zero-argument builder "
                "(e.g. lambda: build_cnn()), so it is built on every GPU"
            )
    if kind == "cpu":
        return _Placement(
            "cpu",
            tf.distribute.get_strategy(),
            "/CPU:0",
            1,
            f"CPU ({_cpu_threads()} threads)",
            notes,
        )
    if kind == "gpu":
        return _Placement(
            "gpu", tf.distribute.get_strategy(), "/GPU:0", 1, f"GPU ({gpus[0]})", notes
        )
    strategy = tf.distribute.MirroredStrategy()
    n = strategy.num_replicas_in_sync
    return _Placement(
        "multi-gpu", strategy, None, n, f"{n} GPUs (MirroredStrategy)", notes
    )


@contextlib.contextmanager
def _on(placement: _Placement) -> Iterator[None]:
    with contextlib.ExitStack() as stack:
        if placement.device is not None:
            stack.enter_context(tf.device(placement.device))
        stack.enter_context(placement.strategy.scope())
        yield


@contextlib.contextmanager
def _dtype_policy(name: str | None) -> Iterator[None]:
    """Set Keras' global dtype policy for the duration of the block, then restore it."""
    if name is None:
        yield
        return
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


# --------------------------------------------------------------------------------------------
# Callbacks
# --------------------------------------------------------------------------------------------


class ValidationScores(keras.callbacks.Callback):
    """At each epoch's end, predict the validation set once and log its scores.

    Adds ``val_loss``, ``val_accuracy`` and ``val_precision``, ``val_recall``, ``val_f1`` of
    class ``positive`` (1, "bottle"; macro averages for more than two classes) to the
    epoch's logs, so the progress bar, History, TensorBoard, checkpoints and early stopping
    see them. One compiled forward pass over the validation images, after the training
    steps: it does not slow them down.
    """

    def __init__(
        self,
        x_val: np.ndarray,
        y_val: np.ndarray,
        batch_size: int = 256,
        positive: int = 1,
    ) -> None:
        super().__init__()
        self.y_val, self.positive = np.asarray(y_val), positive
        self.batches = [
            tf.constant(normalize(x_val[i : i + batch_size]))
            for i in range(0, len(x_val), batch_size)
        ]
        self._forward: Callable | None = None

    def on_train_begin(self, logs: dict | None = None) -> None:
        model = self.model
        self._forward = tf.function(
            lambda x: model(x, training=False), reduce_retracing=True
        )

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if logs is None or self._forward is None:
            return
        probs = np.concatenate(
            [np.asarray(self._forward(b), dtype=np.float32) for b in self.batches]
        )
        y_pred = np.argmax(probs, axis=1)
        logs["val_loss"] = cross_entropy(probs, self.y_val)
        logs["val_accuracy"] = float(np.mean(y_pred == self.y_val))
        scores = _scores(self.y_val, y_pred, probs.shape[1], self.positive)
        for name in ("precision", "recall", "f1"):
            logs[f"val_{name}"] = scores[name]


def cross_entropy(probs: np.ndarray, y: np.ndarray) -> float:
    """Mean cross-entropy of labels ``y`` (N,) under ``probs`` (N, K), clipped to [1e-7, 1]
    as Keras' ``SparseCategoricalCrossentropy`` does."""
    p_true = probs[np.arange(len(y)), y].astype(np.float64)
    return float(-np.mean(np.log(np.clip(p_true, 1e-7, 1.0))))


def _scores(
    y_true: np.ndarray, y_pred: np.ndarray, n_classes: int, positive: int
) -> dict:
    if n_classes <= 2:
        from .metrics import binary_report

        return binary_report(y_true, y_pred, positive=positive)
    from sklearn.metrics import precision_recall_fscore_support

    p, r, f, _ = precision_recall_fscore_support(
        y_true, y_pred, labels=np.arange(n_classes), average="macro", zero_division=0
    )
    return {"precision": float(p), "recall": float(r), "f1": float(f)}


class _EpochKey(keras.callbacks.Callback):
    """Point the pipeline's pass counter at the epoch about to start (resume-safe order)."""

    def __init__(self, counter: tf.Variable) -> None:
        super().__init__()
        self.counter = counter

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.counter.assign(epoch)


class _Timer(keras.callbacks.Callback):
    """Seconds spent in training steps per epoch (before validation), and epoch numbers.

    Runs before :class:`ValidationScores`; ``on_test_begin`` covers Keras' own validation."""

    def __init__(self) -> None:
        super().__init__()
        self.train_seconds: list[float] = []
        self.epochs: list[int] = []
        self._start: float | None = None

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._start = time.perf_counter()

    def _stop(self) -> None:
        if self._start is not None:
            self.train_seconds.append(time.perf_counter() - self._start)
            self._start = None

    def on_test_begin(self, logs: dict | None = None) -> None:
        self._stop()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self._stop()
        self.epochs.append(epoch + 1)


class _Progbar(keras.callbacks.ProgbarLogger):
    """Keras' progress bar, stopping at the epoch's last step: with several steps per
    execution Keras reports the end of a whole chunk, which can overshoot the epoch."""

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self.target:
            batch = min(batch, self.target - 1)
        super().on_train_batch_end(batch, logs)


class _BestCheckpoint(keras.callbacks.Callback):
    """Save the model (atomically, ``.keras``) whenever ``monitor`` improves."""

    def __init__(self, path: Path, monitor: str) -> None:
        super().__init__()
        self.path, self.monitor = path, monitor
        self.best: float | None = None

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        value = (logs or {}).get(self.monitor)
        if value is None:
            raise ValueError(
                f"checkpoint: metric {self.monitor!r} not in the epoch's logs "
                f"{sorted(logs or {})}"
            )
        if self.best is None or _better(value, self.best, self.monitor):
            self.best = float(value)
            save_model(self.model, self.path)


def _mode(monitor: str) -> str:
    return "min" if "loss" in monitor else "max"


def _better(value: float, best: float, monitor: str) -> bool:
    return value < best if _mode(monitor) == "min" else value > best


def _check_backup_dir(path: Path) -> None:
    if path.exists() and not path.is_dir():
        raise ValueError(f"backup_dir {path} exists and is not a folder")
    if path.is_dir():
        foreign = sorted(p.name for p in path.iterdir() if p.name not in BACKUP_FILES)
        if foreign:
            raise ValueError(
                f"backup_dir {path} holds other files {foreign[:5]}: it must be a "
                "folder for train's backups alone (it is deleted when training ends)"
            )


def backup_epoch(backup_dir: str | Path) -> int:
    """Epochs completed by the interrupted run backed up in ``backup_dir`` (0 if none)."""
    meta = Path(backup_dir) / "training_metadata.json"
    if not meta.is_file():
        return 0
    return int(json.loads(meta.read_text())["epoch"])


# --------------------------------------------------------------------------------------------
# train
# --------------------------------------------------------------------------------------------


def train(
    model: keras.Model | Callable[[], keras.Model],
    data: Splits,
    epochs: int = 10,
    batch_size: int | None = None,
    optimizer: str | keras.optimizers.Optimizer = "adam",
    learning_rate: float = 1e-3,
    class_weight: str | dict[int, float] | None = None,
    oversample: bool = False,
    augment: keras.Layer | None = None,
    loop: str = "fast",
    devices: str = "auto",
    mixed_precision: bool = False,
    xla: bool = False,
    log_dir: str | Path | None = None,
    checkpoint: str | Path | None = None,
    early_stopping: int | None = None,
    backup_dir: str | Path | None = None,
    seed: int = 0,
    verbose: int = 1,
    monitor: str = "val_loss",
    callbacks: Sequence[keras.callbacks.Callback] = (),
    deterministic: bool = True,
    steps_per_execution: int | None = None,
) -> TrainResult:
    """Compile and train ``model`` on ``data.x_train``/``y_train``, validating on ``x_val``.

    - ``model``: a ``keras.Model`` mapping float32 images (N, H, W, C) in [0, 1] to class
      probabilities (N, n_classes), or a zero-argument function building one (needed for
      several GPUs and for mixed precision, whose layers must be created under the policy).
    - ``loop="fast"``: tf.data pipeline, several compiled steps per call, a batch size that
      suits the hardware (128 on CPU, 256 per GPU). ``loop="course"``: the course's
      ``model.fit(x_float, y, batch_size=32)`` on numpy arrays, for comparison.
    - ``devices``: ``"auto"`` (several GPUs -> MirroredStrategy, one GPU, else CPU), ``"cpu"``,
      ``"gpu"``, ``"multi-gpu"``. ``mixed_precision`` (float16) and ``xla`` apply on GPUs only.
    - ``class_weight``: ``"balanced"`` or ``{class: weight}``; ``oversample``: draw classes
      equally often (fast loop: per batch; course loop: a resampled copy). Choose one.
    - ``augment``: a Keras layer/model of random transforms, applied to training batches.
    - ``log_dir``: TensorBoard logs. ``checkpoint``: a ``.keras`` path, saved whenever
      ``monitor`` improves. ``early_stopping``: patience in epochs; the best weights are
      restored. ``backup_dir``: a folder for backups at every epoch's end; calling ``train``
      again with the same folder resumes after the last completed epoch (the folder is
      deleted when training completes).
    - ``seed``: seeds Keras, numpy, Python and the data order; with ``deterministic`` (on by
      default, process-wide: ``tf.config.experimental.enable_op_determinism``) the same seed
      gives the same weights.
    - ``callbacks``: extra Keras callbacks, run after train's own.

    Prints one line saying where and how it trains (``verbose=0``: nothing at all).
    """
    start_time = time.perf_counter()
    if not isinstance(data, Splits):
        raise ValueError(f"data must be a wastelab Splits, got {type(data).__name__}")
    if loop not in LOOPS:
        raise ValueError(f"loop must be one of {LOOPS}, got {loop!r}")
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if early_stopping is not None and (
        not isinstance(early_stopping, int) or early_stopping < 0
    ):
        raise ValueError(
            f"early_stopping must be a patience in epochs (int >= 0), got "
            f"{early_stopping!r}"
        )
    if class_weight is not None and oversample:
        raise ValueError(
            "choose class_weight or oversample, not both: each alone corrects the "
            "class imbalance"
        )
    if loop == "course" and augment is not None:
        raise ValueError(
            "augment needs loop='fast' (the course loop feeds numpy arrays)"
        )
    n_classes = len(data.class_names)
    has_val = len(data.y_val) > 0
    if monitor not in MONITORS:
        raise ValueError(f"monitor must be one of {MONITORS}, got {monitor!r}")
    if (
        not has_val
        and monitor.startswith("val_")
        and (checkpoint or early_stopping is not None)
    ):
        raise ValueError(
            f"monitor={monitor!r} needs a validation split, and data.x_val is empty"
        )
    weights = _class_weight(class_weight, data.y_train, n_classes)
    checkpoint_path = _checkpoint_path(checkpoint)
    backup_path = Path(backup_dir) if backup_dir is not None else None
    if backup_path is not None:
        _check_backup_dir(backup_path)

    placement = _place(
        devices, has_builder=callable(model) and not isinstance(model, keras.Model)
    )
    on_gpu = placement.kind != "cpu"
    notes = list(placement.notes)
    if not on_gpu and (mixed_precision or xla):
        ignored = " and ".join(
            n for n, on in (("mixed precision", mixed_precision), ("XLA", xla)) if on
        )
        notes.append(f"{ignored} ignored on CPU")
    use_mixed = mixed_precision and on_gpu
    use_xla = xla and on_gpu

    if deterministic:
        tf.config.experimental.enable_op_determinism()
    keras.utils.set_random_seed(seed)

    if batch_size is None:
        if loop == "course":
            batch_size = COURSE_BATCH_SIZE
        else:
            batch_size = (
                GPU_BATCH_SIZE if on_gpu else CPU_BATCH_SIZE
            ) * placement.replicas
    spe = 1 if loop == "course" else (steps_per_execution or STEPS_PER_EXECUTION)

    with _on(placement):
        net = _build(model, use_mixed)
        _check_model(net, data)
        net.compile(
            optimizer=_optimizer(optimizer, learning_rate),
            loss=keras.losses.SparseCategoricalCrossentropy(),
            metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
            steps_per_execution=spe,
            jit_compile=use_xla,
        )

    timer = _Timer()
    counter = new_epoch_counter()
    own = _callbacks(
        timer,
        counter,
        data,
        backup_path,
        log_dir,
        checkpoint_path,
        early_stopping,
        monitor,
    )
    if verbose:
        extras = [
            label
            for label, on in (
                ("mixed float16", use_mixed),
                ("XLA", use_xla),
                ("oversampling", oversample),
                ("class weights", weights is not None),
                ("augmentation", augment is not None),
            )
            if on
        ]
        resumed = backup_epoch(backup_path) if backup_path is not None else 0
        if resumed:
            extras.append(f"resuming after epoch {resumed}")
        loop_label = (
            "fast loop (tf.data, compiled steps)"
            if loop == "fast"
            else "course loop (fit on numpy arrays)"
        )
        tail = "".join(f", {e}" for e in extras + notes)
        print(f"Training on {placement.label}, batch {batch_size}, {loop_label}{tail}")

    if loop == "fast":
        train_ds = make_dataset(
            data.x_train,
            data.y_train,
            batch_size=batch_size,
            training=True,
            augment=augment,
            balance=oversample,
            cache=False,
            seed=seed,
            n_classes=n_classes,
            epoch_counter=counter,
        )
        per_epoch = steps_per_epoch(len(data.y_train), batch_size, oversample)
        images_per_epoch = per_epoch * batch_size if oversample else len(data.y_train)
        fit_args: dict[str, Any] = {"x": train_ds, "shuffle": False}
    else:
        x_train, y_train = data.x_train, data.y_train
        if oversample:
            idx = _balanced_indices(y_train, seed)
            x_train, y_train = x_train[idx], y_train[idx]
        images_per_epoch = len(y_train)
        fit_args = {
            "x": normalize(x_train),
            "y": y_train,
            "batch_size": batch_size,
            "shuffle": True,
        }

    with _on(placement):
        history = net.fit(
            **fit_args,
            epochs=epochs,
            class_weight=weights,
            verbose=verbose,
            callbacks=[*own, *callbacks, *([_Progbar()] if verbose else [])],
        )

    hist = {k: [float(v) for v in vals] for k, vals in history.history.items()}
    steady = (
        timer.train_seconds[1:] if len(timer.train_seconds) > 1 else timer.train_seconds
    )
    seconds = sum(steady)
    best = None
    if hist.get(monitor):
        values = hist[monitor]
        pick = np.argmin if _mode(monitor) == "min" else np.argmax
        best = timer.epochs[int(pick(values))] if timer.epochs else None
    return TrainResult(
        model=net,
        history=hist,
        epochs_run=len(timer.epochs),
        wall_time=time.perf_counter() - start_time,
        images_per_second=images_per_epoch * len(steady) / seconds
        if seconds > 0
        else 0.0,
        device=placement.label,
        best_epoch=best,
        epochs=list(timer.epochs),
    )


def _callbacks(
    timer: _Timer,
    counter: tf.Variable,
    data: Splits,
    backup_path: Path | None,
    log_dir: str | Path | None,
    checkpoint_path: Path | None,
    early_stopping: int | None,
    monitor: str,
) -> list[keras.callbacks.Callback]:
    """train's own callbacks, in the order they must run at each epoch's end."""
    own: list[keras.callbacks.Callback] = [
        timer
    ]  # first: stops its clock before the rest
    if backup_path is not None:
        own.append(
            keras.callbacks.BackupAndRestore(str(backup_path), double_checkpoint=True)
        )
    own.append(_EpochKey(counter))
    if len(data.y_val):
        own.append(
            ValidationScores(data.x_val, data.y_val)
        )  # before all that reads val_*
    if log_dir is not None:
        own.append(keras.callbacks.TensorBoard(log_dir=str(log_dir), profile_batch=0))
    if checkpoint_path is not None:
        own.append(_BestCheckpoint(checkpoint_path, monitor))
    if early_stopping is not None:
        own.append(
            keras.callbacks.EarlyStopping(
                monitor=monitor,
                patience=early_stopping,
                mode=_mode(monitor),
                restore_best_weights=True,
            )
        )
    return own


def _build(model: keras.Model | Callable[[], keras.Model], mixed: bool) -> keras.Model:
    if isinstance(model, keras.Model):
        if mixed:
            raise ValueError(
                "mixed_precision=True needs the model as a zero-argument builder "
                "(e.g. lambda: build_cnn()): its layers must be created under the "
                "mixed_float16 policy"
            )
        return model
    if not callable(model):
        raise ValueError(
            f"model must be a keras.Model or a function returning one, got "
            f"{type(model).__name__}"
        )
    with _dtype_policy("mixed_float16" if mixed else None):
        built = model()
    if not isinstance(built, keras.Model):
        raise ValueError(
            f"the model builder returned {type(built).__name__}, not a keras.Model"
        )
    return built


def _check_model(model: keras.Model, data: Splits) -> None:
    try:
        in_shape = tuple(model.input_shape[1:])
        out_shape = tuple(model.output_shape)
    except (AttributeError, ValueError) as err:
        raise ValueError(
            f"model {model.name!r} must be built with a known input shape "
            f"(start it with keras.Input): {err}"
        ) from err
    if None not in in_shape and in_shape != tuple(data.image_shape):
        raise ValueError(
            f"model {model.name!r} expects images {in_shape}, the data has "
            f"{tuple(data.image_shape)}"
        )
    n = len(data.class_names)
    if out_shape[-1] != n:
        raise ValueError(
            f"model {model.name!r} outputs {out_shape[-1]} values per image, the "
            f"data has {n} classes {list(data.class_names)}"
        )


def _optimizer(
    optimizer: str | keras.optimizers.Optimizer, learning_rate: float
) -> keras.optimizers.Optimizer:
    if isinstance(optimizer, keras.optimizers.Optimizer):
        return optimizer
    if not isinstance(optimizer, str) or optimizer.lower() not in OPTIMIZERS:
        raise ValueError(
            f"optimizer must be one of {sorted(OPTIMIZERS)} or a Keras optimizer, "
            f"got {optimizer!r}"
        )
    return OPTIMIZERS[optimizer.lower()](learning_rate=learning_rate)


def _class_weight(
    class_weight: str | dict | None, y: np.ndarray, n_classes: int
) -> dict[int, float] | None:
    if class_weight is None:
        return None
    if isinstance(class_weight, str):
        if class_weight != "balanced":
            raise ValueError(
                f"class_weight must be 'balanced', a dict or None, got {class_weight!r}"
            )
        return class_weights(y, n_classes)
    if not isinstance(class_weight, dict):
        raise ValueError(
            f"class_weight must be 'balanced', a dict or None, got "
            f"{type(class_weight).__name__}"
        )
    bad = [
        k
        for k in class_weight
        if not isinstance(k, int | np.integer) or not 0 <= k < n_classes
    ]
    if bad:
        raise ValueError(
            f"class_weight keys must be class ids in [0, {n_classes - 1}], got {bad}"
        )
    return {int(k): float(v) for k, v in class_weight.items()}


def _checkpoint_path(checkpoint: str | Path | None) -> Path | None:
    if checkpoint is None:
        return None
    path = Path(checkpoint)
    if path.suffix != ".keras":
        raise ValueError(f"checkpoint must be a .keras file path, got {path}")
    return path


def _balanced_indices(y: np.ndarray, seed: int) -> np.ndarray:
    """len(y) indices drawn with equal class probability (with replacement), seeded."""
    rng = np.random.default_rng(seed)
    classes = [np.flatnonzero(y == c) for c in np.unique(y)]
    pick = rng.integers(0, len(classes), size=len(y))
    return np.array(
        [classes[c][rng.integers(0, len(classes[c]))] for c in pick], dtype=np.int64
    )


# --------------------------------------------------------------------------------------------
# Using a trained model
# --------------------------------------------------------------------------------------------


def predict_proba(
    model: keras.Model, x: np.ndarray, batch_size: int = 256
) -> np.ndarray:
    """Class probabilities (N, n_classes) float32 for images (N, H, W, C).

    ``x`` is uint8 (0-255, normalised by :func:`~wastelab.data.pipeline.normalize`, as in
    training) or float in [0, 1]. A one-unit sigmoid model gives columns (1 - p, p).
    """
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"images must have shape (N, H, W, C), got {x.shape}")
    expected = tuple(model.input_shape[1:])
    if any(
        e is not None and e != s for e, s in zip(expected, x.shape[1:], strict=True)
    ):
        raise ValueError(
            f"model {model.name!r} expects images {expected}, got {x.shape[1:]}"
        )
    if len(x) == 0:
        return np.zeros(
            (0, model.output_shape[-1] if model.output_shape[-1] > 1 else 2), np.float32
        )
    if x.dtype == np.uint8:
        ds = tf.data.Dataset.from_tensor_slices(x).batch(batch_size).map(normalize)
        probs = model.predict(ds.prefetch(tf.data.AUTOTUNE), verbose=0)
    else:
        probs = model.predict(normalize(x), batch_size=batch_size, verbose=0)
    probs = np.asarray(probs, dtype=np.float32)
    if probs.ndim == 2 and probs.shape[1] == 1:
        probs = np.concatenate([1.0 - probs, probs], axis=1)
    return probs


def evaluate(
    model: keras.Model,
    x: np.ndarray,
    y: np.ndarray,
    threshold: float | None = None,
    batch_size: int = 256,
    positive: int = 1,
) -> dict[str, float]:
    """Scores on images ``x`` (N, H, W, C) with labels ``y`` (N,): binary report plus loss.

    Keys: accuracy, precision, recall, specificity, f1, balanced_accuracy (of class
    ``positive``, from :func:`wastelab.metrics.binary_report`) and loss (mean cross-entropy,
    probabilities clipped to [1e-7, 1] as Keras does). Predicted class: the most probable, or
    for two classes with ``threshold``, class 1 when its probability >= threshold.
    """
    from .metrics import binary_report

    probs = predict_proba(model, x, batch_size=batch_size)
    n_classes = probs.shape[1]
    y = np.asarray(y)
    if y.shape != (len(probs),) or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(
            f"evaluate: labels must be integers of shape ({len(probs)},), got "
            f"{y.dtype} {y.shape}"
        )
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(
            f"evaluate: labels out of range [0, {n_classes - 1}]: found "
            f"{int(y.min())}..{int(y.max())}"
        )
    if threshold is None:
        y_pred = np.argmax(probs, axis=1)
    else:
        if n_classes != 2:
            raise ValueError(
                f"threshold needs a two-class model, this one has {n_classes}"
            )
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must lie in [0, 1], got {threshold}")
        y_pred = (probs[:, 1] >= threshold).astype(np.int64)
    report = binary_report(y, y_pred, positive=positive)
    report["loss"] = cross_entropy(probs, y)
    return report
