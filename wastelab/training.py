"""Training: one :func:`train` for every chapter and the CLI, plus evaluate and predict.

``train`` places the model (:mod:`wastelab.devices`), feeds it through the tf.data
pipeline (:mod:`wastelab.data.pipeline`) or, for comparison, the course's plain ``fit``
on numpy arrays, and wires Keras' callbacks: progress bar, validation precision, recall
and F1 per epoch, TensorBoard, best-model checkpoint, early stopping and exact resume.
"""

from __future__ import annotations

import json
import math
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from tqdm.keras import TqdmCallback
from tqdm.std import tqdm  # text bars: no ipywidgets needed in notebooks

from .atomic import atomic_write, write_json
from .data.pipeline import (
    balanced_order,
    class_weights,
    make_dataset,
    new_epoch_counter,
    normalize,
    steps_per_epoch,
)
from .data.splits import Splits
from .devices import (
    Placement,
    dtype_policy,
    place,
    scale_for_workers,
    worker_outputs,
)
from .models import check_learning_rate, compile_model

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
# Fast-loop defaults, measured with the course CNN (7,394 parameters, 50x50x1) on 2 CPU
# cores, in CPU milliseconds per training image (steady epochs): fit on numpy at batch
# 32 0.27; tf.data batch 32 0.26, with 16 steps per execution 0.22; batch 128 0.19, with
# 16 steps 0.18, the same as a bare compiled step (no Keras loop, no data); batch 256
# 0.17. Keras' Python loop costs about 1.5 ms per step, which steps_per_execution
# removes; what remains is convolution, half of it the full-resolution first block
# (conv1 + pool1). XLA on CPU cost 4x more (0.8 ms/img); channels_first 2x more; thread
# settings no gain.
CPU_BATCH_SIZE = 128
GPU_BATCH_SIZE = 256  # per GPU; not measured here (no GPU)
COURSE_BATCH_SIZE = 32
STEPS_PER_EXECUTION = 16  # compiled training steps per call from Python
#: What ``train`` keeps in ``backup_dir``: Keras' BackupAndRestore files, the history so
#: far, and the best model when early stopping has no checkpoint to restore it from.
BACKUP_FILES = (
    "latest.weights.h5",
    "training_metadata.json",
    "latest.weights.h5.bkp",
    "training_metadata.json.bkp",
    "history.json",
    "best.keras",
)


@dataclass
class TrainResult:
    """What :func:`train` returns.

    ``history`` maps each metric (loss, accuracy, val_loss, val_accuracy, val_precision,
    val_recall, val_f1) to one value per epoch, including the epochs a resumed run
    restored from its backup; ``epochs`` holds those epochs' numbers (1-based, as the
    progress bar counts). ``epochs_run`` counts the epochs this call trained.
    ``best_epoch`` is the number of the epoch with the best ``monitor`` value (None
    without it). ``images_per_second`` is this call's training throughput, leaving out
    its first epoch (tracing and warm-up) when it ran more than one. ``chief``: whether
    this process writes the outputs (False on the other workers of a multi-worker run,
    whose ``model`` is a copy outside the strategy, for predicting on its own).
    """

    model: keras.Model
    history: dict[str, list[float]]
    epochs_run: int
    wall_time: float
    images_per_second: float
    device: str
    best_epoch: int | None
    epochs: list[int] = field(default_factory=list)
    chief: bool = True


