"""Chapter 3 self-checks: the references pass, typical mistakes fail with the right hint."""

import math

import numpy as np
import pytest

from wastelab import neuron
from wastelab.exercises import CheckFailed
from wastelab.exercises.ch03 import (
    check_relu_derivative,
    check_sigmoid,
    check_sigmoid_derivative,
    check_softmax,
)


def _stub(*args):
    raise NotImplementedError("Exercise: write me")


@pytest.mark.parametrize(
    "check, reference, n_cases",
    [
        (check_sigmoid, neuron.sigmoid, 5),
        (check_softmax, neuron.softmax, 4),
        (check_relu_derivative, neuron.relu_derivative, 2),
        (check_sigmoid_derivative, neuron.sigmoid_derivative, 3),
    ],
)
def test_reference_passes_and_stub_is_not_done_yet(check, reference, n_cases, capsys):
    assert check(reference) is None  # nothing to echo in a notebook cell
    assert (
        f"✓ my_{reference.__name__}: all {n_cases} checks passed"
        in capsys.readouterr().out
    )
    with pytest.raises(NotImplementedError):
        check(_stub)


def test_other_correct_sigmoid_passes(capsys):
    def stable(z):
        z = np.asarray(z, dtype=float)
        out = np.empty_like(z)
        pos = z >= 0
        out[pos] = 1 / (1 + np.exp(-z[pos]))
        out[~pos] = np.exp(z[~pos]) / (1 + np.exp(z[~pos]))
        return out

    check_sigmoid(stable)
    assert "all 5 checks passed" in capsys.readouterr().out


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda z: 1 / (1 + np.exp(z)), "mind the sign"),
        (lambda z: 1 / (1 + math.exp(-z)), "use np.exp"),
        (lambda z: 1 / (1 + np.exp(-np.asarray(z, dtype=float))), "overflows"),
    ],
)
def test_sigmoid_mistakes(wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_sigmoid(wrong, verbose=False)


def _naive_softmax(z):
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def _softmax_whole_array(z):
    e = np.exp(z - np.max(z))
    return e / e.sum()


def _softmax_global_max(z):
    e = np.exp(z - np.max(z))
    return e / e.sum(axis=-1, keepdims=True)


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (np.exp, "divide by their sum"),
        (_naive_softmax, "subtract the largest score"),
        (_softmax_whole_array, "normalise each row"),
        (_softmax_global_max, "each row's own maximum"),
    ],
)
def test_softmax_mistakes(wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_softmax(wrong, verbose=False)


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (neuron.relu, "never z itself"),
        (np.sign, "never -1"),
        (lambda z: float(np.all(np.asarray(z) > 0)), r"shape \(\), expected \(5,\)"),
        (
            lambda z: np.array([float(v > 0) for v in np.ravel(z)]),
            "keep the input's shape",
        ),
    ],
)
def test_relu_derivative_mistakes(wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_relu_derivative(wrong, verbose=False)


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda z: z * (1 - z), "0.25"),
        (lambda z: neuron.sigmoid(z) * (1 - z), "not the sigmoid's output"),
        (lambda z: np.exp(-z) / (1 + np.exp(-z)) ** 2, "does not overflow"),
    ],
)
def test_sigmoid_derivative_mistakes(wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_sigmoid_derivative(wrong, verbose=False)
