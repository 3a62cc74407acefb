"""train / evaluate / predict / save / load, with tiny real Keras models on a learnable toy task."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from wastelab import devices
from wastelab.data.pipeline import normalize
from wastelab.data.splits import stratified_split
from wastelab.devices import describe_devices
from wastelab.io import load_model, save_model
from wastelab.training import (
    TrainResult,
    backup_epoch,
    evaluate,
    predict_proba,
    sparse_cross_entropy,
    train,
)

SIDE = 16
HISTORY_KEYS = {
    "loss",
    "accuracy",
    "val_loss",
    "val_accuracy",
    "val_precision",
    "val_recall",
    "val_f1",
}


@pytest.fixture(scope="module")
def splits():
    """160 noisy 16x16 images; class 1 ("bottle", a third of them) has a bright square."""
    rng = np.random.default_rng(0)
    n = 160
    y = (rng.random(n) < 0.33).astype(np.int64)
    x = rng.integers(0, 110, (n, SIDE, SIDE, 1)).astype(np.uint8)
    x[y == 1, 4:12, 4:12, 0] += 120
    return stratified_split(x, y, fractions=(0.6, 0.2, 0.2), seed=0)


@pytest.fixture(scope="module")
def noisy_splits():
    """The toy task with a fifth of the labels flipped: validation loss goes up and down."""
    rng = np.random.default_rng(0)
    n = 160
    y = (rng.random(n) < 0.33).astype(np.int64)
    x = rng.integers(0, 110, (n, SIDE, SIDE, 1)).astype(np.uint8)
    x[y == 1, 4:12, 4:12, 0] += 120
    y = np.where(rng.random(n) < 0.2, 1 - y, y)
    return stratified_split(x, y, fractions=(0.6, 0.2, 0.2), seed=0)


def tiny_model() -> keras.Model:
    """A small seeded CNN: conv, pooling, softmax (a fresh model on every call)."""
    init = keras.initializers.GlorotUniform(seed=1)
    return keras.Sequential(
        [
            keras.Input((SIDE, SIDE, 1)),
            keras.layers.Conv2D(4, 3, activation="relu", kernel_initializer=init),
            keras.layers.MaxPooling2D(2),
            keras.layers.Flatten(),
            keras.layers.Dense(
                2,
                activation="softmax",
                kernel_initializer=keras.initializers.GlorotUniform(seed=2),
            ),
        ]
    )


def dropout_model() -> keras.Model:
    """A small seeded network with dropout: random masks in every training step."""
    init = keras.initializers.GlorotUniform(seed=1)
    return keras.Sequential(
        [
            keras.Input((SIDE, SIDE, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(16, activation="relu", kernel_initializer=init),
            keras.layers.Dropout(0.3, seed=4),
            keras.layers.Dense(
                2,
                activation="softmax",
                kernel_initializer=keras.initializers.GlorotUniform(seed=2),
            ),
        ]
    )


def same_weights(a: keras.Model, b: keras.Model) -> bool:
    return all(
        np.array_equal(u, v)
        for u, v in zip(a.get_weights(), b.get_weights(), strict=True)
    )


@pytest.fixture(scope="module")
def trained(splits, tmp_path_factory):
    logs = tmp_path_factory.mktemp("tb")
    result = train(
        tiny_model,
        splits,
        epochs=6,
        batch_size=16,
        learning_rate=0.01,
        log_dir=logs,
        verbose=0,
    )
    return result, logs


def test_train_learns_the_toy_task(trained, splits):
    result, _ = trained
    assert isinstance(result, TrainResult)
    loss = result.history["loss"]
    assert loss[-1] < 0.5 * loss[0]
    assert result.history["val_accuracy"][-1] >= 0.85
    assert evaluate(result.model, splits.x_test, splits.y_test)["accuracy"] >= 0.85


def test_result_fields_and_history(trained):
    result, _ = trained
    assert set(result.history) == HISTORY_KEYS
    assert all(len(v) == 6 for v in result.history.values())
    assert result.epochs_run == 6 and result.epochs == list(range(1, 7))
    assert result.device.startswith("CPU") or result.device.startswith("GPU")
    assert result.images_per_second > 0 and result.wall_time > 0
    best = int(np.argmin(result.history["val_loss"])) + 1
    assert result.best_epoch == best
    f1 = result.history["val_f1"]
    assert all(0.0 <= v <= 1.0 for v in f1) and f1[-1] > 0.8


def test_validation_f1_matches_a_fresh_evaluation(trained, splits):
    """The epoch-end callback scores the model as evaluate does (last epoch: same weights)."""
    result, _ = trained
    report = evaluate(result.model, splits.x_val, splits.y_val)
    assert result.history["val_f1"][-1] == pytest.approx(report["f1"])
    assert result.history["val_precision"][-1] == pytest.approx(report["precision"])
    assert result.history["val_recall"][-1] == pytest.approx(report["recall"])
    assert result.history["val_loss"][-1] == pytest.approx(report["loss"], rel=1e-4)


def test_tensorboard_logs_written(trained):
    _, logs = trained
    events = list(Path(logs).rglob("events.out.tfevents.*"))
    assert {p.parent.name for p in events} >= {"train", "validation"}


def test_course_loop_runs_and_prints_one_line(splits, capsys):
    result = train(
        tiny_model,
        splits,
        epochs=2,
        loop="course",
        verbose=1,
        xla=True,
        mixed_precision=True,
    )
    out = capsys.readouterr().out
    first = out.splitlines()[0]
    assert (
        first.startswith("Training on ")
        and "course loop" in first
        and "batch 32" in first
    )
    if not tf.config.list_physical_devices("GPU"):
        assert "mixed precision and XLA ignored on CPU" in first
    assert set(result.history) == HISTORY_KEYS and result.epochs_run == 2


def test_silent_with_verbose_0(splits, capsys):
    train(tiny_model, splits, epochs=1, verbose=0)
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    "options",
    [
        {"class_weight": "balanced"},
        {"oversample": True},
        {"class_weight": {0: 1.0, 1: 3.0}, "loop": "course"},
        {"oversample": True, "loop": "course"},
    ],
)
def test_imbalance_options_run(splits, options):
    result = train(tiny_model, splits, epochs=2, batch_size=16, verbose=0, **options)
    assert result.epochs_run == 2 and np.isfinite(result.history["loss"]).all()


def test_class_weights_change_training(splits):
    plain = train(tiny_model, splits, epochs=2, batch_size=16, verbose=0)
    weighted = train(
        tiny_model, splits, epochs=2, batch_size=16, verbose=0, class_weight="balanced"
    )
    assert not same_weights(plain.model, weighted.model)


def test_augmentation_runs_and_is_deterministic(splits):
    def run():
        flip = keras.layers.RandomFlip("horizontal", seed=3)
        return train(
            tiny_model, splits, epochs=2, batch_size=16, augment=flip, verbose=0
        )

    a, b = run(), run()
    assert same_weights(a.model, b.model)
    plain = train(tiny_model, splits, epochs=2, batch_size=16, verbose=0)
    assert not same_weights(a.model, plain.model)


def test_same_seed_same_weights_other_seed_differs(splits):
    a = train(tiny_model, splits, epochs=3, batch_size=16, seed=5, verbose=0)
    b = train(tiny_model, splits, epochs=3, batch_size=16, seed=5, verbose=0)
    c = train(tiny_model, splits, epochs=3, batch_size=16, seed=6, verbose=0)
    assert same_weights(a.model, b.model)
    assert a.history == {k: v for k, v in b.history.items()}
    assert not same_weights(a.model, c.model)


def test_checkpoint_and_early_stopping(splits, tmp_path):
    path = tmp_path / "best.keras"
    result = train(
        tiny_model,
        splits,
        epochs=6,
        batch_size=16,
        learning_rate=0.02,
        checkpoint=path,
        early_stopping=2,
        monitor="val_f1",
        verbose=0,
    )
    assert path.is_file()
    assert result.best_epoch == result.epochs[int(np.argmax(result.history["val_f1"]))]
    best = load_model(path)
    # early stopping restored the best weights: the same as the best checkpoint
    assert np.allclose(
        predict_proba(best, splits.x_val), predict_proba(result.model, splits.x_val)
    )
    assert [p.name for p in tmp_path.iterdir()] == [
        "best.keras"
    ]  # no temporary files left


def test_early_stopping_stops(splits):
    # a learning rate too small to move a float32 weight never improves val_loss: stop
    # after `patience` idle epochs
    result = train(
        tiny_model,
        splits,
        epochs=10,
        optimizer="sgd",
        learning_rate=1e-12,
        early_stopping=1,
        verbose=0,
    )
    assert result.epochs_run == 2 and result.best_epoch == 1


class Interrupted(Exception):
    """Stands in for a crash or Ctrl-C."""


class InterruptAt(keras.callbacks.Callback):
    """Raise at the end of ``epoch`` (0-based), or in its middle (after ``step``)."""

    def __init__(self, epoch: int, step: int | None = None) -> None:
        super().__init__()
        self.epoch, self.step, self.current = epoch, step, -1

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.step is not None and self.current == self.epoch and batch >= self.step:
            raise Interrupted(f"stopped in epoch {self.epoch + 1}, after step {batch}")

    def on_epoch_end(self, epoch, logs=None):
        if self.step is None and epoch == self.epoch:
            raise Interrupted(f"stopped at the end of epoch {epoch + 1}")


def interrupted_then_resumed(build, splits, folder, interrupt, **kwargs):
    """Train until ``interrupt`` raises, then again with the same arguments."""
    kwargs = dict(kwargs, backup_dir=folder / "backup", verbose=0)
    with pytest.raises(Interrupted):
        train(build, splits, callbacks=[interrupt], **kwargs)
    return train(build, splits, **kwargs)


@pytest.mark.parametrize(
    "build,options,interrupt",
    [
        (tiny_model, {}, InterruptAt(1)),
        (tiny_model, {"oversample": True}, InterruptAt(1)),
        (dropout_model, {}, InterruptAt(2, step=3)),  # mid-epoch, random masks
        (dropout_model, {"loop": "course", "oversample": True}, InterruptAt(2, step=5)),
        (
            tiny_model,
            {"augment": keras.layers.RandomFlip("horizontal", seed=3)},
            InterruptAt(1, step=2),
        ),
    ],
    ids=[
        "between-epochs",
        "oversampled",
        "mid-epoch-dropout",
        "course-loop",
        "augment",
    ],
)
def test_resume_after_interruption_matches_an_uninterrupted_run(
    splits, tmp_path, build, options, interrupt
):
    kwargs = dict(epochs=4, batch_size=16, **options)
    full = train(build, splits, backup_dir=tmp_path / "full", verbose=0, **kwargs)
    assert not (tmp_path / "full").exists()  # deleted once training completed

    resumed = interrupted_then_resumed(build, splits, tmp_path, interrupt, **kwargs)
    assert resumed.epochs == [1, 2, 3, 4] and resumed.history == full.history
    assert resumed.epochs_run == 4 - interrupt.epoch - (interrupt.step is None)
    assert same_weights(resumed.model, full.model)
    assert not (tmp_path / "backup").exists()


def test_backup_holds_the_history_as_valid_json(splits, tmp_path):
    backup = tmp_path / "backup"
    with pytest.raises(Interrupted):
        train(
            tiny_model,
            splits,
            epochs=4,
            backup_dir=backup,
            callbacks=[InterruptAt(1)],
            verbose=0,
        )
    assert backup_epoch(backup) == 2
    saved = json.loads((backup / "history.json").read_text())
    assert saved["epochs"] == [1, 2] and len(saved["history"]["val_loss"]) == 2


@pytest.mark.parametrize(
    "options",
    [
        {"checkpoint": "best.keras"},
        {"checkpoint": "best.keras", "early_stopping": 1},
        {"early_stopping": 1},
    ],
    ids=["checkpoint", "checkpoint-and-early-stopping", "early-stopping"],
)
def test_resume_keeps_the_best_so_far(noisy_splits, tmp_path, options):
    """The best checkpoint is replaced only by a better model after a resume, and early
    stopping stops where the uninterrupted run stopped, with the same best weights."""
    kwargs = dict(epochs=7, batch_size=16, learning_rate=0.05, seed=1)
    (tmp_path / "full").mkdir()
    (tmp_path / "cut").mkdir()

    def where(folder, opts):
        return {k: folder / v if k == "checkpoint" else v for k, v in opts.items()}

    full = train(
        tiny_model,
        noisy_splits,
        backup_dir=tmp_path / "full" / "backup",
        verbose=0,
        **where(tmp_path / "full", options),
        **kwargs,
    )
    losses = full.history["val_loss"]
    # interrupt after the first epoch that a worse one follows
    cut = next(c for c in range(1, len(losses)) if losses[c] > min(losses[:c]))
    resumed = interrupted_then_resumed(
        tiny_model,
        noisy_splits,
        tmp_path / "cut",
        InterruptAt(cut - 1),
        **where(tmp_path / "cut", options),
        **kwargs,
    )
    assert resumed.history == full.history and resumed.best_epoch == full.best_epoch
    assert same_weights(resumed.model, full.model)
    if "checkpoint" in options:
        best = [load_model(tmp_path / run / "best.keras") for run in ("full", "cut")]
        assert same_weights(*best)
        assert min(losses) == pytest.approx(
            evaluate(best[1], noisy_splits.x_val, noisy_splits.y_val)["loss"], rel=1e-5
        )


@pytest.mark.parametrize("rate", [math.nan, math.inf, 0.0, -0.001, "fast"])
def test_learning_rate_must_be_finite_and_positive(splits, tmp_path, rate):
    with pytest.raises(ValueError, match="learning_rate must be a finite number"):
        train(
            tiny_model,
            splits,
            learning_rate=rate,
            checkpoint=tmp_path / "run" / "best.keras",
            backup_dir=tmp_path / "run" / "backup",
            log_dir=tmp_path / "run" / "logs",
            verbose=0,
        )
    assert not (tmp_path / "run").exists()  # refused before anything was written


class BreakWeights(keras.callbacks.Callback):
    """From the start of ``epoch`` (0-based) on, the output layer's weights are NaN."""

    def __init__(self, epoch: int) -> None:
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            kernel = self.model.layers[-1].kernel
            kernel.assign(np.full(kernel.shape, np.nan, np.float32))


