"""Self-checks for chapter 5, a first network in TensorFlow: the course's cross-entropy
by hand and a gradient from ``tf.GradientTape``. Checks print a one-line verdict in a
notebook (``self_check``) and raise ``CheckFailed`` with a hint elsewhere; an unfinished
answer passes ``NotImplementedError`` through. Expected values are computed from the
inputs when a check runs.

Answers may be written with numpy or with TensorFlow: results are converted with
``np.asarray`` before they are compared.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .ch03 import _strict
from .core import Case, CheckFailed, check_value, run_checks, self_check

#: Probabilities are clipped to [EPSILON, 1] before the log, as Keras does.
EPSILON = 1e-7


def cross_entropy_onehot(probs: np.ndarray, y_onehot: np.ndarray) -> float:
    """Mean cross-entropy of one-hot targets ``y_onehot`` (N, K) under ``probs`` (N, K).

    ``-mean over examples of sum over classes of y * log(p)``, with ``p`` clipped to
    [1e-7, 1] so that a probability of exactly 0 gives a large, finite loss (and
    ``0 * log(0)`` does not turn into ``nan``).
    """
    p = np.clip(np.asarray(probs, dtype=np.float64), EPSILON, 1.0)
    y = np.asarray(y_onehot, dtype=np.float64)
    if p.ndim != 2 or y.shape != p.shape:
        raise ValueError(
            f"probs and y_onehot must both be (N, K), got {p.shape} and {y.shape}"
        )
    per_example = -np.sum(
        y * np.log(p), axis=1
    )  # (N,): -log of the true class's probability
    return float(np.mean(per_example))


def _as_number(answer: Callable) -> Callable:
    """``answer`` with its result (a float, numpy value or tensor) as a float array."""

    def run(*args):
        return np.asarray(answer(*args), dtype=float)

    return run


_CE_HINT = (
    "per example, -sum over classes of y * log(p); then the mean over the examples. "
    "Return ONE number"
)


def _cross_entropy_hint(
    answer: Callable, probs: np.ndarray, y_onehot: np.ndarray
) -> str:
    """A hint naming the slip that ``answer``'s result on (probs, y_onehot) shows."""
    n, k = probs.shape
    right = cross_entropy_onehot(probs, y_onehot)
    try:
        with np.errstate(all="ignore"):
            got = np.asarray(answer(probs, y_onehot), dtype=float)
    except Exception:  # the checks report the crash itself
        return _CE_HINT
    if got.shape == (n,):
        return (
            "return ONE number, the mean over the examples, not one loss per example "
            "(np.mean of the per-example sums)"
        )
    if got.size != 1:
        return _CE_HINT
    value = float(got.ravel()[0])
    slips = [
        (
            -right,
            "mind the minus sign: log(p) <= 0, so the loss -sum(y * log(p)) is "
            "positive",
        ),
        (
            right * n,
            "take the MEAN over the examples, not the sum: the loss must not grow "
            "with the batch size",
        ),
        (
            right / k,
            "sum over the classes (axis=1) first, then take the mean over the "
            "examples: np.mean(y * log(p)) over the whole array also divides by the "
            "number of classes",
        ),
        (-right / k, "mind the minus sign, and sum over the classes before the mean"),
    ]
    for wrong, hint in slips:
        if np.isclose(value, wrong, rtol=1e-4):
            return hint
    return _CE_HINT


