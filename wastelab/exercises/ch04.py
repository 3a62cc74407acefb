"""Self-checks for chapter 4, backpropagation: a hidden layer within a parameter
budget, one gradient by hand, the gradient with respect to the input.

Also the chapter's tiny network and the reference solutions. Every expected value is
computed when the check runs, from the check's own inputs (``count_parameters``,
``backward``, finite differences of ``loss``); no answer is stored. Checks print a
one-line verdict or raise ``CheckFailed`` with a hint, as in
:mod:`wastelab.exercises.ch03`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .. import backprop
from ..neuron import sigmoid, sigmoid_derivative, softmax
from .ch03 import _strict
from .core import Case, run_checks, self_check


def tiny_network() -> tuple[backprop.Params, np.ndarray, np.ndarray]:
    """The chapter's worked example: 2 inputs, 2 sigmoid hidden units, 2 outputs.

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


def _named(answer: Callable, networks: dict) -> Callable:
    """``answer`` called with the network a case names: the failure message then shows
    the name, not the arrays (a list of (W, b) pairs prints badly)."""

    def run(name, *args):
        return answer(networks[name], *args)

    return run


def _reader_value(answer: Callable, *args) -> float | None:
    """The reader's answer on ``args`` as a float, or None if it crashes or is no number
    (the check itself then reports it); ``NotImplementedError`` passes through."""
    try:
        return float(np.ravel(answer(*args))[0])
    except NotImplementedError:
        raise
    except Exception:
        return None