# --------------------------------------------------------------------------------------
# train
# --------------------------------------------------------------------------------------


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
) -> TrainResult:
    """Compile and train ``model`` on ``data.x_train``/``y_train``, validating on
    ``x_val``.

    - ``model``: a ``keras.Model`` mapping float32 images (N, H, W, C) in [0, 1] to
      class probabilities (N, n_classes), or a zero-argument function building one
      (needed for several GPUs and for mixed precision: see :func:`build_model`).
    - ``loop="fast"``: tf.data pipeline, several compiled steps per call, a batch size
      that suits the hardware (128 on CPU, 256 per GPU). ``loop="course"``: the course's
      ``model.fit(x_float, y, batch_size=32)`` on numpy arrays, for comparison.
    - ``devices``: ``"auto"``, ``"cpu"``, ``"gpu"``, ``"multi-gpu"`` (see
      :func:`wastelab.devices.place`). ``mixed_precision`` (float16) and ``xla`` apply
      on GPUs only. ``"multi-worker"``: one process per node, training together
      (needs the fast loop); ``batch_size`` and ``learning_rate`` are then one node's,
      both multiplied by the number of nodes
      (:func:`wastelab.devices.scale_for_workers`), and only the chief writes
      ``log_dir``, ``checkpoint`` and ``backup_dir``.
    - ``optimizer``: a name in :data:`wastelab.models.OPTIMIZERS` with ``learning_rate``
      (a finite number above 0), or an optimizer instance.
    - ``class_weight``: ``"balanced"`` or ``{class: weight}``; ``oversample``: draw
      classes equally often (fast loop: per batch; course loop: a resampled copy).
      Choose one. ``augment``: a Keras layer of random transforms for training batches.
    - ``log_dir``: TensorBoard logs. ``checkpoint``: a ``.keras`` path, saved whenever
      ``monitor`` improves. ``early_stopping``: patience in epochs; the best epoch's
      weights are restored at the end.
    - ``backup_dir``: a folder for a backup at every epoch's end; calling ``train``
      again with the same folder resumes after the last completed epoch and ends as the
      uninterrupted run would (same weights, history, checkpoint); the folder is
      deleted when training completes.
    - ``seed``: seeds Keras, numpy, Python, the data order and the random layers (per
      epoch); with ``deterministic`` (on by default, process-wide:
      ``tf.config.experimental.enable_op_determinism``) the same seed gives the same
      weights.
    - ``callbacks``: extra Keras callbacks, run after train's own.

    Raises ValueError for bad arguments (before anything is written) and
    FloatingPointError when the loss stops being finite (nothing from that epoch is
    saved). Prints one line saying where and how it trains, then a progress bar over
    the epochs (``verbose=0``: nothing at all).
    """
    weights = _check_args(**locals())  # ValueError before anything is built or written
    start = time.perf_counter()
    placement = place(devices, has_builder=not isinstance(model, keras.Model))
    on_gpu = placement.on_gpu
    if placement.workers > 1 and loop == "course":
        raise ValueError("devices='multi-worker' needs loop='fast'")
    batch_size, learning_rate = scale_for_workers(  # per worker -> global
        placement, batch_size, learning_rate, scalable=isinstance(optimizer, str)
    )
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    keras.utils.set_random_seed(seed)
    batch_size = batch_size or _default_batch_size(loop, placement)
    with placement.scope():
        net = build_model(model, mixed_precision=mixed_precision and on_gpu)
        _check_model(net, data)
        # one step per call with replicas: Keras' multi-step loop fails under
        # MirroredStrategy ("You must feed a value for placeholder", keras#19246)
        single = loop == "course" or placement.replicas > 1
        steps = 1 if single else STEPS_PER_EXECUTION
        compile_model(net, optimizer, learning_rate, steps, jit_compile=xla and on_gpu)

    counter = new_epoch_counter()
    fit_data, images_per_epoch = _fit_data(
        data, loop, batch_size, augment, oversample, seed, counter
    )
    if loop == "fast":
        fit_data["x"] = placement.shard(fit_data["x"])
    backup = Path(backup_dir) if backup_dir is not None else None
    if verbose:
        uses = {
            "mixed float16": mixed_precision and on_gpu,
            "XLA": xla and on_gpu,
            "oversampling": oversample,
            "class weights": weights is not None,
            "augmentation": augment is not None,
        }
        print(_plan(placement, batch_size, loop, uses, mixed_precision, xla, backup))

    with (
        tempfile.TemporaryDirectory(prefix="wastelab-") as scratch,
        # only the chief writes where asked; other workers, in a temporary folder
        worker_outputs(placement, log_dir, checkpoint, backup) as outputs,
    ):
        log_dir, checkpoint, backup = outputs
        run = _Run(
            data,
            counter,
            augment,
            log_dir,
            checkpoint,
            early_stopping,
            backup,
            monitor,
            Path(scratch) / "best.keras",
        )
        bar = [TqdmCallback(epochs, verbose=0, tqdm_class=tqdm)] if verbose else []
        try:
            with placement.scope():
                net.fit(
                    **fit_data,
                    epochs=epochs,
                    class_weight=weights,
                    verbose=0,
                    callbacks=[*run.callbacks, *callbacks, *bar],
                )
        finally:
            run.release()
            for b in bar:  # closed already, unless an exception ended training
                b.epoch_bar.close()
    result = run.result(net, images_per_epoch, placement.label, start)
    if placement.workers > 1:  # a copy outside the strategy: each worker uses it alone
        alone = build_model(model, mixed_precision=mixed_precision and on_gpu)
        alone.set_weights(net.get_weights())
        alone.compile_from_config(net.get_compile_config())  # builds the optimizer
        for mine, trained in zip(
            alone.optimizer.variables, net.optimizer.variables, strict=True
        ):
            mine.assign(trained)
        result = replace(result, model=alone, chief=placement.chief)
    return result


