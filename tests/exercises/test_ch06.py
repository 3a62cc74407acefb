"""Chapter 6 self-checks: the references pass, typical mistakes fail with the right hint."""

import keras
import numpy as np
import pytest

from wastelab.data.pipeline import steps_per_epoch
from wastelab.exercises import CheckFailed
from wastelab.exercises.ch06 import (
    check_momentum_step,
    check_sgd_step,
    check_steps_per_epoch,
    momentum_step,
    sgd_step,
    steps_per_epoch_answer,
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


def test_steps_per_epoch_answer_matches_the_pipeline(capsys):
    assert steps_per_epoch_answer() == steps_per_epoch(1000, 64) == 16
    check_steps_per_epoch(16)
    check_steps_per_epoch(np.int64(16), verbose=False)
    assert "✓" in capsys.readouterr().out


@pytest.mark.parametrize(
    "value, error, hint",
    [
        (..., NotImplementedError, "fill in n_steps"),
        (15, CheckFailed, "16th, smaller"),
        (15.625, CheckFailed, "round up"),
        (64000, CheckFailed, "don't multiply"),
        (1000, CheckFailed, "one step per image"),
        (17, CheckFailed, "count the batches"),
    ],
)
def test_steps_per_epoch_mistakes(value, error, hint):
    with pytest.raises(error, match=hint):
        check_steps_per_epoch(value, verbose=False)
