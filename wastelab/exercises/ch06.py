"""Self-checks for chapter 6, compile and train: a step of SGD, a step of SGD with
momentum, the number of steps in an epoch, and a learning-rate experiment over seeds.
Checks print a one-line verdict in a notebook (``self_check``) and raise ``CheckFailed``
with a hint elsewhere; an unfinished answer passes ``NotImplementedError`` through.

The momentum step follows Keras' ``SGD(momentum=beta)``: the velocity ``v`` is the step
itself, ``v <- beta * v - lr * grad`` and then ``w <- w + v``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .core import Case, CheckFailed, check_value, run_checks, self_check
from .runs import forget, validation_scores

#: The modelling exercise: the course CNN, trained this many epochs in batches of 32.
RUN_EPOCHS, RUN_BATCH = 20, 32


def sgd_step(w: np.ndarray, grad: np.ndarray, lr: float) -> np.ndarray:
    """One step of (stochastic) gradient descent: ``w - lr * grad`` (``w``'s shape)."""
    return np.asarray(w, dtype=float) - lr * np.asarray(grad, dtype=float)


def momentum_step(
    w: np.ndarray, v: np.ndarray, grad: np.ndarray, lr: float, beta: float = 0.9
) -> tuple[np.ndarray, np.ndarray]:
    """One step of SGD with momentum, as Keras' ``SGD(momentum=beta)``: ``(w, v)``.

    The velocity ``v`` (same shape as ``w``, zeros at the start) remembers the past
    steps: ``v <- beta * v - lr * grad``, then ``w <- w + v``.
    """
    v_new = beta * np.asarray(v, dtype=float) - lr * np.asarray(grad, dtype=float)
    return np.asarray(w, dtype=float) + v_new, v_new


@self_check
def check_sgd_step(my_sgd_step: Callable, verbose: bool = True) -> None:
    """Check ``my_sgd_step(w, grad, lr)`` on a number, a vector and a matrix."""
    w_vec, g_vec = np.array([1.0, -2.0, 0.5]), np.array([0.5, -1.0, 0.0])
    w_mat = np.arange(6.0).reshape(2, 3)
    g_mat = np.array([[1.0, 0.0, -1.0], [2.0, -2.0, 0.5]])
    cases = [
        Case(
            (3.0, 2.0, 0.1),
            sgd_step(3.0, 2.0, 0.1),
            hint="step AGAINST the gradient: w - lr * grad (with w = 3, grad = 2, "
            "lr = 0.1 that is 2.8)",
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
    """A hint naming the slip ``answer`` shows on a step with a non-zero velocity."""
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
            "w = w - lr * v); here, as in Keras, v is the step itself: "
            "v = beta * v - lr * grad, then w = w + v",
        ),
        (
            np.allclose(got_v, right_v) and np.allclose(got_w, w + v),
            "update the velocity first, then add the NEW velocity to w "
            "(w_new = w + v_new)",
        ),
        (
            np.allclose(got_v, beta * v + lr * g),
            "mind the sign: the step goes against the gradient, "
            "v = beta * v - lr * grad",
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
    """Check ``my_momentum_step(w, v, grad, lr, beta)`` -> ``(w_new, v_new)`` on first
    steps (v = 0) and on steps that carry a velocity."""
    hint = _momentum_hint(my_momentum_step)
    w, g = np.array([1.0, -2.0, 0.5]), np.array([0.5, -1.0, 2.0])
    zeros, v = np.zeros(3), np.array([0.1, 0.0, -0.2])
    w_mat, v_mat = np.ones((2, 2)), np.array([[0.5, -0.5], [0.0, 1.0]])
    g_mat = np.array([[1.0, 2.0], [-1.0, 0.0]])
    cases = [
        Case(
            (w, zeros, g, 0.1, 0.9),
            momentum_step(w, zeros, g, 0.1, 0.9),
            hint="at the first step v = 0, so the step is plain SGD: "
            "v_new = -lr * grad and w_new = w + v_new. " + hint,
        ),
        Case((w, v, g, 0.1, 0.9), momentum_step(w, v, g, 0.1, 0.9), hint=hint),
        Case(
            (w_mat, v_mat, g_mat, 0.05, 0.5),
            momentum_step(w_mat, v_mat, g_mat, 0.05, 0.5),
            hint="use the beta you are given (here 0.5), element by element. " + hint,
        ),
    ]
    run_checks("my_momentum_step", my_momentum_step, cases, verbose=verbose)


@self_check
def check_steps_per_epoch(
    n_steps: object, n_images: int = 1000, batch_size: int = 64, verbose: bool = True
) -> None:
    """Check the reader's number of steps in one epoch of ``n_images`` images in
    batches of ``batch_size`` (Keras trains on the last, smaller batch too)."""
    if n_steps is Ellipsis or n_steps is None:
        raise NotImplementedError("fill in n_steps first")
    full, rest = divmod(n_images, batch_size)
    right = full + (rest > 0)
    value = float(np.asarray(n_steps, dtype=float))
    hint = _steps_hint(value, n_images, batch_size)
    if value != int(value):
        raise CheckFailed(
            f"steps per epoch: got {n_steps}, a step count is a whole number"
            f"\n  hint: {hint}"
        )
    check_value(
        f"steps per epoch ({n_images:,} images, batch {batch_size})",
        int(value),
        right,
        hint=hint,
        verbose=verbose,
    )


def _steps_hint(value: float, n_images: int, batch_size: int) -> str:
    """The hint for a wrong step count: which slip ``value`` looks like."""
    full, rest = divmod(n_images, batch_size)
    if rest and np.isclose(value, full):
        return (
            f"{full} full batches hold only {full * batch_size} images: the last "
            f"{rest} images make one more, smaller batch, and Keras trains on it too "
            f"(round up, math.ceil)"
        )
    if np.isclose(value, n_images / batch_size):
        return (
            "a step processes a whole batch, so the count is a whole number: round up"
        )
    if np.isclose(value, n_images * batch_size):
        return "divide the number of images by the batch size, don't multiply"
    if np.isclose(value, n_images):
        return f"that is one step per image; here each step takes {batch_size} images"
    return (
        f"one step per batch; count the batches of {batch_size} it takes to go "
        f"through {n_images:,} images once"
    )


def train_course_cnn(data: Any, learning_rate: float, seed: int) -> Any:
    """Train the course CNN as the course did, with Adam at ``learning_rate``.

    ``models.build_cnn(seed=seed)``, 20 epochs in batches of 32 with the course's loop
    (``model.fit`` on the arrays), on ``data`` (a ``Splits``), with the same ``seed``
    for the order of the images; returns ``training.train``'s ``TrainResult``.
    """
    import keras

    from wastelab import models, training

    return training.train(
        models.build_cnn(data.image_shape, seed=seed),
        data,
        epochs=RUN_EPOCHS,
        batch_size=RUN_BATCH,
        loop="course",
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        seed=seed,
        verbose=0,
    )


@self_check
def check_learning_rate_runs(
    my_train_run: Callable,
    data: Any,
    learning_rates: Sequence[float] = (0.001, 0.003),
    seeds: Sequence[int] = (0, 1, 2),
    verbose: bool = True,
) -> dict[float, list[float]]:
    """Train ``my_train_run(data, lr, seed)`` for every rate and seed; report and check.

    Prints, per learning rate, the validation F1 of each seed, their mean and spread,
    and the confusion matrix summed over the seeds, then how many runs beat always
    answering "bottle". Checks that every run is the course CNN (its parameter count),
    trained with Adam at the given rate for 20 epochs. Returns ``{lr: [F1 per seed]}``.
    """
    scores: dict[float, list[float]] = {}
    matrices: dict[float, np.ndarray] = {}
    for lr in learning_rates:
        scores[lr], matrices[lr] = [], np.zeros((2, 2), dtype=np.int64)
        for seed in seeds:
            result = my_train_run(data, lr, seed)
            _check_run(result, data, lr, seed)
            f1, matrix = validation_scores(result.model, data)
            scores[lr].append(f1)
            matrices[lr] += matrix
            forget(result)
    floor = _always_bottle_f1(data.y_val)
    above = sum(f > floor for f1s in scores.values() for f in f1s)
    if verbose:
        print(_report(scores, matrices, seeds))
        print(
            f"{above} of {len(learning_rates) * len(seeds)} runs beat always answering "
            f"'bottle' (F1 {floor:.3f})"
        )
        best = max(learning_rates, key=lambda lr: float(np.mean(scores[lr])))
        print(
            f"✓ my_train_run: the course CNN, trained as asked; best mean F1 at "
            f"rate {best:g}"
        )
    return scores


def _check_run(result: Any, data: Any, lr: float, seed: int) -> None:
    """Raise ``CheckFailed`` unless ``result`` is the course CNN trained as asked."""
    from wastelab import models

    where = f"my_train_run(data, {lr:g}, {seed})"
    model = getattr(result, "model", None)
    history = getattr(result, "history", None)
    if model is None or not isinstance(history, dict):
        raise CheckFailed(
            f"{where}: returned {type(result).__name__}, expected what training.train "
            f"returns (a result with .model and .history)"
        )
    expected = models.count_params(models.build_cnn(data.image_shape))
    if models.count_params(model) != expected:
        raise CheckFailed(
            f"{where}: the model has {models.count_params(model):,} parameters, the "
            f"course CNN has {expected:,}\n  hint: build it with models.build_cnn"
        )
    rate = float(np.asarray(model.optimizer.learning_rate))
    if type(model.optimizer).__name__ != "Adam" or not math.isclose(
        rate, lr, rel_tol=1e-5
    ):
        raise CheckFailed(
            f"{where}: trained with {type(model.optimizer).__name__} at learning rate "
            f"{rate:g}, expected Adam at {lr:g}\n  hint: pass "
            f"optimizer=keras.optimizers.Adam(learning_rate=learning_rate)"
        )
    if len(history.get("loss", [])) != RUN_EPOCHS:
        raise CheckFailed(
            f"{where}: ran {len(history.get('loss', []))} epochs, expected {RUN_EPOCHS}"
        )


def _always_bottle_f1(y: np.ndarray) -> float:
    """F1 of answering "bottle" for every image: 2s / (1 + s), s the bottles' share."""
    share = float(np.mean(np.asarray(y) == 1))
    return 2 * share / (1 + share)


def _report(
    scores: dict[float, list[float]], matrices: dict[float, np.ndarray], seeds: Any
) -> str:
    """Validation F1 per seed and rate, and each rate's confusion matrix (summed)."""
    seed_cols = "".join(f"  seed {s}" for s in seeds)
    lines = [f"learning rate{seed_cols}    mean    sd"]
    for lr, f1s in scores.items():
        cells = "".join(f"  {f:6.3f}" for f in f1s)
        lines.append(f"{lr:>13g}{cells}  {np.mean(f1s):6.3f}  {np.std(f1s):.3f}")
    lines.append("validation F1 of 'bottle'. Confusion matrices summed over the seeds")
    lines.append("(rows: true other, bottle; columns: predicted other, bottle):")
    for lr, m in matrices.items():
        lines.append(f"  {lr:g}: [[{m[0, 0]}, {m[0, 1]}], [{m[1, 0]}, {m[1, 1]}]]")
    return "\n".join(lines)