def build_model(
    model: keras.Model | Callable[[], keras.Model], mixed_precision: bool = False
) -> keras.Model:
    """The model to train: ``model`` itself, or the model its builder returns.

    With ``mixed_precision`` the builder runs under Keras' ``mixed_float16`` policy:
    layers take the policy when they are created, so a model built beforehand would stay
    in float32 (that is refused).
    """
    _check_builder(model, mixed_precision)
    if isinstance(model, keras.Model):
        return model
    with dtype_policy("mixed_float16" if mixed_precision else None):
        built = model()
    if not isinstance(built, keras.Model):
        raise ValueError(
            f"the model builder returned {type(built).__name__}, not a keras.Model"
        )
    return built


def backup_epoch(backup_dir: str | Path) -> int:
    """Epochs completed by the interrupted run backed up in ``backup_dir`` (or 0)."""
    meta = Path(backup_dir) / "training_metadata.json"
    if not meta.is_file():
        return 0
    return int(json.loads(meta.read_text())["epoch"])


# --------------------------------------------------------------------------------------
# Checking train's arguments
# --------------------------------------------------------------------------------------


def _check_args(
    *,
    data: Splits,
    epochs: int,
    batch_size: int | None,
    optimizer: str | keras.optimizers.Optimizer,
    learning_rate: float,
    class_weight: str | dict | None,
    oversample: bool,
    augment: keras.Layer | None,
    loop: str,
    monitor: str,
    checkpoint: str | Path | None,
    early_stopping: int | None,
    backup_dir: str | Path | None,
    **others: Any,
) -> dict[int, float] | None:
    """Refuse bad arguments of :func:`train` (all passed by name; ``devices`` and the
    model are checked where they are used); return the class weights (or None)."""
    if not isinstance(data, Splits):
        raise ValueError(f"data must be a wastelab Splits, got {type(data).__name__}")
    if loop not in LOOPS:
        raise ValueError(f"loop must be one of {LOOPS}, got {loop!r}")
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if isinstance(optimizer, str):  # an optimizer instance brings its own rate
        check_learning_rate(learning_rate)
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
    if monitor not in MONITORS:
        raise ValueError(f"monitor must be one of {MONITORS}, got {monitor!r}")
    needs_monitor = checkpoint is not None or early_stopping is not None
    if needs_monitor and monitor.startswith("val_") and len(data.y_val) == 0:
        raise ValueError(
            f"monitor={monitor!r} needs a validation split, and data.x_val is empty"
        )
    if checkpoint is not None and Path(checkpoint).suffix != ".keras":
        raise ValueError(f"checkpoint must be a .keras file path, got {checkpoint}")
    if backup_dir is not None:
        _check_backup_dir(Path(backup_dir))
    return _class_weight(class_weight, data.y_train, len(data.class_names))