# ----------------------------------------------------------- a hidden layer on a budget
def widest_hidden_layer(n_inputs: int, n_outputs: int, budget: int) -> int:
    """The most hidden units h for which the MLP [n_inputs, h, n_outputs] has at most
    ``budget`` parameters; 0 when not even one hidden unit fits."""
    # into the hidden layer: (n_inputs + 1) * h; out of it: (h + 1) * n_outputs.
    # Together (n_inputs + 1 + n_outputs) * h + n_outputs <= budget, solved for h.
    per_unit = n_inputs + 1 + n_outputs
    return max(0, (budget - n_outputs) // per_unit)


# (n_inputs, n_outputs, budget, what the budget is)
BUDGETS: tuple[tuple[int, int, int, str], ...] = (
    (2500, 2, 320_386, "the course's MLP on 50 x 50 images"),
    (3, 2, 92, "the course's example network"),
    (2500, 2, 7_394, "the course's CNN"),
    (784, 10, 100_000, "a round 100,000 for 28 x 28 images, 10 classes"),
    (10, 3, 20, "a tiny budget"),
    (100, 5, 50, "a budget too small for even one hidden unit"),
)


def _budget_hint(
    answer: Callable, n_inputs: int, n_outputs: int, budget: int, what: str
) -> str:
    got = _reader_value(answer, n_inputs, n_outputs, budget)
    if got is None or got != int(got):
        return "return a whole number of hidden units, e.g. with // (floor division)"
    h = int(got)
    if h < 0 or (h == 0 and widest_hidden_layer(n_inputs, n_outputs, budget) > 0):
        return f"{what}: a hidden layer needs at least one unit when one fits"
    if h > 0 and backprop.count_parameters([n_inputs, h, n_outputs]) > budget:
        over = backprop.count_parameters([n_inputs, h, n_outputs])
        return (
            f"{what}: [{n_inputs}, {h}, {n_outputs}] has {over:,} parameters, more "
            f"than the budget of {budget:,}; count the biases of both layers too, and "
            "round down"
        )
    wider = backprop.count_parameters([n_inputs, h + 1, n_outputs])
    if wider <= budget:
        return (
            f"{what}: one more unit still fits, [{n_inputs}, {h + 1}, {n_outputs}] has "
            f"{wider:,} parameters, within the budget of {budget:,}"
        )
    return (
        f"{what}: write the parameter count of [{n_inputs}, h, {n_outputs}] as a "
        "formula in h and solve 'count <= budget' for h"
    )


@self_check
def check_widest_hidden_layer(
    my_widest_hidden_layer: Callable, verbose: bool = True
) -> None:
    """Check ``my_widest_hidden_layer(n_inputs, n_outputs, budget)`` on six budgets,
    among them the parameter counts of the course's networks."""
    cases = [
        Case(
            (n_in, n_out, budget),
            widest_hidden_layer(n_in, n_out, budget),
            hint=_budget_hint(my_widest_hidden_layer, n_in, n_out, budget, what),
        )
        for n_in, n_out, budget, what in BUDGETS
    ]
    run_checks("my_widest_hidden_layer", my_widest_hidden_layer, cases, verbose=verbose)


# ----------------------------------------------------------------- one gradient by hand
def hand_gradient(
    params: backprop.Params, x: np.ndarray, y_onehot: np.ndarray, i: int, j: int
) -> float:
    """dLoss/dW1[i, j] by the chain rule: W1[i, j] joins input i to hidden unit j.

    ``params``: [(W1, b1), (W2, b2)], sigmoid hidden units and softmax outputs;
    ``x``: one example (1, n_inputs); ``y_onehot``: its target (1, n_outputs).
    """
    (w1, b1), (w2, b2) = params
    a1 = sigmoid(x @ w1 + b1)  # hidden activations (1, n_hidden)
    p = softmax(a1 @ w2 + b2, axis=1)  # output probabilities (1, n_outputs)
    upstream = np.sum((p - y_onehot)[0] * w2[j])  # dLoss/da1_j: all outputs, W2 row j
    slope = a1[0, j] * (1 - a1[0, j])  # the sigmoid's slope at hidden unit j
    return float(upstream * slope * x[0, i])  # times the input the weight multiplies


def _gradient_networks() -> list[tuple[backprop.Params, np.ndarray, np.ndarray]]:
    """The tiny network, and one with 3 inputs, 4 hidden units and 3 outputs."""
    rng = np.random.default_rng(7)
    bigger = backprop.init_mlp([3, 4, 3], seed=3)
    bigger = [(w, rng.normal(0, 0.5, size=b.shape)) for w, b in bigger]
    x = rng.normal(size=(1, 3))
    return [tiny_network(), (bigger, x, np.array([[0.0, 0.0, 1.0]]))]


def _gradient_slips(
    params: backprop.Params, x: np.ndarray, y: np.ndarray, i: int, j: int
) -> dict[str, float]:
    """dLoss/dW1[i, j] from ``backward``, and the values of the usual slips."""
    probs, cache = backprop.forward(params, x)
    right = float(backprop.backward(params, cache, y)[0][0][i, j])
    (w1, b1), (w2, _) = params
    a1 = sigmoid(x @ w1 + b1)
    upstream = float(((probs - y) @ w2.T)[0, j])  # dLoss/da1_j
    slips = {"right": right, "sign": -right, "no_slope": upstream * float(x[0, i])}
    if i < w1.shape[1] and j < w1.shape[0]:  # i and j swapped
        up_i = float(((probs - y) @ w2.T)[0, i])
        slips["swapped"] = up_i * float(a1[0, i] * (1 - a1[0, i]) * x[0, j])
    return slips


def _gradient_hint(answer: Callable, params, x, y, i: int, j: int) -> str:
    slips = _gradient_slips(params, x, y, i, j)
    path = (
        f"follow the path input {i} -> hidden unit {j} -> every output: the sum over "
        f"outputs k of (p_k - y_k) * W2[{j}, k], times the sigmoid's slope "
        f"a1_{j} * (1 - a1_{j}), times x_{i}"
    )
    got = _reader_value(answer, params, x, y, i, j)
    if got is None or np.isclose(got, slips["right"], rtol=1e-6):
        return path
    if np.isclose(got, slips["sign"], rtol=1e-4):
        return (
            "the sign is flipped: the output error is p - y (prediction minus target)"
        )
    if np.isclose(got, slips["no_slope"], rtol=1e-4):
        return (
            f"you left out the hidden unit's slope: multiply by a1_{j} * (1 - a1_{j}), "
            "the derivative of the sigmoid at that unit"
        )
    if "swapped" in slips and np.isclose(got, slips["swapped"], rtol=1e-4):
        return (
            f"i and j are swapped: W1[i, j] joins input i to hidden unit j, so use "
            f"x_{i}, hidden unit {j} and row {j} of W2"
        )
    return path


@self_check
def check_hand_gradient(my_hand_gradient: Callable, verbose: bool = True) -> None:
    """Check ``my_hand_gradient(params, x, y_onehot, i, j)`` against ``backward``, on
    the tiny network and on a bigger one."""
    (tiny, x, y), (bigger, x2, y2) = _gradient_networks()
    networks = {"tiny network": tiny, "3-4-3 network": bigger}
    cases = [
        Case(
            (name, xs, ys, i, j),
            _gradient_slips(networks[name], xs, ys, i, j)["right"],
            hint=_gradient_hint(my_hand_gradient, networks[name], xs, ys, i, j),
            rtol=1e-5,
        )
        for name, xs, ys, i, j in [
            ("tiny network", x, y, 1, 1),
            ("tiny network", x, y, 0, 1),
            ("tiny network", x, y, 1, 0),
            ("3-4-3 network", x2, y2, 2, 3),
        ]
    ]

    def as_number(*args):  # accept 0.1, np.float64(0.1) and [[0.1]] alike
        got = my_hand_gradient(*args)
        return float(np.ravel(got)[0]) if np.size(got) == 1 else got

    run_checks("my_hand_gradient", _named(as_number, networks), cases, verbose=verbose)


# ------------------------------------------------- the gradient for the input itself
def input_gradient(
    params: backprop.Params, x: np.ndarray, y_onehot: np.ndarray
) -> np.ndarray:
    """dLoss/dx: how the mean cross-entropy changes with every input value, (N, n_in).

    The backward sweep carried one step further than ``backprop.backward`` goes: past
    the first layer's weights to the input itself. Sigmoid hidden units, softmax output.
    """
    probs, cache = backprop.forward(params, x)
    delta = (probs - y_onehot) / len(probs)  # dLoss/dz of the output layer
    for layer in reversed(range(len(params))):
        d_a_in = delta @ params[layer][0].T  # back through this layer's weights
        if layer == 0:
            return d_a_in  # the input went through no activation: this is dLoss/dx
        delta = d_a_in * sigmoid_derivative(cache["z"][layer - 1])


def numeric_input_gradient(
    params: backprop.Params, x: np.ndarray, y_onehot: np.ndarray, eps: float = 1e-6
) -> np.ndarray:
    """dLoss/dx by central differences of ``backprop.loss``, one input at a time."""
    x = np.array(x, dtype=float)
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        original = x[idx]
        x[idx] = original + eps
        plus = backprop.loss(params, x, y_onehot)
        x[idx] = original - eps
        minus = backprop.loss(params, x, y_onehot)
        x[idx] = original
        grad[idx] = (plus - minus) / (2 * eps)
    return grad


def _input_networks() -> list[tuple[backprop.Params, np.ndarray, np.ndarray, str]]:
    rng = np.random.default_rng(11)
    nets = []
    for sizes, n, what in (
        ([3, 2], 2, "no hidden layer"),
        ([4, 5, 3], 3, "one hidden layer"),
        ([4, 3, 3, 2], 4, "two hidden layers"),
    ):
        params = backprop.init_mlp(sizes, seed=len(sizes))
        x = rng.normal(size=(n, sizes[0]))
        y = backprop.one_hot(rng.integers(0, sizes[-1], size=n), sizes[-1])
        nets.append((params, x, y, what))
    return nets


def _input_hint(answer: Callable, params, x, y, what: str, expected) -> str:
    steps = {
        "no hidden layer": "dLoss/dx = dLoss/dz @ W.T, where "
        "dLoss/dz = (p - y) / N is the output layer's error",
        "one hidden layer": "pass the error back through W2 (delta @ W2.T), multiply "
        "by the hidden layer's sigmoid slope, then pass it back through W1",
        "two hidden layers": "repeat the step 'back through W, times the slope' for "
        "every hidden layer, from the last back to the first, then through W1",
    }
    try:
        got = np.asarray(answer(params, x.copy(), y), dtype=float)
    except NotImplementedError:
        raise
    except Exception:
        return f"{what}: {steps[what]}"
    if got.shape == expected.shape:
        if np.allclose(got, expected * len(x), rtol=1e-4, atol=1e-9):
            return (
                f"{what}: the loss is the mean over the N examples: start from "
                "(p - y) / N"
            )
        if np.allclose(got, expected * sigmoid_derivative(x), rtol=1e-4, atol=1e-9):
            return (
                f"{what}: the input did not go through an activation, so stop after "
                "the product with W1.T (no slope at the input)"
            )
        if np.allclose(got, -expected, rtol=1e-4, atol=1e-9):
            return f"{what}: the sign is flipped: the output error is p - y"
    else:
        return f"{what}: one gradient per input value, the shape of x, (N, n_inputs)"
    return f"{what}: {steps[what]}"


@self_check
def check_input_gradient(my_input_gradient: Callable, verbose: bool = True) -> None:
    """Check ``my_input_gradient(params, x, y_onehot)`` against finite differences of
    the loss, for networks with zero, one and two hidden layers."""
    cases, networks = [], {}
    for params, x, y, what in _input_networks():
        networks[what] = params
        expected = numeric_input_gradient(params, x, y)
        hint = _input_hint(my_input_gradient, params, x, y, what, expected)
        cases.append(Case((what, x, y), expected, hint=hint, rtol=1e-5, atol=1e-8))
    answer = _named(_strict(my_input_gradient), networks)
    run_checks("my_input_gradient", answer, cases, verbose=verbose)
