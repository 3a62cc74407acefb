"""Self-checks for chapter 3, the artificial neuron: sigmoid, softmax, two derivatives.

Each ``check_*`` prints a one-line verdict when every case passes and raises
:class:`~wastelab.exercises.core.CheckFailed` (saying which input failed, with a hint)
at the first wrong one; an answer that still raises ``NotImplementedError`` passes it
through (in a notebook, ``self_check`` turns both into one printed line).

Every check runs the reader's function on several inputs and compares it with the
reference in :mod:`wastelab.neuron`. Overflow counts as a mistake: the answer is run
with numpy's floating-point warnings turned into errors, so ``np.exp(1000)`` does not
slip by.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np

from .. import neuron
from .core import Case, run_checks, self_check

_OVERFLOW_HINT = (
    "np.exp(-z) overflows for z = -1000 (e^1000 is too large for a float). "
    "Only ever take exp of a number <= 0: for z < 0 use e^z / (1 + e^z), which is the "
    "same value, e.g. with e = np.exp(-np.abs(z))."
)


def _strict(answer: Callable) -> Callable:
    """``answer`` run with overflow and invalid-value warnings raised as errors."""

    def run(*args, **kwargs):
        with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise"):
            warnings.simplefilter("error", RuntimeWarning)
            return answer(*args, **kwargs)

    return run


@self_check
def check_sigmoid(my_sigmoid: Callable, verbose: bool = True) -> None:
    """Check ``my_sigmoid(z)``: values, arrays of any shape, no overflow at +-1000."""
    z = np.array([-2.0, -1.0, 0.0, 1.0, 2.0])
    grid = np.linspace(-6, 6, 12).reshape(3, 4)
    cases = [
        Case(
            (0.0,),
            float(neuron.sigmoid(0.0)),
            hint="sigmoid(z) = 1 / (1 + e^(-z)); at z = 0 that is 1 / (1 + 1) = 0.5",
        ),
        Case(
            (2.0,),
            float(neuron.sigmoid(2.0)),
            hint="mind the sign in e^(-z): sigmoid(2) is above 0.5, sigmoid(-2) below",
        ),
        Case(
            (z,),
            neuron.sigmoid(z),
            hint="use np.exp (not math.exp) so the function works on a whole array "
            "at once",
        ),
        Case(
            (grid,),
            neuron.sigmoid(grid),
            hint="work element by element and return an array of the input's shape",
        ),
        Case(
            (np.array([-1000.0, 1000.0]),),
            neuron.sigmoid(np.array([-1000.0, 1000.0])),
            hint=_OVERFLOW_HINT,
        ),
    ]
    run_checks("my_sigmoid", _strict(my_sigmoid), cases, verbose=verbose)


@self_check
def check_softmax(my_softmax: Callable, verbose: bool = True) -> None:
    """Check ``my_softmax(z)``: the course's numbers, large scores, rows one by one."""
    course = np.array([1.0, 0.3, 3.0, 0.5])
    rows = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0], [-1.0, 5.0, 0.5]])
    far_apart = np.array([[1.0, 2.0, 3.0], [1000.0, 1001.0, 1002.0]])
    cases = [
        Case(
            (course,),
            neuron.softmax(course),
            hint="softmax(z)_i = e^(z_i) / (e^(z_1) + ... + e^(z_K)): take np.exp of "
            "every score, then divide by their sum so the results add up to 1",
        ),
        Case(
            (np.array([1000.0, 1001.0]),),
            neuron.softmax(np.array([1000.0, 1001.0])),
            hint="e^1000 overflows to inf and inf / inf is nan; subtract the largest "
            "score first: e^(z - max) / sum e^(z - max) is the same value and never "
            "overflows",
        ),
        Case(
            (rows,),
            neuron.softmax(rows),
            hint="a 2-D input holds one example per row: normalise each row on its "
            "own, with np.max(z, axis=-1, keepdims=True) and "
            "np.sum(e, axis=-1, keepdims=True)",
        ),
        Case(
            (far_apart,),
            neuron.softmax(far_apart),
            hint="subtract each row's own maximum (axis=-1, keepdims=True), not the "
            "maximum of the whole array: otherwise a row of small scores underflows to "
            "0 / 0",
        ),
    ]
    run_checks("my_softmax", _strict(my_softmax), cases, verbose=verbose)


@self_check
def check_relu_derivative(my_relu_derivative: Callable, verbose: bool = True) -> None:
    """Check ``my_relu_derivative(z)``: 0 for z < 0, 1 for z > 0, the shape of ``z``."""
    z = np.array([-3.0, -0.5, 0.25, 2.0, 40.0])
    grid = np.linspace(-2.5, 2.5, 6).reshape(2, 3)
    cases = [
        Case(
            (z,),
            neuron.relu_derivative(z),
            hint="ReLU is flat (slope 0) for z < 0 and the line z (slope 1) for z > 0: "
            "the derivative is 0 or 1 (never z itself, never -1), one value per "
            "element of z",
        ),
        Case(
            (grid,),
            neuron.relu_derivative(grid),
            hint="work element by element and keep the input's shape, e.g. "
            "(z > 0).astype(float)",
        ),
    ]
    run_checks("my_relu_derivative", my_relu_derivative, cases, verbose=verbose)


@self_check
def check_sigmoid_derivative(
    my_sigmoid_derivative: Callable, verbose: bool = True
) -> None:
    """Check ``my_sigmoid_derivative(z)``: sigmoid(z) * (1 - sigmoid(z)) for a sum z."""
    z = np.array([-4.0, -1.0, 0.0, 0.5, 3.0])
    cases = [
        Case(
            (0.0,),
            float(neuron.sigmoid_derivative(0.0)),
            hint="the slope is s * (1 - s) with s = sigmoid(z): at z = 0, s = 0.5 and "
            "the slope is 0.25. Your function receives z, the weighted sum, not the "
            "sigmoid's output: compute s = sigmoid(z) first",
        ),
        Case(
            (z,),
            neuron.sigmoid_derivative(z),
            hint="your function receives z, the weighted sum, not the sigmoid's "
            "output: compute s = sigmoid(z) first, then return s * (1 - s) "
            "(z * (1 - z) would be right only if z were already the output)",
        ),
        Case(
            (np.array([-1000.0, 1000.0]),),
            neuron.sigmoid_derivative([-1000.0, 1000.0]),
            hint="far from 0 the slope is 0; build on a sigmoid that does not "
            "overflow, such as your my_sigmoid from the first exercise",
        ),
    ]
    run_checks(
        "my_sigmoid_derivative", _strict(my_sigmoid_derivative), cases, verbose=verbose
    )
