"""Chapter 6 self-checks: the references pass, typical mistakes fail with the right hint."""

import dataclasses
from types import SimpleNamespace

import keras
import numpy as np
import pytest

from wastelab import models
from wastelab.data import load_default
from wastelab.data.pipeline import steps_per_epoch
from wastelab.exercises import CheckFailed
from wastelab.exercises.ch06 import (
    RUN_EPOCHS,
    check_learning_rate_runs,
    check_momentum_step,
    check_sgd_step,
    check_steps_per_epoch,
    momentum_step,
    sgd_step,
    train_course_cnn,
)


def _stub(*args):
    raise NotImplementedError("Exercise 6.1: write me")


def _keras_steps(optimizer, w0, grads):
    """Weights after applying each gradient in turn with a real Keras optimizer."""
    w = keras.Variable(np.array(w0, dtype="float32"))
    for g in grads:
        optimizer.apply_gradients(
            [(keras.ops.convert_to_tensor(g, dtype="float32"), w)]
        )
    return np.asarray(w)


def test_references_match_keras_sgd_and_momentum():
    rng = np.random.default_rng(0)
    w0 = rng.normal(size=4)
    grads = [rng.normal(size=4) for _ in range(5)]
    w, v = w0.copy(), np.zeros(4)
    for g in grads:
        w, v = momentum_step(w, v, g, lr=0.05, beta=0.9)
    keras_w = _keras_steps(
        keras.optimizers.SGD(learning_rate=0.05, momentum=0.9), w0, grads
    )
    np.testing.assert_allclose(w, keras_w, rtol=1e-5, atol=1e-6)
    plain = w0.copy()
    for g in grads:
        plain = sgd_step(plain, g, lr=0.05)
    keras_plain = _keras_steps(keras.optimizers.SGD(learning_rate=0.05), w0, grads)
    np.testing.assert_allclose(plain, keras_plain, rtol=1e-5, atol=1e-6)


def test_references_pass_and_stubs_are_not_done_yet(capsys):
    check_sgd_step(sgd_step)
    check_momentum_step(momentum_step)
    out = capsys.readouterr().out
    assert "✓ my_sgd_step: all 3 checks passed" in out
    assert "✓ my_momentum_step: all 3 checks passed" in out
    for check in (check_sgd_step, check_momentum_step):
        with pytest.raises(NotImplementedError):
            check(_stub)


def test_in_place_sgd_answer_passes():
    def in_place(w, grad, lr):
        w = np.array(w, dtype=float)
        w -= lr * np.asarray(grad)
        return w

    check_sgd_step(in_place, verbose=False)


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda w, g, lr: np.asarray(w) + lr * np.asarray(g), "AGAINST the gradient"),
        (lambda w, g, lr: np.asarray(w) - np.asarray(g), "AGAINST the gradient"),
        (
            lambda w, g, lr: float(np.mean(np.asarray(w) - lr * np.asarray(g))),
            "element by element",
        ),
    ],
)
def test_sgd_mistakes(wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_sgd_step(wrong, verbose=False)


def _torch_style(w, v, g, lr, beta):
    v = beta * v + g
    return w - lr * v, v


def _old_velocity(w, v, g, lr, beta):
    return w + v, beta * v - lr * g


def _swapped(w, v, g, lr, beta):
    w_new, v_new = momentum_step(w, v, g, lr, beta)
    return v_new, w_new


def _plus_sign(w, v, g, lr, beta):
    v = beta * v + lr * g
    return w + v, v


def _no_decay(w, v, g, lr, beta):
    v = v - lr * g
    return w + v, v


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (_torch_style, "PyTorch"),
        (_old_velocity, "NEW velocity"),
        (_swapped, r"in this order"),
        (_plus_sign, "mind the sign"),
        (_no_decay, "multiply it by beta"),
        (lambda w, v, g, lr, beta: w - lr * g, "return the pair"),
    ],
)
def test_momentum_mistakes(wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_momentum_step(wrong, verbose=False)


def test_steps_per_epoch_is_computed_from_the_inputs(capsys):
    check_steps_per_epoch(steps_per_epoch(1000, 64))
    check_steps_per_epoch(np.int64(16), verbose=False)
    check_steps_per_epoch(steps_per_epoch(1200, 32), n_images=1200, batch_size=32)
    check_steps_per_epoch(10, n_images=640, batch_size=64, verbose=False)
    assert "✓ steps per epoch (1,000 images, batch 64)" in capsys.readouterr().out
    with pytest.raises(CheckFailed, match="one more, smaller batch"):
        check_steps_per_epoch(37, n_images=1200, batch_size=32)
    with pytest.raises(CheckFailed):
        check_steps_per_epoch(16, n_images=640, batch_size=64)


@pytest.mark.parametrize(
    "value, error, hint",
    [
        (..., NotImplementedError, "fill in n_steps"),
        (15, CheckFailed, "one more, smaller batch"),
        (15.625, CheckFailed, "round up"),
        (64000, CheckFailed, "don't multiply"),
        (1000, CheckFailed, "one step per image"),
        (17, CheckFailed, "count the batches"),
    ],
)
def test_steps_per_epoch_mistakes(value, error, hint):
    with pytest.raises(error, match=hint):
        check_steps_per_epoch(value, verbose=False)


# ------------------------------------------------------- the modelling exercise (6.5)


@pytest.fixture(scope="module")
def few_images():
    data = load_default(verbose=0)
    return dataclasses.replace(
        data, x_train=data.x_train[:64], y_train=data.y_train[:64]
    )


def test_the_reference_run_passes_and_reports_f1_and_confusion(few_images, capsys):
    scores = check_learning_rate_runs(
        train_course_cnn, few_images, learning_rates=(0.001, 0.01), seeds=(0,)
    )
    assert set(scores) == {0.001, 0.01} and all(len(f) == 1 for f in scores.values())
    assert all(0.0 <= f <= 1.0 for f1s in scores.values() for f in f1s)
    out = capsys.readouterr().out
    assert "learning rate  seed 0" in out and "0.001: [[" in out
    assert "beat always answering 'bottle'" in out
    assert "✓ my_train_run: the course CNN, trained as asked" in out
    assert max(len(line) for line in out.splitlines()) <= 88


def test_the_stub_is_not_done_yet(few_images):
    def stub(data, learning_rate, seed):
        raise NotImplementedError("Exercise 6.5: write my_train_run")

    with pytest.raises(NotImplementedError):
        check_learning_rate_runs(stub, few_images)


def _fake_run(model, optimizer, epochs=RUN_EPOCHS):
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    return SimpleNamespace(model=model, history={"loss": [0.5] * epochs})


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda d, lr, s: models.build_cnn(seed=s), "expected what training.train"),
        (
            lambda d, lr, s: _fake_run(
                models.build_mlp(seed=s), keras.optimizers.Adam(lr)
            ),
            "build it with models.build_cnn",
        ),
        (
            lambda d, lr, s: _fake_run(
                models.build_cnn(seed=s), keras.optimizers.SGD(lr)
            ),
            "expected Adam",
        ),
        (
            lambda d, lr, s: _fake_run(
                models.build_cnn(seed=s), keras.optimizers.Adam()
            ),
            "expected Adam at 0.003",
        ),
        (
            lambda d, lr, s: _fake_run(
                models.build_cnn(seed=s), keras.optimizers.Adam(lr), epochs=5
            ),
            "expected 20",
        ),
    ],
)
def test_runs_that_are_not_the_exercise_fail_with_a_hint(few_images, wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_learning_rate_runs(
            wrong, few_images, learning_rates=(0.003,), seeds=(0,), verbose=False
        )
