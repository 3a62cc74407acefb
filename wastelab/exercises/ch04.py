"""Self-checks for chapter 4, backpropagation: counting parameters, one gradient by hand,
the output layer's error signal. Also the chapter's tiny network and the reference
``output_delta``. Checks print a one-line verdict or raise ``CheckFailed`` with a hint,
as in :mod:`wastelab.exercises.ch03`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .. import backprop
from ..neuron import softmax
from .ch03 import _strict
from .core import Case, check_value, run_checks, self_check

# (layer sizes, what they are) for check_count_parameters
ARCHITECTURES: tuple[tuple[list[int], str], ...] = (
    ([2, 1], "one neuron with two inputs"),
    ([3, 5, 5, 5, 2], "the course's network"),
    ([784, 10], "a linear classifier of 28 x 28 images"),
    ([2500, 128, 2], "the course's MLP on 50 x 50 images"),
    ([4, 3, 3, 1], "a small network with two hidden layers"),
)


def tiny_network() -> tuple[backprop.Params, np.ndarray, np.ndarray]:
    """The chapter's worked example: 2 inputs, 2 sigmoid hidden units, 2 softmax outputs.

    Returns ``(params, x, y_onehot)``: params as ``[(W1 (2, 2), b1 (2,)), (W2 (2, 2),
    b2 (2,))]``, one example ``x`` (1, 2) and its one-hot target (1, 2) (class 1).
    """
    w1 = np.array([[0.5, -0.3], [0.2, 0.8]])
    b1 = np.array([0.1, -0.1])
    w2 = np.array([[1.0, -1.0], [-0.5, 0.5]])
    b2 = np.array([0.0, 0.2])
    x = np.array([[1.0, 2.0]])
    y_onehot = np.array([[0.0, 1.0]])
    return [(w1, b1), (w2, b2)], x, y_onehot


def _layer_terms(layer_sizes: Sequence[int]) -> tuple[list[int], list[int]]:
    sizes = list(layer_sizes)
    weights = [n_in * n_out for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True)]
    return weights, sizes[1:]


def _count_hint(layer_sizes: Sequence[int]) -> str:
    weights, biases = _layer_terms(layer_sizes)
    return (
        f"weights: one per pair of units in consecutive layers, "
        f"{' + '.join(map(str, weights))} = {sum(weights)}; biases: one per unit outside "
        f"the input layer, {' + '.join(map(str, biases))} = {sum(biases)}"
    )


@self_check
def check_count_parameters(my_count_parameters: Callable, verbose: bool = True) -> None:
    """Check ``my_count_parameters(layer_sizes)`` on several architectures, the course's 92
    and the MLP's 320,386 among them."""
    cases = [
        Case(
            (sizes,),
            backprop.count_parameters(sizes),
            hint=f"{what}: {_count_hint(sizes)}",
        )
        for sizes, what in ARCHITECTURES
    ]
    run_checks("my_count_parameters", my_count_parameters, cases, verbose=verbose)


def _hand_gradient_variants() -> dict[str, float]:
    """dLoss/dW1[1, 1] of the tiny network, right and with the two typical slips."""
    params, x, y = tiny_network()
    out, cache = backprop.forward(params, x)
    right = backprop.backward(params, cache, y)[0][0][1, 1]
    w2 = params[1][0]
    upstream = float(((out - y) @ w2.T)[0, 1])  # dLoss/da1[1]
    return {
        "right": float(right),
        "no_slope": upstream * float(x[0, 1]),
        "sign": -float(right),
    }


def hand_gradient_answer() -> float:
    """dLoss/dW1[1, 1] of :func:`tiny_network` by the chain rule, step by step (no backward)."""
    [(w1, b1), (w2, b2)], x, y = tiny_network()
    a1 = backprop.sigmoid(x @ w1 + b1)  # hidden activations (1, 2)
    p = softmax(a1 @ w2 + b2, axis=1)  # output probabilities (1, 2)
    upstream = np.sum((p - y)[0] * w2[1])  # dLoss/da1[1]: both outputs' errors
    slope = a1[0, 1] * (1 - a1[0, 1])  # sigmoid's derivative at hidden unit 1
    return float(upstream * slope * x[0, 1])  # times the input the weight multiplies


@self_check
def check_hand_gradient(value: float, verbose: bool = True) -> None:
    """Check the reader's dLoss/dW1[1, 1] for :func:`tiny_network` against ``backward``."""
    if value is Ellipsis or value is None:
        raise NotImplementedError("fill in your hand-computed gradient first")
    if (
        np.size(value) == 1
    ):  # accept 0.1, np.float64(0.1) and arrays such as [[0.1]] alike
        value = float(np.ravel(value)[0])
    variants = _hand_gradient_variants()
    hint = (
        "follow the path input 1 -> hidden unit 1 -> both outputs: sum over outputs k of "
        "(p_k - y_k) * W2[1, k], times the sigmoid's slope a1[1] * (1 - a1[1]), times x[1]"
    )
    if np.isclose(value, variants["no_slope"], rtol=1e-4):
        hint = (
            "you left out the hidden unit's slope: multiply by a1[1] * (1 - a1[1]), the "
            "derivative of the sigmoid at that unit"
        )
    elif np.isclose(value, variants["sign"], rtol=1e-4):
        hint = (
            "the sign is flipped: the output error is p - y (prediction minus target)"
        )
    check_value(
        "dLoss/dW1[1, 1]",
        value,
        variants["right"],
        hint=hint,
        rtol=1e-4,
        verbose=verbose,
    )


def output_delta(z: np.ndarray, y_onehot: np.ndarray) -> np.ndarray:
    """dLoss/dz for softmax + mean cross-entropy: (softmax(z) - y) / N.

    ``z``: the output layer's weighted sums (N, K); ``y_onehot``: targets (N, K).
    """
    z = np.asarray(z, dtype=float)
    y = np.asarray(y_onehot, dtype=float)
    if z.ndim != 2 or y.shape != z.shape:
        raise ValueError(
            f"z and y_onehot must both be (N, K), got {z.shape} and {y.shape}"
        )
    return (softmax(z, axis=1) - y) / len(z)


@self_check
def check_output_delta(my_output_delta: Callable, verbose: bool = True) -> None:
    """Check ``my_output_delta(z, y_onehot)`` (both (N, K)) against :func:`output_delta`."""
    one_z = np.array([[2.0, -1.0, 0.5]])
    one_y = np.array([[0.0, 0.0, 1.0]])
    rng = np.random.default_rng(4)
    batch_z = rng.normal(0, 2, size=(5, 3))
    batch_y = np.eye(3)[[0, 2, 1, 1, 0]]
    big_z = np.array([[1000.0, 0.0], [0.0, 1000.0]])
    big_y = np.array([[0.0, 1.0], [0.0, 1.0]])
    cases = [
        Case(
            (one_z, one_y),
            output_delta(one_z, one_y),
            hint="turn the scores into probabilities first, p = softmax(z, axis=1), then "
            "return p - y (prediction minus target, not y - p)",
        ),
        Case(
            (batch_z, batch_y),
            output_delta(batch_z, batch_y),
            hint="the loss is the MEAN over the N examples of the batch, so every row of "
            "p - y is divided by N = len(z); softmax must work row by row (axis=1)",
        ),
        Case(
            (big_z, big_y),
            output_delta(big_z, big_y),
            hint="use a softmax that subtracts each row's maximum (neuron.softmax), or "
            "large scores give nan",
        ),
    ]
    run_checks("my_output_delta", _strict(my_output_delta), cases, verbose=verbose)
