"""Chapter 5 self-checks: the references pass, typical mistakes fail with the right hint."""

import numpy as np
import pytest
import tensorflow as tf

from wastelab.exercises import CheckFailed
from wastelab.exercises.ch05 import (
    check_cross_entropy,
    check_tape_gradient,
    cross_entropy_onehot,
)


def _stub(*args):
    raise NotImplementedError("Exercise 5.1: write my_cross_entropy")


def test_reference_cross_entropy_matches_keras_and_the_first_network():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(3), size=6).astype(np.float32)
    y = np.array([0, 2, 1, 1, 0, 2])
    ours = cross_entropy_onehot(probs, np.eye(3)[y])
    from_scores = tf.keras.losses.sparse_categorical_crossentropy(
        y, np.log(probs), from_logits=True
    )
    assert ours == pytest.approx(float(np.mean(from_scores)), rel=1e-5)
    keras_loss = tf.keras.losses.SparseCategoricalCrossentropy()(y, probs)
    assert ours == pytest.approx(float(keras_loss), rel=1e-5)
    assert cross_entropy_onehot([[0.0, 1.0]], [[1.0, 0.0]]) == pytest.approx(
        -np.log(1e-7)
    )


def test_reference_cross_entropy_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"\(2, 2\) and \(2, 3\)"):
        cross_entropy_onehot(np.full((2, 2), 0.5), np.zeros((2, 3)))


def test_reference_and_tensorflow_answers_pass(capsys):
    check_cross_entropy(cross_entropy_onehot)
    assert "✓ my_cross_entropy: all 4 checks passed" in capsys.readouterr().out

    def in_tensorflow(probs, y_onehot):
        p = tf.clip_by_value(tf.constant(probs, tf.float32), 1e-7, 1.0)
        return -tf.reduce_mean(tf.reduce_sum(y_onehot * tf.math.log(p), axis=1))

    def true_class_only(probs, y_onehot):  # log only of the true class: no 0 * log(0)
        p_true = np.sum(probs * y_onehot, axis=1)
        return -np.mean(np.log(np.maximum(p_true, 1e-12)))

    check_cross_entropy(in_tensorflow, verbose=False)
    check_cross_entropy(true_class_only, verbose=False)


def test_stub_is_not_done_yet():
    with pytest.raises(NotImplementedError):
        check_cross_entropy(_stub)


def _no_clip(p, y):
    return -np.mean(np.sum(y * np.log(p), axis=1))


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (
            lambda p, y: np.mean(np.sum(y * np.log(np.clip(p, 1e-7, 1)), axis=1)),
            "minus sign",
        ),
        (
            lambda p, y: -np.sum(y * np.log(np.clip(p, 1e-7, 1)), axis=1),
            "not one loss per",
        ),
        (
            lambda p, y: -np.sum(y * np.log(np.clip(p, 1e-7, 1))),
            "MEAN over the examples, not the sum",
        ),
        (lambda p, y: -np.mean(y * np.log(np.clip(p, 1e-7, 1))), "number of classes"),
        (_no_clip, r"0 \* log\(0\)"),
    ],
)
def test_cross_entropy_mistakes(wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_cross_entropy(wrong, verbose=False)


def test_log_of_zero_for_the_true_class_is_caught():
    def nan_safe_but_infinite(p, y):  # handles 0 * log(0), not log(0) of the true class
        logs = np.where(y > 0, np.log(np.where(y > 0, p, 1.0)), 0.0)
        return -np.mean(np.sum(logs, axis=1))

    with pytest.raises(CheckFailed, match=r"(?s)case 4.*large but finite"):
        check_cross_entropy(nan_safe_but_infinite, verbose=False)


def _tape_gradient(x_value: float) -> float:
    x = tf.constant(x_value)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = x**3 - 2 * x
    return float(tape.gradient(y, x))


def test_a_gradient_from_the_tape_passes_for_any_x(capsys):
    check_tape_gradient(_tape_gradient(2.0))
    check_tape_gradient(tf.constant(10.0), verbose=False)
    check_tape_gradient(_tape_gradient(-1.5), x=-1.5, verbose=False)
    assert "✓ dy/dx at x = 2" in capsys.readouterr().out
    with pytest.raises(CheckFailed):
        check_tape_gradient(10.0, x=3.0)  # the value for x = 2 is wrong at x = 3


@pytest.mark.parametrize(
    "value, error, hint",
    [
        (..., NotImplementedError, "fill in grad"),
        (None, CheckFailed, "tape.watch"),
        (4.0, CheckFailed, "y itself"),
        (12.0, CheckFailed, "-2x term"),
        (7.0, CheckFailed, "by hand first"),
        (np.ones(2), CheckFailed, "one number"),
    ],
)
def test_tape_gradient_mistakes(value, error, hint):
    with pytest.raises(error, match=hint):
        check_tape_gradient(value, verbose=False)


def test_unwatched_constant_really_gives_none():
    x = tf.constant(2.0)
    with tf.GradientTape() as tape:
        y = x**3 - 2 * x
    assert tape.gradient(y, x) is None  # the mistake the None hint explains