def test_training_stops_at_a_non_finite_loss_and_keeps_the_last_good_files(
    splits, tmp_path
):
    best, backup = tmp_path / "best.keras", tmp_path / "backup"
    with pytest.raises(FloatingPointError, match="loss became nan in epoch 3"):
        train(
            tiny_model,
            splits,
            epochs=5,
            checkpoint=best,
            backup_dir=backup,
            callbacks=[BreakWeights(2)],
            verbose=0,
        )
    assert backup_epoch(backup) == 2  # the broken epoch was not backed up
    saved = json.loads((backup / "history.json").read_text())
    assert saved["epochs"] == [1, 2] and all(
        map(math.isfinite, saved["history"]["loss"])
    )
    model = load_model(best)
    assert all(np.isfinite(w).all() for w in model.get_weights())


def test_backup_dir_must_be_trains_own(splits, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="notes.txt"):
        train(tiny_model, splits, epochs=1, backup_dir=tmp_path, verbose=0)
    assert (tmp_path / "notes.txt").exists()


def test_model_instance_is_trained_in_place(splits):
    keras.utils.set_random_seed(0)
    model = tiny_model()
    result = train(model, splits, epochs=1, verbose=0)
    assert result.model is model


def test_evaluate_matches_a_hand_count(trained, splits):
    model = trained[0].model
    x, y = splits.x_test, splits.y_test
    probs = predict_proba(model, x)
    assert probs.shape == (len(y), 2) and probs.dtype == np.float32
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    assert np.array_equal(
        probs, predict_proba(model, normalize(x))
    )  # uint8 and float agree

    for threshold in (None, 0.2, 0.9):
        pred = probs.argmax(axis=1) if threshold is None else (probs[:, 1] >= threshold)
        tp = np.sum((pred == 1) & (y == 1))
        fp = np.sum((pred == 1) & (y == 0))
        fn = np.sum((pred == 0) & (y == 1))
        tn = np.sum((pred == 0) & (y == 0))
        report = evaluate(model, x, y, threshold=threshold)
        assert report["accuracy"] == pytest.approx((tp + tn) / len(y))
        assert report["precision"] == pytest.approx(tp / (tp + fp) if tp + fp else 0.0)
        assert report["recall"] == pytest.approx(tp / (tp + fn))
        assert report["specificity"] == pytest.approx(tn / (tn + fp))
    loss = -np.mean(np.log(probs[np.arange(len(y)), y]))
    report = evaluate(model, x, y)
    assert report["loss"] == pytest.approx(loss, rel=1e-5)
    # Keras' own loss on the same data agrees
    assert report["loss"] == pytest.approx(
        model.evaluate(normalize(x), y, verbose=0)[0], rel=1e-4
    )
    assert evaluate(model, x, y, threshold=0.0)["recall"] == 1.0