def _check_backup_dir(path: Path) -> None:
    if path.exists() and not path.is_dir():
        raise ValueError(f"backup_dir {path} exists and is not a folder")
    if path.is_dir():
        foreign = sorted(p.name for p in path.iterdir() if not _ours(p.name))
        if foreign:
            raise ValueError(
                f"backup_dir {path} holds other files {foreign[:5]}: it must be a "
                "folder for train's backups alone (it is deleted when training ends)"
            )


def _ours(name: str) -> bool:
    """Whether a file name in a backup folder is train's (a temporary one included)."""
    return any(name == f or name.startswith(f".{f}.") for f in BACKUP_FILES)


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


def _check_builder(
    model: keras.Model | Callable[[], keras.Model], mixed_precision: bool
) -> None:
    if isinstance(model, keras.Model):
        if mixed_precision:
            raise ValueError(
                "mixed_precision=True needs the model as a zero-argument builder "
                "(e.g. lambda: build_cnn()): its layers must be created under the "
                "mixed_float16 policy"
            )
    elif not callable(model):
        raise ValueError(
            f"model must be a keras.Model or a function returning one, got "
            f"{type(model).__name__}"
        )


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


# --------------------------------------------------------------------------------------
# What train feeds the model, and what it prints
# --------------------------------------------------------------------------------------


def _default_batch_size(loop: str, placement: Placement) -> int:
    if loop == "course":
        return COURSE_BATCH_SIZE
    per_device = GPU_BATCH_SIZE if placement.on_gpu else CPU_BATCH_SIZE
    return per_device * placement.replicas


def _fit_data(
    data: Splits,
    loop: str,
    batch_size: int,
    augment: keras.Layer | None,
    oversample: bool,
    seed: int,
    counter: tf.Variable,
) -> tuple[dict[str, Any], int]:
    """``fit``'s data arguments for ``loop``, and the number of images in an epoch."""
    x, y = data.x_train, data.y_train
    if loop == "fast":
        dataset = make_dataset(
            x,
            y,
            batch_size=batch_size,
            training=True,
            augment=augment,
            balance=oversample,
            cache=False,
            seed=seed,
            n_classes=len(data.class_names),
            epoch_counter=counter,
        )
        steps = steps_per_epoch(len(y), batch_size, oversample)
        images = steps * batch_size if oversample else len(y)
        return {"x": dataset, "shuffle": False}, images
    if oversample:  # one resampled copy, drawn as the fast loop draws a pass
        idx = balanced_order(y, len(y), seed).numpy()
        x, y = x[idx], y[idx]
    arrays = {"x": normalize(x), "y": y, "batch_size": batch_size, "shuffle": True}
    return arrays, len(y)


def _plan(
    placement: Placement,
    batch_size: int,
    loop: str,
    uses: dict[str, bool],
    mixed_precision: bool,
    xla: bool,
    backup: Path | None,
) -> str:
    """The line train prints first: where, batch, loop and every choice made."""
    loop_label = (
        "fast loop (tf.data, compiled steps)"
        if loop == "fast"
        else "course loop (fit on numpy arrays)"
    )
    extras = [name for name, on in uses.items() if on]
    resumed = backup_epoch(backup) if backup is not None else 0
    if resumed:
        extras.append(f"resuming after epoch {resumed}")
    notes = list(placement.notes)
    if not placement.on_gpu:
        off = [
            n for n, on in (("mixed precision", mixed_precision), ("XLA", xla)) if on
        ]
        if off:
            notes.append(f"{' and '.join(off)} ignored on CPU")
    tail = "".join(f", {e}" for e in extras + notes)
    return f"Training on {placement.label}, batch {batch_size}, {loop_label}{tail}"


