"""Self-checks for chapter 6, compile and train: a step of SGD, a step of SGD with momentum,
and the number of steps in an epoch. Checks print a one-line verdict or raise
``CheckFailed`` with a hint, as in :mod:`wastelab.exercises.ch03`; an unfinished answer
passes ``NotImplementedError`` through.

The momentum step follows Keras' ``SGD(momentum=beta)``: the velocity ``v`` is the step
itself, ``v <- beta * v - lr * grad`` and then ``w <- w + v``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from .core import Case, CheckFailed, check_value, run_checks, self_check

#: The steps-per-epoch exercise: this many training images, this batch size.
EXERCISE_N, EXERCISE_BATCH = 1000, 64


def sgd_step(w: np.ndarray, grad: np.ndarray, lr: float) -> np.ndarray:
    """One step of (stochastic) gradient descent: ``w - lr * grad`` (any shape, as ``w``)."""
    return np.asarray(w, dtype=float) - lr * np.asarray(grad, dtype=float)


def momentum_step(
    w: np.ndarray, v: np.ndarray, grad: np.ndarray, lr: float, beta: float = 0.9
) -> tuple[np.ndarray, np.ndarray]:
    """One step of SGD with momentum, as Keras' ``SGD(momentum=beta)``; returns ``(w, v)``.

    The velocity ``v`` (same shape as ``w``, zeros at the start) remembers the past steps:
    ``v <- beta * v - lr * grad``, then ``w <- w + v``.
    """
    v_new = beta * np.asarray(v, dtype=float) - lr * np.asarray(grad, dtype=float)
    return np.asarray(w, dtype=float) + v_new, v_new


@self_check
def check_sgd_step(my_sgd_step: Callable, verbose: bool = True) -> None:
    """Check ``my_sgd_step(w, grad, lr)`` on a number, a vector and a matrix of weights."""
    w_vec, g_vec = np.array([1.0, -2.0, 0.5]), np.array([0.5, -1.0, 0.0])
    w_mat = np.arange(6.0).reshape(2, 3)
    g_mat = np.array([[1.0, 0.0, -1.0], [2.0, -2.0, 0.5]])
    cases = [
        Case(
            (3.0, 2.0, 0.1),
            sgd_step(3.0, 2.0, 0.1),
            hint="step AGAINST the gradient: w - lr * grad (with w = 3, grad = 2, lr = 0.1 "
            "that is 2.8)",
        ),
        Case(
            (w_vec, g_vec, 0.5),
            sgd_step(w_vec, g_vec, 0.5),
            hint="work element by element on numpy arrays: w - lr * grad",
        ),
        Case(
            (w_mat, g_mat, 0.01),
            sgd_step(w_mat, g_mat, 0.01),
            hint="return an array of w's shape: every weight takes its own step",
        ),
    ]
    run_checks("my_sgd_step", my_sgd_step, cases, verbose=verbose)


def _momentum_hint(answer: Callable) -> str:
    """A hint naming the slip that ``answer`` shows on a step with a non-zero velocity."""
    w, v, g, lr, beta = (
        np.array([1.0, 2.0]),
        np.array([0.5, -0.5]),
        np.array([1.0, -3.0]),
        0.1,
        0.9,
    )
    right_w, right_v = momentum_step(w, v, g, lr, beta)
    generic = (
        "v_new = beta * v - lr * grad, then w_new = w + v_new; return the pair "
        "(w_new, v_new)"
    )
    try:
        got = answer(w.copy(), v.copy(), g.copy(), lr, beta)
        got_w, got_v = (np.asarray(part, dtype=float) for part in got)
    except Exception:  # not a pair, or a crash: the checks report it
        return generic
    torch_v = beta * v + g
    slips = [
        (
            np.allclose(got_w, right_v) and np.allclose(got_v, right_w),
            "return (w_new, v_new) in this order",
        ),
        (
            np.allclose(got_v, torch_v),
            "that is the velocity of PyTorch's convention (v = beta * v + grad, then "
            "w = w - lr * v); here, as in Keras, v is the step itself: v = beta * v - lr * grad, "
            "then w = w + v",
        ),
        (
            np.allclose(got_v, right_v) and np.allclose(got_w, w + v),
            "update the velocity first, then add the NEW velocity to w (w_new = w + v_new)",
        ),
        (
            np.allclose(got_v, beta * v + lr * g),
            "mind the sign: the step goes against the gradient, v = beta * v - lr * grad",
        ),
        (
            np.allclose(got_v, v - lr * g),
            "the old velocity decays: multiply it by beta before adding the new step",
        ),
    ]
    for matched, hint in slips:
        if matched:
            return hint
    return generic


@self_check
def check_momentum_step(my_momentum_step: Callable, verbose: bool = True) -> None:
    """Check ``my_momentum_step(w, v, grad, lr, beta)`` -> ``(w_new, v_new)`` on first steps
    (v = 0) and on steps that carry a velocity."""
    hint = _momentum_hint(my_momentum_step)
    w, g = np.array([1.0, -2.0, 0.5]), np.array([0.5, -1.0, 2.0])
    zeros, v = np.zeros(3), np.array([0.1, 0.0, -0.2])
    w_mat, v_mat = np.ones((2, 2)), np.array([[0.5, -0.5], [0.0, 1.0]])
    g_mat = np.array([[1.0, 2.0], [-1.0, 0.0]])
    cases = [
        Case(
            (w, zeros, g, 0.1, 0.9),
            momentum_step(w, zeros, g, 0.1, 0.9),
            hint="at the first step v = 0, so the step is plain SGD: v_new = -lr * grad and "
            "w_new = w + v_new. " + hint,
        ),
        Case((w, v, g, 0.1, 0.9), momentum_step(w, v, g, 0.1, 0.9), hint=hint),
        Case(
            (w_mat, v_mat, g_mat, 0.05, 0.5),
            momentum_step(w_mat, v_mat, g_mat, 0.05, 0.5),
            hint="use the beta you are given (here 0.5), element by element. " + hint,
        ),
    ]
    run_checks("my_momentum_step", my_momentum_step, cases, verbose=verbose)


def steps_per_epoch_answer() -> int:
    """Steps in one epoch of 1,000 images in batches of 64: 15 full batches and one of 40."""
    return math.ceil(EXERCISE_N / EXERCISE_BATCH)


@self_check
def check_steps_per_epoch(n_steps: object, verbose: bool = True) -> None:
    """Check the reader's number of steps in one epoch of 1,000 images with batch size 64."""
    if n_steps is Ellipsis or n_steps is None:
        raise NotImplementedError("fill in n_steps first")
    right = steps_per_epoch_answer()
    hint = (
        "one step per batch; count the batches of 64 it takes to go through 1,000 images "
        "once"
    )
    value = float(np.asarray(n_steps, dtype=float))
    if np.isclose(value, EXERCISE_N // EXERCISE_BATCH):
        hint = (
            "15 full batches hold only 960 images: the last 40 images make a 16th, smaller "
            "batch, and Keras trains on it too (round up, math.ceil)"
        )
    elif np.isclose(value, EXERCISE_N / EXERCISE_BATCH):
        hint = (
            "a step processes a whole batch, so the count is a whole number: round up"
        )
    elif np.isclose(value, EXERCISE_N * EXERCISE_BATCH):
        hint = "divide the number of images by the batch size, don't multiply"
    elif np.isclose(value, EXERCISE_N):
        hint = (
            "that is one step per image (batch size 1); here each step takes 64 images"
        )
    if value != int(value):
        raise CheckFailed(
            f"steps per epoch: got {n_steps}, a step count is a whole number"
            f"\n  hint: {hint}"
        )
    check_value(
        "steps per epoch (1,000 images, batch 64)",
        int(value),
        right,
        hint=hint,
        verbose=verbose,
    )