def test_save_and_load_round_trip(trained, splits, tmp_path):
    model = trained[0].model
    path = save_model(model, tmp_path / "models" / "cnn.keras")
    assert path.is_file() and sorted(p.name for p in path.parent.iterdir()) == [
        "cnn.keras"
    ]
    loaded = load_model(path)
    assert same_weights(model, loaded)
    assert np.array_equal(
        predict_proba(model, splits.x_test), predict_proba(loaded, splits.x_test)
    )
    save_model(model, path)  # overwrite in place
    assert sorted(p.name for p in path.parent.iterdir()) == ["cnn.keras"]


def test_load_errors_name_the_path(tmp_path):
    missing = tmp_path / "nope.keras"
    with pytest.raises(FileNotFoundError, match="nope.keras"):
        load_model(missing)
    bad = tmp_path / "bad.keras"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="bad.keras"):
        load_model(bad)
    with pytest.raises(ValueError, match=r"\.keras"):
        save_model(tiny_model(), tmp_path / "model.h5")


def test_bad_inputs_raise_clear_errors(splits, tmp_path):
    three_way = keras.Sequential(
        [
            keras.Input((SIDE, SIDE, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    with pytest.raises(ValueError, match="outputs 3"):
        train(three_way, splits, epochs=1, verbose=0)
    wrong_input = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    with pytest.raises(ValueError, match=r"\(8, 8, 1\)"):
        train(wrong_input, splits, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="loop"):
        train(tiny_model, splits, loop="turbo", verbose=0)
    with pytest.raises(ValueError, match="devices"):
        train(tiny_model, splits, devices="tpu", verbose=0)
    with pytest.raises(ValueError, match="not both"):
        train(tiny_model, splits, class_weight="balanced", oversample=True, verbose=0)
    with pytest.raises(ValueError, match="class_weight"):
        train(tiny_model, splits, class_weight={5: 1.0}, verbose=0)
    with pytest.raises(ValueError, match="checkpoint"):
        train(tiny_model, splits, checkpoint=tmp_path / "best.h5", verbose=0)
    with pytest.raises(ValueError, match="val_f2"):
        train(tiny_model, splits, early_stopping=2, monitor="val_f2", verbose=0)
    with pytest.raises(ValueError, match="epochs"):
        train(tiny_model, splits, epochs=0, verbose=0)
    with pytest.raises(ValueError, match="Splits"):
        train(tiny_model, (splits.x_train, splits.y_train), verbose=0)
    if not tf.config.list_physical_devices("GPU"):
        with pytest.raises(ValueError, match="no GPU"):
            train(tiny_model, splits, devices="gpu", verbose=0)
    model = tiny_model()
    with pytest.raises(ValueError, match="out of range"):
        evaluate(model, splits.x_test, splits.y_test + 2)
    with pytest.raises(ValueError, match=r"\(16, 16, 1\)"):
        predict_proba(model, np.zeros((2, 8, 8, 1), np.uint8))
    with pytest.raises(ValueError, match="shape"):
        evaluate(model, splits.x_test, splits.y_test[:3])


def test_describe_devices_names_the_cpu():
    assert "CPU" in describe_devices()
    assert devices.cpu_threads() >= 1


def test_device_choice_with_several_gpus(splits, monkeypatch):
    """The choice logic, with TensorFlow's GPU list faked (no strategy is started)."""
    monkeypatch.setattr(devices, "gpu_names", lambda: ["Fake GPU A", "Fake GPU B"])
    one = devices.place("auto", has_builder=False)
    assert one.kind == "gpu" and "pass a model builder" in one.notes[0]
    assert one.device == "/GPU:0" and one.replicas == 1
    assert "Fake GPU A" in describe_devices() and "2 GPUs" in describe_devices()
    with pytest.raises(ValueError, match="builder"):
        train(tiny_model(), splits, devices="multi-gpu", verbose=0)
    with pytest.raises(ValueError, match="builder"):
        train(tiny_model(), splits, devices="gpu", mixed_precision=True, verbose=0)
    monkeypatch.setattr(devices, "gpu_names", lambda: ["Fake GPU A"])
    with pytest.raises(ValueError, match="2 or more GPUs"):
        train(tiny_model, splits, devices="multi-gpu", verbose=0)


def test_cpu_placement_and_dtype_policy_are_scoped():
    cpu = devices.place("cpu")
    assert cpu.kind == "cpu" and cpu.label.startswith("CPU (") and cpu.replicas == 1
    with cpu.scope():
        assert tf.constant(1.0).device.endswith("CPU:0")
    before = keras.config.dtype_policy().name
    with devices.dtype_policy("mixed_float16"):
        assert keras.config.dtype_policy().name == "mixed_float16"
    assert keras.config.dtype_policy().name == before


def test_sparse_cross_entropy_is_the_mean_negative_log_probability():
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [1.0, 0.0]])
    y = np.array([0, 1, 1])
    expected = -(np.log(0.9) + np.log(0.8) + np.log(1e-7)) / 3  # clipped, as Keras does
    assert sparse_cross_entropy(probs, y) == pytest.approx(expected)


MIRRORED = """
import sys
import numpy as np
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
sys.path.insert(0, "tests")
from test_training import InterruptAt, Interrupted, dropout_model, SIDE
from wastelab import training
from wastelab.data.splits import stratified_split
from wastelab.devices import Placement

strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
training.place = lambda devices, has_builder: Placement(
    "multi-gpu", strategy, None, 2, "2 CPU replicas (MirroredStrategy)"
)
rng = np.random.default_rng(0)
y = (rng.random(160) < 0.33).astype(np.int64)
x = rng.integers(0, 110, (160, SIDE, SIDE, 1)).astype(np.uint8)
x[y == 1, 4:12, 4:12, 0] += 120
data = stratified_split(x, y, fractions=(0.6, 0.2, 0.2), seed=0)
folder = sys.argv[1]
kwargs = dict(epochs=3, batch_size=16, verbose=0, early_stopping=2)
full = training.train(dropout_model, data, backup_dir=folder + "/full", **kwargs)
try:
    training.train(dropout_model, data, backup_dir=folder + "/cut",
                   callbacks=[InterruptAt(1, step=2)], **kwargs)
except Interrupted:
    pass
resumed = training.train(dropout_model, data, backup_dir=folder + "/cut", **kwargs)
same = all(np.array_equal(a, b) for a, b in
           zip(full.model.get_weights(), resumed.model.get_weights(), strict=True))
print(full.device, "|", resumed.history == full.history, same)
"""


@pytest.mark.slow
def test_mirrored_strategy_trains_and_resumes_exactly(tmp_path):
    """Two CPU replicas stand in for two GPUs: the strategy path of train, with dropout
    masks and a mid-epoch interruption (GPU machines run the same code)."""
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "-c", MIRRORED, str(tmp_path)],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == (
        "2 CPU replicas (MirroredStrategy) | True True"
    )