# --------------------------------------------------------------------------------------
# Callbacks
# --------------------------------------------------------------------------------------


class _Run:
    """train's own callbacks, in the order they run at each epoch's end, and the
    :class:`TrainResult` they add up to."""

    def __init__(
        self,
        data: Splits,
        counter: tf.Variable,
        augment: keras.Layer | None,
        log_dir: str | Path | None,
        checkpoint: str | Path | None,
        early_stopping: int | None,
        backup: Path | None,
        monitor: str,
        scratch_best: Path,
    ) -> None:
        restored = _restored(backup)
        past = restored["history"].get(monitor, [])
        self.monitor, self.mode = monitor, "min" if "loss" in monitor else "max"
        self.timer = _Timer()
        self.log = _EpochLog(restored, backup / "history.json" if backup else None)
        self.backup = _BackupAndRestore(backup) if backup is not None else None
        own: list[keras.callbacks.Callback | None] = [
            self.timer,  # first: stops its clock before the rest
            _StopAtNonFiniteLoss(),  # before anything saves the epoch
            _EpochSeeds(counter, augment),
            ValidationScores(data.x_val, data.y_val) if len(data.y_val) else None,
        ]
        if log_dir is not None:
            own.append(keras.callbacks.TensorBoard(str(log_dir), profile_batch=0))
        best = _best_path(checkpoint, early_stopping, backup, scratch_best)
        if best is not None:
            own.append(
                _BestCheckpoint(
                    best,
                    restore=early_stopping is not None,
                    monitor=monitor,
                    mode=self.mode,
                    initial_value_threshold=_best_value(past, self.mode),
                )
            )
        if early_stopping is not None:
            own.append(
                _EarlyStopping(
                    past, monitor=monitor, patience=early_stopping, mode=self.mode
                )
            )
        own += [self.log, self.backup]  # the backup last: once saved, the epoch is done
        self.callbacks = [c for c in own if c is not None]

    def release(self) -> None:
        """Give Ctrl-C back to its handler (after an error, the backup may hold it)."""
        if self.backup is not None:
            self.backup.release(deliver=False)

    def result(
        self, net: keras.Model, images_per_epoch: int, device: str, start: float
    ) -> TrainResult:
        seconds = self.timer.train_seconds
        steady = seconds[1:] or seconds
        history, epochs = self.log.history, self.log.epochs
        best = None
        if history.get(self.monitor) and epochs:
            pick = np.nanargmin if self.mode == "min" else np.nanargmax
            best = epochs[int(pick(history[self.monitor]))]
        return TrainResult(
            model=net,
            history=history,
            epochs_run=len(seconds),
            wall_time=time.perf_counter() - start,
            images_per_second=images_per_epoch * len(steady) / sum(steady)
            if sum(steady) > 0
            else 0.0,
            device=device,
            best_epoch=best,
            epochs=epochs,
        )


def _restored(backup: Path | None) -> dict[str, Any]:
    """The epochs a backup holds: their numbers and history (none without a backup)."""
    done = backup_epoch(backup) if backup is not None else 0
    nothing: dict[str, Any] = {"epochs": [], "history": {}}
    if not done or not (backup / "history.json").is_file():
        return nothing
    saved = json.loads((backup / "history.json").read_text())
    if len(saved["epochs"]) < done:  # a history from before the backup: unusable
        return nothing
    history = {
        key: [math.nan if v is None else float(v) for v in values[:done]]
        for key, values in saved["history"].items()
    }
    return {"epochs": saved["epochs"][:done], "history": history}


def _best_path(
    checkpoint: str | Path | None,
    early_stopping: int | None,
    backup: Path | None,
    scratch: Path,
) -> Path | None:
    """Where the best model goes: the checkpoint, or for early stopping a file that
    survives as long as the run does (in the backup, else a temporary folder)."""
    if checkpoint is not None:
        return Path(checkpoint)
    if early_stopping is None:
        return None
    return backup / "best.keras" if backup is not None else scratch


