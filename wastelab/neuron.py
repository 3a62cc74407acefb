"""A neuron from scratch in numpy: activations, their derivatives, the sigmoid neuron.

Every function takes a number or an array ``z`` and works element by element (except
``softmax``, which normalises along an axis). The book shows these functions one by one.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike

# The course's training data: 4 examples with 3 inputs each (the third always 1);
# the target copies the first input.
COURSE_X = np.array([[0, 0, 1], [1, 1, 1], [1, 0, 1], [0, 1, 1]], dtype=float)
COURSE_Y = np.array([[0, 1, 1, 0]], dtype=float).T
COURSE_X.setflags(write=False)
COURSE_Y.setflags(write=False)


def sigmoid(z: ArrayLike) -> np.ndarray:
    """The logistic function 1 / (1 + e^-z): squashes any number into (0, 1).

    Written so that large |z| never overflows: ``e`` below is always between 0 and 1.
    """
    z = np.asarray(z, dtype=float)
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def sigmoid_derivative(z: ArrayLike) -> np.ndarray:
    """Slope of the sigmoid at z: sigmoid(z) * (1 - sigmoid(z)), at most 0.25."""
    s = sigmoid(z)
    return s * (1 - s)


def relu(z: ArrayLike) -> np.ndarray:
    """Rectified linear unit: z where z > 0, else 0."""
    z = np.asarray(z, dtype=float)
    return np.maximum(z, 0.0)


def relu_derivative(z: ArrayLike) -> np.ndarray:
    """Slope of ReLU: 1 where z > 0, else 0 (we pick 0 at the kink z = 0)."""
    z = np.asarray(z, dtype=float)
    return (z > 0).astype(float)


def leaky_relu(z: ArrayLike, alpha: float = 0.01) -> np.ndarray:
    """Leaky ReLU: z where z > 0, else alpha * z (its small slope keeps gradients)."""
    z = np.asarray(z, dtype=float)
    return np.where(z > 0, z, alpha * z)


def leaky_relu_derivative(z: ArrayLike, alpha: float = 0.01) -> np.ndarray:
    """Slope of leaky ReLU: 1 where z > 0, else alpha."""
    z = np.asarray(z, dtype=float)
    return np.where(z > 0, 1.0, alpha)


def tanh(z: ArrayLike) -> np.ndarray:
    """Hyperbolic tangent: squashes any number into (-1, 1), centred on 0."""
    return np.tanh(np.asarray(z, dtype=float))


def tanh_derivative(z: ArrayLike) -> np.ndarray:
    """Slope of tanh at z: 1 - tanh(z)^2, at most 1 (at z = 0)."""
    t = tanh(z)
    return 1 - t**2


def softmax(z: ArrayLike, axis: int = -1) -> np.ndarray:
    """Turn scores into probabilities that sum to 1 along ``axis``: e^z_i / sum_j e^z_j.

    Subtracting the largest score first changes nothing in the result (it cancels in
    the fraction) but keeps every e^... at most 1: scores such as 1000 do not overflow.
    """
    z = np.asarray(z, dtype=float)
    shifted = z - np.max(z, axis=axis, keepdims=True)
    e = np.exp(shifted)
    return e / np.sum(e, axis=axis, keepdims=True)


Activation = Callable[[ArrayLike], np.ndarray]

# name -> (function, derivative); both take z. Softmax is left out: not element-wise.
ACTIVATIONS: dict[str, tuple[Activation, Activation]] = {
    "sigmoid": (sigmoid, sigmoid_derivative),
    "relu": (relu, relu_derivative),
    "leaky_relu": (leaky_relu, leaky_relu_derivative),
    "tanh": (tanh, tanh_derivative),
}


def neuron(
    x: ArrayLike,
    w: ArrayLike,
    b: ArrayLike = 0.0,
    activation: Activation = sigmoid,
) -> np.ndarray:
    """One neuron (or a layer of them): ``activation(x @ w + b)``.

    ``x``: (n_inputs,) for one example or (N, n_inputs) for many; ``w``: (n_inputs,) for
    one neuron or (n_inputs, n_units) for a layer; ``b``: a number or (n_units,).
    """
    weighted_sum = np.dot(np.asarray(x, dtype=float), np.asarray(w, dtype=float)) + b
    return activation(weighted_sum)


LOSSES = ("squared_error", "cross_entropy")


def train_sigmoid_neuron(
    x: ArrayLike = COURSE_X,
    y: ArrayLike = COURSE_Y,
    steps: int = 10_000,
    seed: int = 1,
    loss: str = "squared_error",
    learning_rate: float = 1.0,
    weights: ArrayLike | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Train one sigmoid neuron without bias by gradient descent (on the course's data).

    ``loss``: ``"squared_error"`` (the book's update for the course's neuron) or
    ``"cross_entropy"`` (logistic regression). Each step moves the weights by
    ``learning_rate`` times the gradient of the loss summed over the examples.
    ``x``: (N, n_inputs), ``y``: (N, 1) or (N,) of 0/1 targets. Starts from ``weights``
    or from random ones in [-1, 1), drawn as the course's ``np.random.seed(seed)``
    would. Returns the weights (n_inputs, 1) and the mean absolute error before each
    step, shape (steps,).
    """
    x, y, weights = _training_setup(x, y, steps, seed, loss, weights)
    errors = np.empty(steps)
    for step in range(steps):
        z = x @ weights  # forward pass: weighted sums (N, 1) ...
        output = sigmoid(z)  # ... and outputs
        error = y - output  # how far off each prediction is
        errors[step] = np.mean(np.abs(error))
        if loss == "squared_error":  # 1/2 (y - output)^2 reaches z through the sigmoid:
            error = error * sigmoid_derivative(z)  # times the sigmoid's slope at z
        # (cross-entropy's gradient with respect to z is output - y: no slope factor)
        weights = weights + learning_rate * (x.T @ error)  # a step downhill
    return weights, errors


def _training_setup(
    x: ArrayLike,
    y: ArrayLike,
    steps: int,
    seed: int,
    loss: str,
    weights: ArrayLike | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Checked float arrays x (N, n), y (N, 1) and the starting weights (n, 1)."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float).reshape(-1, 1)
    if x.ndim != 2 or x.shape[0] != y.shape[0]:
        raise ValueError(
            f"x must be (N, n_inputs) and y (N, 1); got x {x.shape}, y {y.shape}"
        )
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
    if weights is None:
        # the same numbers as np.random.seed(seed); 2 * np.random.random((n, 1)) - 1
        rng = np.random.RandomState(seed)
        return x, y, 2 * rng.random_sample((x.shape[1], 1)) - 1
    start = np.array(weights, dtype=float).reshape(-1, 1)
    if start.shape[0] != x.shape[1]:
        raise ValueError(
            f"weights must hold {x.shape[1]} numbers (one per input), got {start.size}"
        )
    return x, y, start
