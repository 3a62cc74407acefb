"""Chapter 4 self-checks: the references pass, typical mistakes fail with the right hint."""

import numpy as np
import pytest

from wastelab import backprop
from wastelab.exercises import CheckFailed
from wastelab.exercises.ch04 import (
    check_count_parameters,
    check_hand_gradient,
    check_output_delta,
    output_delta,
    tiny_network,
)
from wastelab.neuron import sigmoid, softmax


def _stub(*args):
    raise NotImplementedError("Exercise: write me")


def test_count_parameters_reference_passes_and_stub_is_not_done_yet(capsys):
    assert check_count_parameters(backprop.count_parameters) is None
    assert "✓ my_count_parameters: all 5 checks passed" in capsys.readouterr().out
    with pytest.raises(NotImplementedError):
        check_count_parameters(_stub)


def test_count_parameters_covers_the_course_numbers():
    seen = []
    check_count_parameters(
        lambda sizes: seen.append(list(sizes)) or backprop.count_parameters(sizes),
        verbose=False,
    )
    assert [3, 5, 5, 5, 2] in seen and [2500, 128, 2] in seen


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (
            lambda s: sum(a * b for a, b in zip(s[:-1], s[1:], strict=True)),
            "biases: one per unit",
        ),
        (
            lambda s: sum(a * b for a, b in zip(s[:-1], s[1:], strict=True)) + sum(s),
            "biases: one per unit outside the input layer",
        ),
        (lambda s: sum(s), "weights: one per pair"),
    ],
)
def test_count_parameters_mistakes_show_the_layer_by_layer_sum(wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_count_parameters(wrong, verbose=False)


def _hand_gradient():
    """dLoss/dW1[1, 1] written out with the chain rule, independently of backward."""
    params, x, y = tiny_network()
    (w1, b1), (w2, b2) = params
    a1 = sigmoid(x @ w1 + b1)
    p = softmax(a1 @ w2 + b2)
    return float(np.sum((p - y)[0] * w2[1]) * a1[0, 1] * (1 - a1[0, 1]) * x[0, 1])


def test_hand_gradient_right_and_as_array(capsys):
    check_hand_gradient(_hand_gradient())
    assert "✓" in capsys.readouterr().out
    check_hand_gradient(np.array([[_hand_gradient()]]), verbose=False)


def test_hand_gradient_mistakes():
    right = _hand_gradient()
    with pytest.raises(NotImplementedError):
        check_hand_gradient(...)
    with pytest.raises(CheckFailed, match="sign is flipped"):
        check_hand_gradient(-right)
    params, x, y = tiny_network()
    (w1, b1), (w2, b2) = params
    a1 = sigmoid(x @ w1 + b1)
    p = softmax(a1 @ w2 + b2)
    no_slope = float(np.sum((p - y)[0] * w2[1]) * x[0, 1])
    with pytest.raises(CheckFailed, match="slope"):
        check_hand_gradient(no_slope)
    with pytest.raises(CheckFailed, match="follow the path"):
        check_hand_gradient(right + 0.1)


def test_output_delta_matches_finite_differences_of_the_loss():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(4, 3))
    y = np.eye(3)[[2, 0, 1, 1]]
    identity = [
        (np.eye(3), np.zeros(3))
    ]  # a "network" whose last weighted sum is its input
    eps = 1e-6
    numeric = np.zeros_like(z)
    for idx in np.ndindex(z.shape):
        plus, minus = z.copy(), z.copy()
        plus[idx] += eps
        minus[idx] -= eps
        numeric[idx] = (
            backprop.loss(identity, plus, y) - backprop.loss(identity, minus, y)
        ) / (2 * eps)
    np.testing.assert_allclose(output_delta(z, y), numeric, atol=1e-8)
    with pytest.raises(ValueError, match="must both be"):
        output_delta(z, y[:2])


def test_output_delta_reference_passes_and_stub_is_not_done_yet(capsys):
    check_output_delta(output_delta)
    assert "✓ my_output_delta: all 3 checks passed" in capsys.readouterr().out
    with pytest.raises(NotImplementedError):
        check_output_delta(_stub)


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda z, y: (y - softmax(z, axis=1)) / len(z), "not y - p"),
        (lambda z, y: (z - y) / len(z), "probabilities first"),
        (lambda z, y: softmax(z, axis=1) - y, "MEAN"),
        (
            lambda z, y: (
                (np.exp(z) / np.exp(z).sum(axis=1, keepdims=True) - y) / len(z)
            ),
            "nan",
        ),
    ],
)
def test_output_delta_mistakes(wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_output_delta(wrong, verbose=False)


def test_hand_gradient_answer_is_what_backward_finds():
    from wastelab.exercises.ch04 import check_hand_gradient, hand_gradient_answer

    check_hand_gradient(hand_gradient_answer(), verbose=False)