def _best_value(values: list[float], mode: str) -> float | None:
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return None
    return min(finite) if mode == "min" else max(finite)


class ValidationScores(keras.callbacks.Callback):
    """At each epoch's end, predict the validation set once and log its scores.

    Adds ``val_loss``, ``val_accuracy`` and ``val_precision``, ``val_recall``,
    ``val_f1`` of class ``positive`` (1, "bottle"; macro averages for more than two
    classes) to the epoch's logs, so the progress bar, history, TensorBoard, checkpoints
    and early stopping see them. One compiled forward pass over the validation images,
    after the training steps: it does not slow them down.
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
        logs["val_loss"] = sparse_cross_entropy(probs, self.y_val)
        logs["val_accuracy"] = float(np.mean(y_pred == self.y_val))
        scores = _scores(self.y_val, y_pred, probs.shape[1], self.positive)
        for name in ("precision", "recall", "f1"):
            logs[f"val_{name}"] = scores[name]


def sparse_cross_entropy(probs: np.ndarray, y: np.ndarray) -> float:
    """Mean cross-entropy of integer labels ``y`` (N,) under class probabilities
    ``probs`` (N, K), clipped to [1e-7, 1] as Keras' ``SparseCategoricalCrossentropy``
    does (numpy; for scoring predictions, not for training)."""
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


class _Timer(keras.callbacks.Callback):
    """Seconds spent in training steps per epoch (it runs before validation)."""

    def __init__(self) -> None:
        super().__init__()
        self.train_seconds: list[float] = []
        self._start = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.train_seconds.append(time.perf_counter() - self._start)


class _StopAtNonFiniteLoss(keras.callbacks.Callback):
    """Raise FloatingPointError when an epoch's loss is NaN or infinite, before the
    callbacks after it save anything: checkpoint and backup keep the last good epoch.
    (Keras' TerminateOnNaN lets the epoch end, and its weights be saved.)"""

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            raise FloatingPointError(
                f"the training loss became {float(loss)} in epoch {epoch + 1}, so "
                "training stopped; checkpoint and backup keep the last good epoch. "
                "Try a smaller learning rate"
            )


class _EpochSeeds(keras.callbacks.Callback):
    """Key every random source by the epoch about to start: the pipeline's pass counter
    and the seed state (seed, draws) of every random layer (dropout, augmentation).
    Epoch k then draws the same batches and random masks in a fresh run and in a
    resumed one, whatever the layers drew before."""

    STRIDE = 2**20  # random draws a layer may make in one epoch

    def __init__(self, counter: tf.Variable, augment: keras.Layer | None) -> None:
        super().__init__()
        self.counter, self.augment = counter, augment
        self.states: list[Any] = []

    def on_train_begin(self, logs: dict | None = None) -> None:
        layers = [self.model] + ([self.augment] if self.augment is not None else [])
        states = {
            id(v): v
            for layer in layers
            for v in layer.variables
            if v.name == "seed_generator_state"
        }
        self.states = list(states.values())

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.counter.assign(epoch)
        for state in self.states:
            seed = keras.ops.convert_to_numpy(state)[0]
            state.assign(np.array([seed, epoch * self.STRIDE], dtype=state.dtype))


class _EpochLog(keras.callbacks.Callback):
    """Every epoch's logs, the restored epochs' first; written to ``path`` (the
    backup's history.json) at each epoch's end, before the backup itself."""

    def __init__(self, restored: dict[str, Any], path: Path | None) -> None:
        super().__init__()
        self.epochs: list[int] = list(restored["epochs"])
        self.history = {k: list(v) for k, v in restored["history"].items()}
        self.path = path

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.epochs.append(epoch + 1)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
        if self.path is not None:
            write_json(self.path, {"epochs": self.epochs, "history": self.history})


class _BestCheckpoint(keras.callbacks.ModelCheckpoint):
    """Keras' ``ModelCheckpoint(save_best_only=True)``, each save renamed into place
    atomically; with ``restore``, the best weights are loaded back when training ends
    (for early stopping, as ``EarlyStopping(restore_best_weights=True)`` would, but
    across a resume too)."""

    def __init__(self, path: Path, restore: bool, **kwargs: Any) -> None:
        self.path, self.restore = Path(path), restore
        staging = self.path.with_name(f".{self.path.name}.saving.keras")
        super().__init__(str(staging), save_best_only=True, **kwargs)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        staging = Path(self.filepath)
        try:
            super().on_epoch_end(epoch, logs)
            if staging.exists():
                atomic_write(self.path, lambda tmp: staging.replace(tmp), ".keras")
        finally:
            staging.unlink(missing_ok=True)

    def on_train_end(self, logs: dict | None = None) -> None:
        if self.restore and self.path.exists():
            self.model.load_weights(self.path)


class _EarlyStopping(keras.callbacks.EarlyStopping):
    """Keras' EarlyStopping, first replaying the ``restored`` values of the monitor (a
    resumed run's earlier epochs), so that it stops where an uninterrupted run would."""

    def __init__(self, restored: list[float], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.restored = restored

    def on_train_begin(self, logs: dict | None = None) -> None:
        super().on_train_begin(logs)
        for epoch, value in enumerate(self.restored):
            self.on_epoch_end(epoch, {self.monitor: value})


class _BackupAndRestore(keras.callbacks.BackupAndRestore):
    """Keras' BackupAndRestore, holding Ctrl-C back while it writes its files (a backup
    never pairs new weights with an old epoch count) and raising it afterwards. After
    the last epoch it holds on until the backup is deleted, and drops a Ctrl-C from
    then: training has finished."""

    def __init__(self, backup_dir: Path) -> None:
        super().__init__(str(backup_dir), double_checkpoint=True)
        self._holding, self._previous, self._caught = False, None, False

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self._hold()
        try:
            super().on_epoch_end(epoch, logs)
        except BaseException:
            self.release(deliver=False)
            raise
        if not (self.model.stop_training or epoch + 1 >= self.params["epochs"]):
            self.release()

    def on_train_end(self, logs: dict | None = None) -> None:
        self._hold()
        try:
            super().on_train_end(logs)
        finally:
            self.release(deliver=False)

    def _hold(self) -> None:
        if self._holding or threading.current_thread() is not threading.main_thread():
            return
        self._previous = signal.signal(signal.SIGINT, self._catch)
        self._holding = True

    def _catch(self, signum: int, frame: Any) -> None:
        self._caught = True

    def release(self, deliver: bool = True) -> None:
        """Stop holding Ctrl-C; raise KeyboardInterrupt if one came and ``deliver``."""
        if not self._holding:
            return
        previous = self._previous
        signal.signal(
            signal.SIGINT, signal.default_int_handler if previous is None else previous
        )
        self._holding, caught, self._caught = False, self._caught, False
        if caught and deliver:
            raise KeyboardInterrupt


# --------------------------------------------------------------------------------------
# Using a trained model
# --------------------------------------------------------------------------------------


def predict_proba(
    model: keras.Model, x: np.ndarray, batch_size: int = 256
) -> np.ndarray:
    """Class probabilities (N, n_classes) float32 for images (N, H, W, C).

    ``x`` is uint8 (0-255, normalised by :func:`~wastelab.data.pipeline.normalize`, as
    in training) or float in [0, 1]. A one-unit sigmoid model gives columns (1 - p, p).
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
    """Scores on images ``x`` (N, H, W, C) with labels ``y`` (N,): binary report, loss.

    Keys: accuracy, precision, recall, specificity, f1, balanced_accuracy (of class
    ``positive``, from :func:`wastelab.metrics.binary_report`) and loss
    (:func:`sparse_cross_entropy`). Predicted class: the most probable, or for two
    classes with ``threshold``, class 1 when its probability >= threshold.
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
    report["loss"] = sparse_cross_entropy(probs, y)
    return report
