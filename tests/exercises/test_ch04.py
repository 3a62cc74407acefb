"""Chapter 4 self-checks: the references pass, typical mistakes fail with the right hint,
and every expected value is computed from the check's inputs, not stored."""

import numpy as np
import pytest

import wastelab.exercises.ch04 as ch04
from wastelab import backprop
from wastelab.exercises import CheckFailed
from wastelab.exercises.ch04 import (
    BUDGETS,
    check_hand_gradient,
    check_input_gradient,
    check_widest_hidden_layer,
    hand_gradient,
    input_gradient,
    numeric_input_gradient,
    tiny_network,
    widest_hidden_layer,
)
from wastelab.neuron import sigmoid, sigmoid_derivative, softmax


def _stub(*args):
    raise NotImplementedError("Exercise: write me")


@pytest.mark.parametrize(
    "check, reference, n_cases",
    [
        (check_widest_hidden_layer, widest_hidden_layer, 6),
        (check_hand_gradient, hand_gradient, 4),
        (check_input_gradient, input_gradient, 3),
    ],
)
def test_reference_passes_and_stub_is_not_done_yet(check, reference, n_cases, capsys):
    assert check(reference) is None
    assert f"✓ my_{reference.__name__}: all {n_cases} checks passed" in (
        capsys.readouterr().out
    )
    with pytest.raises(NotImplementedError):
        check(_stub)


# ------------------------------------------------------------------------ the budget
def test_widest_hidden_layer_is_the_largest_that_fits():
    for n_in, n_out, budget, _ in BUDGETS:
        h = widest_hidden_layer(n_in, n_out, budget)
        if h > 0:
            assert backprop.count_parameters([n_in, h, n_out]) <= budget
        assert backprop.count_parameters([n_in, h + 1, n_out]) > budget
    assert widest_hidden_layer(2500, 2, 320_386) == 128  # the course's MLP
    assert widest_hidden_layer(3, 2, 92) == 15
    assert widest_hidden_layer(2500, 2, 7_394) == 2  # the course CNN's budget
    assert widest_hidden_layer(100, 5, 50) == 0


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda n_in, n_out, b: (b - n_out) // (n_in + n_out), "more than the budget"),
        (lambda n_in, n_out, b: (b - n_out) / (n_in + 1 + n_out), "whole number"),
        (lambda n_in, n_out, b: b // (n_in * n_out), "one more unit still fits"),
        (
            lambda n_in, n_out, b: (b - n_out) // (n_in + 1 + n_out) or -1,
            "at least one unit|budget too small",
        ),
    ],
)
def test_widest_hidden_layer_mistakes(wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_widest_hidden_layer(wrong, verbose=False)


# --------------------------------------------------------------- one gradient by hand
def _chain_rule(params, x, y, i, j):
    """dLoss/dW1[i, j] written out with the chain rule, independently of the reference."""
    (w1, b1), (w2, b2) = params
    a1 = sigmoid(x @ w1 + b1)
    p = softmax(a1 @ w2 + b2)
    return float(np.sum((p - y)[0] * w2[j]) * a1[0, j] * (1 - a1[0, j]) * x[0, i])


def test_hand_gradient_agrees_with_backward_everywhere():
    params, x, y = tiny_network()
    probs, cache = backprop.forward(params, x)
    d_w1 = backprop.backward(params, cache, y)[0][0]
    for i in range(2):
        for j in range(2):
            assert hand_gradient(params, x, y, i, j) == pytest.approx(d_w1[i, j])
    check_hand_gradient(_chain_rule, verbose=False)  # another correct answer
    check_hand_gradient(lambda *a: np.array([[_chain_rule(*a)]]), verbose=False)


def test_hand_gradient_check_computes_its_expected_values(monkeypatch):
    """Replacing the reference changes nothing: the check asks ``backward``."""
    monkeypatch.setattr(ch04, "hand_gradient", lambda *args: 0.0)
    check_hand_gradient(_chain_rule, verbose=False)


def _no_slope(params, x, y, i, j):
    (w1, b1), (w2, b2) = params
    p = softmax(sigmoid(x @ w1 + b1) @ w2 + b2)
    return float(np.sum((p - y)[0] * w2[j]) * x[0, i])


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda *a: -_chain_rule(*a), "sign is flipped"),
        (_no_slope, "left out the hidden unit's slope"),
        (lambda params, x, y, i, j: _chain_rule(params, x, y, j, i), "swapped"),
        (lambda *a: _chain_rule(*a) + 0.1, "follow the path input 1 -> hidden unit 1"),
        (lambda *a: np.array([[0.1, 0.2]]), r"shape \(1, 2\), expected \(\)"),
    ],
)
def test_hand_gradient_mistakes(wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_hand_gradient(wrong, verbose=False)


def test_hand_gradient_failure_names_the_network_not_its_arrays():
    with pytest.raises(CheckFailed, match=r"case 1 \('tiny network'"):
        check_hand_gradient(lambda *a: 0.0, verbose=False)


# ------------------------------------------------------------- the input's gradient
def test_input_gradient_matches_finite_differences():
    rng = np.random.default_rng(0)
    for sizes in ([5, 3], [5, 4, 3], [5, 4, 4, 2]):
        params = backprop.init_mlp(sizes, seed=2)
        x = rng.normal(size=(3, sizes[0]))
        y = backprop.one_hot(rng.integers(0, sizes[-1], size=3), sizes[-1])
        np.testing.assert_allclose(
            input_gradient(params, x, y),
            numeric_input_gradient(params, x, y),
            rtol=1e-5,
            atol=1e-9,
        )


def test_input_gradient_check_computes_its_expected_values(monkeypatch):
    monkeypatch.setattr(ch04, "input_gradient", lambda *args: 0.0)
    check_input_gradient(input_gradient, verbose=False)


def _only_last_layer(params, x, y):
    probs, _ = backprop.forward(params, x)
    return (probs - y) / len(x) @ params[-1][0].T


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda p, x, y: input_gradient(p, x, y) * len(x), r"\(p - y\) / N"),
        (
            lambda p, x, y: input_gradient(p, x, y) * sigmoid_derivative(x),
            "no slope at the input",
        ),
        (lambda p, x, y: -input_gradient(p, x, y), "sign is flipped"),
        (lambda p, x, y: x, "no hidden layer: dLoss/dx = dLoss/dz @ W.T"),
        (_only_last_layer, "one hidden layer: one gradient per input value"),
    ],
)
def test_input_gradient_mistakes(wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_input_gradient(wrong, verbose=False)