@self_check
def check_cross_entropy(my_cross_entropy: Callable, verbose: bool = True) -> None:
    """Check ``my_cross_entropy(probs, y_onehot)`` (both (N, K)) -> the mean loss.

    Cases: two easy examples, a batch of four with three classes (mean over examples,
    sum over classes), a certain and right prediction with a zero probability beside it
    (``0 * log(0)``), and a zero probability for the true class (``log(0)``).
    """
    two_p = np.array([[0.9, 0.1], [0.2, 0.8]])
    two_y = np.array([[1.0, 0.0], [0.0, 1.0]])
    four_p = np.array(
        [[0.7, 0.2, 0.1], [0.1, 0.6, 0.3], [0.25, 0.25, 0.5], [0.05, 0.9, 0.05]]
    )
    four_y = np.eye(3)[[0, 1, 2, 0]]
    sure_p = np.array([[1.0, 0.0], [0.0, 1.0]])
    sure_y = np.array([[1.0, 0.0], [0.0, 1.0]])
    hint = _cross_entropy_hint(my_cross_entropy, four_p, four_y)
    cases = [
        Case((two_p, two_y), cross_entropy_onehot(two_p, two_y), hint=hint),
        Case((four_p, four_y), cross_entropy_onehot(four_p, four_y), hint=hint),
        Case(
            (sure_p, sure_y),
            cross_entropy_onehot(sure_p, sure_y),
            hint="a sure and right prediction costs 0. Here p = 0 for the wrong "
            "class, and 0 * log(0) = 0 * -inf is nan in floating point: clip p to "
            "[1e-7, 1] before the log, e.g. np.clip(p, 1e-7, 1.0)",
        ),
    ]
    run_checks(
        "my_cross_entropy", _as_number(_strict(my_cross_entropy)), cases, verbose=False
    )
    wrong_p = np.array([[0.0, 1.0]])
    wrong_y = np.array([[1.0, 0.0]])
    hint = (
        "a probability of 0 for the true class must give a large but finite loss: "
        "log(0) is -inf. Clip p to [1e-7, 1] before the log (-log(1e-7) is about 16)"
    )
    try:
        with np.errstate(divide="ignore", invalid="ignore"):
            got = np.asarray(my_cross_entropy(wrong_p, wrong_y), dtype=float)
    except NotImplementedError:
        raise
    except Exception as err:
        raise CheckFailed(
            f"my_cross_entropy: case 4 (p = [[0, 1]] for the true class 0) "
            f"raised {type(err).__name__}: {err}\n  hint: {hint}"
        ) from err
    if got.shape != () or not np.isfinite(got) or got < 9.0:
        raise CheckFailed(
            f"my_cross_entropy: case 4 (p = [[0, 1]] for the true class 0) gave "
            f"{got}, expected a large finite number such as "
            f"{cross_entropy_onehot(wrong_p, wrong_y):.2f}\n  hint: {hint}"
        )
    if verbose:
        print(f"✓ my_cross_entropy: all {len(cases) + 1} checks passed")


@self_check
def check_tape_gradient(grad: object, x: float = 2.0, verbose: bool = True) -> None:
    """Check the reader's dy/dx of y = x**3 - 2x at ``x`` (a float or a scalar tensor).

    The expected value, 3x^2 - 2, is computed here from ``x``.
    """
    if grad is Ellipsis:
        raise NotImplementedError(
            "fill in grad first: the gradient from tape.gradient(y, x)"
        )
    if grad is None:
        raise CheckFailed(
            "dy/dx: got None. tape.gradient returns None when the tape did not record "
            "the computation for x.\n  hint: x is a tf.constant, which the tape does "
            "not watch by itself: call tape.watch(x) inside the `with` block, before "
            "computing y"
        )
    value = np.asarray(grad, dtype=float)
    if value.size != 1:
        raise CheckFailed(f"dy/dx: expected one number, got shape {value.shape}")
    value = float(value.ravel()[0])
    right = 3 * x**2 - 2
    hint = "work out dy/dx by hand first; then get it from tape.gradient(y, x)"
    if np.isclose(value, x**3 - 2 * x):
        hint = "that is y itself; the derivative comes from tape.gradient(y, x)"
    elif np.isclose(value, 3 * x**2):
        hint = "that is the derivative of x**3 alone: y also has the -2x term"
    check_value(
        f"dy/dx at x = {x:g}", value, right, hint=hint, rtol=1e-5, verbose=verbose
    )
