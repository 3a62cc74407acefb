"""A neuron from scratch in numpy: activation functions, their derivatives, the sigmoid neuron.

Every function takes a number or an array ``z`` and works element by element (except
``softmax``, which normalises along an axis). The book shows these functions one by one.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike

# The course's training data: 4 examples with 3 inputs each; the output copies the first input.
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
    """Slope of the sigmoid at z: sigmoid(z) * (1 - sigmoid(z)), at most 0.25 (at z = 0)."""
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
    """Leaky ReLU: z where z > 0, else alpha * z (a small slope keeps gradients alive)."""
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

    Subtracting the largest score first changes nothing in the result (it cancels in the
    fraction) but keeps every e^... at most 1, so huge scores such as 1000 do not overflow.
    """
    z = np.asarray(z, dtype=float)
    shifted = z - np.max(z, axis=axis, keepdims=True)
    e = np.exp(shifted)
    return e / np.sum(e, axis=axis, keepdims=True)


Activation = Callable[[ArrayLike], np.ndarray]

# name -> (function, derivative); both take z. Softmax is left out: it is not element-wise.
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


def train_sigmoid_neuron(
    x: ArrayLike = COURSE_X,
    y: ArrayLike = COURSE_Y,
    steps: int = 10_000,
    seed: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """Train one sigmoid neuron without bias, exactly as in the course.

    ``x``: (N, n_inputs), ``y``: (N, 1) or (N,) of 0/1 targets. Returns the weights
    (n_inputs, 1) and the mean absolute error before each step, shape (steps,).
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float).reshape(-1, 1)
    if x.ndim != 2 or x.shape[0] != y.shape[0]:
        raise ValueError(
            f"x must be (N, n_inputs) and y (N, 1); got x {x.shape}, y {y.shape}"
        )
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    # Random weights in [-1, 1); same numbers as np.random.seed(seed); 2*np.random.random(...)-1
    rng = np.random.RandomState(seed)
    weights = 2 * rng.random_sample((x.shape[1], 1)) - 1
    errors = np.empty(steps)
    for step in range(steps):
        output = sigmoid(x @ weights)  # forward pass: (N, 1)
        error = y - output  # how far off each prediction is
        errors[step] = np.mean(np.abs(error))
        # Nudge the weights: error times the slope of the sigmoid at the output.
        # For the sigmoid that slope is output * (1 - output) = sigmoid_derivative(x @ weights).
        weights += x.T @ (error * output * (1 - output))
    return weights, errors
