"""A multi-layer perceptron in numpy: forward pass, backpropagation, gradient check.

Conventions: a batch ``x`` has shape (N, n_inputs); layer ``l`` has weights ``W`` of
shape (n_in, n_out) and biases ``b`` of shape (n_out,): a layer computes ``a @ W + b``.
The loss is cross-entropy: with a softmax output (one probability per class) or with
sigmoid outputs (one independent yes/no probability per output unit).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from tqdm import tqdm  # text bars: no ipywidgets needed in notebooks

from .neuron import ACTIVATIONS, sigmoid, softmax

Params = list[tuple[np.ndarray, np.ndarray]]
OUTPUTS = ("softmax", "sigmoid")
HIDDEN = ("sigmoid", "relu", "leaky_relu", "tanh")
INITS = ("xavier", "he")


def _check_layer_sizes(layer_sizes: ArrayLike) -> list[int]:
    try:
        sizes = list(layer_sizes)  # type: ignore[arg-type]
    except TypeError:
        raise ValueError(
            f"layer_sizes must be a list of sizes, got {layer_sizes!r}"
        ) from None
    if len(sizes) < 2:
        raise ValueError(
            f"layer_sizes needs at least an input and an output size, got {sizes}"
        )
    for n in sizes:
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
            raise ValueError(f"layer sizes must be positive integers, got {sizes}")
    return [int(n) for n in sizes]


def _check_names(hidden: str, output: str) -> None:
    if hidden not in HIDDEN:
        raise ValueError(f"hidden must be one of {HIDDEN}, got {hidden!r}")
    if output not in OUTPUTS:
        raise ValueError(f"output must be one of {OUTPUTS}, got {output!r}")


def count_parameters(layer_sizes: ArrayLike) -> int:
    """Weights and biases of an MLP: the sum over layers of n_in * n_out + n_out."""
    sizes = _check_layer_sizes(layer_sizes)
    return sum(
        n_in * n_out + n_out for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True)
    )


def init_mlp(layer_sizes: ArrayLike, seed: int = 0, init: str = "xavier") -> Params:
    """Random weights and zero biases for an MLP with the given layer sizes.

    ``layer_sizes``: [n_inputs, hidden..., n_outputs]. Weights are drawn from a normal
    distribution with standard deviation sqrt(1 / n_in) (``"xavier"``, for sigmoid/tanh)
    or sqrt(2 / n_in) (``"he"``, for ReLU), so signals neither explode nor vanish.
    Returns a list of ``(W (n_in, n_out), b (n_out,))``, float64.
    """
    sizes = _check_layer_sizes(layer_sizes)
    if init not in INITS:
        raise ValueError(f"init must be one of {INITS}, got {init!r}")
    gain = 2.0 if init == "he" else 1.0
    rng = np.random.default_rng(seed)
    params = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):
        w = rng.normal(0.0, np.sqrt(gain / n_in), size=(n_in, n_out))
        params.append((w, np.zeros(n_out)))
    return params


def _check_input(params: Params, x: ArrayLike) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    n_inputs = params[0][0].shape[0]
    if x.ndim != 2 or x.shape[1] != n_inputs:
        raise ValueError(
            f"x must have shape (N, {n_inputs}), got {x.shape}; "
            "flatten images first with x.reshape(len(x), -1)"
        )
    return x


def forward(
    params: Params, x: ArrayLike, hidden: str = "sigmoid", output: str = "softmax"
) -> tuple[np.ndarray, dict[str, Any]]:
    """Run a batch through the network.

    ``x``: (N, n_inputs). Returns the output probabilities (N, n_outputs) and a cache
    for ``backward``: the input of every layer (``"a"``), every weighted sum (``"z"``)
    and the activation names.
    """
    _check_names(hidden, output)
    x = _check_input(params, x)
    act = ACTIVATIONS[hidden][0]
    a, inputs, sums = x, [], []
    for i, (w, b) in enumerate(params):
        z = a @ w + b
        inputs.append(a)
        sums.append(z)
        if i < len(params) - 1:
            a = act(z)
        else:
            a = softmax(z, axis=1) if output == "softmax" else sigmoid(z)
    cache = {"a": inputs, "z": sums, "out": a, "hidden": hidden, "output": output}
    return a, cache


def _check_targets(y_onehot: ArrayLike, out: np.ndarray) -> np.ndarray:
    y = np.asarray(y_onehot, dtype=float)
    if y.shape != out.shape:
        raise ValueError(
            f"targets must have the output's shape {out.shape}, got {y.shape}"
        )
    return y


def _cross_entropy(z: np.ndarray, y: np.ndarray, output: str) -> float:
    """Mean cross-entropy from the last weighted sums ``z`` (stable, no log(0))."""
    if output == "softmax":
        # -log softmax(z)_true = logsumexp(z) - z_true
        top = z.max(axis=1, keepdims=True)
        log_sum = np.log(np.exp(z - top).sum(axis=1, keepdims=True)) + top
        per_example = np.sum(y * (log_sum - z), axis=1)
    else:
        # -[y log s(z) + (1 - y) log(1 - s(z))] = max(z, 0) - z y + log(1 + e^-|z|)
        per_unit = np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))
        per_example = per_unit.sum(axis=1)
    return float(per_example.mean())


def loss(
    params: Params,
    x: ArrayLike,
    y_onehot: ArrayLike,
    hidden: str = "sigmoid",
    output: str = "softmax",
) -> float:
    """Mean cross-entropy of the network on ``x`` (N, n_inputs), targets (N, n_out)."""
    out, cache = forward(params, x, hidden, output)
    y = _check_targets(y_onehot, out)
    return _cross_entropy(cache["z"][-1], y, output)


def backward(params: Params, cache: dict[str, Any], y_onehot: ArrayLike) -> Params:
    """Gradients of the mean cross-entropy loss with respect to every W and b.

    ``cache`` comes from ``forward``; ``y_onehot``: (N, n_outputs). Returns a list of
    ``(dW, db)`` with the same shapes as ``params``.
    """
    out = cache["out"]
    y = _check_targets(y_onehot, out)
    act_derivative = ACTIVATIONS[cache["hidden"]][1]
    n = out.shape[0]
    grads: Params = [None] * len(params)  # type: ignore[list-item]

    # Output layer. For softmax + cross-entropy (and for sigmoid + binary cross-entropy)
    # the derivative of the loss with respect to the last weighted sum z is simply
    # (prediction - target); we divide by N because the loss is a mean over the batch.
    delta = (out - y) / n  # dLoss/dz, shape (N, n_outputs)

    for layer in reversed(range(len(params))):
        w, _ = params[layer]
        a_in = cache["a"][layer]  # the input this layer saw, (N, n_in)
        # z = a_in @ W + b, so by the chain rule:
        dw = a_in.T @ delta  # dLoss/dW = a_in^T dLoss/dz, (n_in, n_out)
        db = delta.sum(axis=0)  # dLoss/db = sum over the batch of dLoss/dz, (n_out,)
        grads[layer] = (dw, db)
        if layer > 0:
            # Step back one layer: the loss reaches a_in through W ...
            d_a_in = delta @ w.T  # dLoss/da_in, (N, n_in)
            # ... and a_in = activation(z_prev), so multiply by the activation's slope.
            delta = d_a_in * act_derivative(cache["z"][layer - 1])  # dLoss/dz_prev
    return grads


def gradient_check(
    params: Params,
    x: ArrayLike,
    y_onehot: ArrayLike,
    eps: float = 1e-5,
    hidden: str = "sigmoid",
    output: str = "softmax",
) -> float:
    """Compare ``backward`` with central finite differences: the largest relative error.

    For each weight matrix and bias vector: ||analytic - numeric|| divided by
    (||analytic|| + ||numeric||), where numeric is the central difference
    (loss(p + eps) - loss(p - eps)) / (2 eps), one parameter at a time. Values around
    1e-7 or smaller mean the gradients are right. ``params`` is left unchanged.
    """
    work = [(w.astype(float), b.astype(float)) for w, b in params]
    _, cache = forward(work, x, hidden, output)
    grads = backward(work, cache, y_onehot)
    worst = 0.0
    for (w, b), (dw, db) in zip(work, grads, strict=True):
        for p, analytic in ((w, dw), (b, db)):
            numeric = np.zeros_like(p)
            for idx in np.ndindex(p.shape):
                original = p[idx]
                p[idx] = original + eps
                plus = loss(work, x, y_onehot, hidden, output)
                p[idx] = original - eps
                minus = loss(work, x, y_onehot, hidden, output)
                p[idx] = original
                numeric[idx] = (plus - minus) / (2 * eps)
            scale = np.linalg.norm(analytic) + np.linalg.norm(numeric)
            if scale > 0:
                worst = max(worst, float(np.linalg.norm(analytic - numeric) / scale))
    return worst


def one_hot(y: ArrayLike, n_classes: int) -> np.ndarray:
    """Integer labels (N,) -> one-hot rows (N, n_classes) of 0.0/1.0."""
    y = np.asarray(y)
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"labels must be a 1-D integer array, got {y.dtype} {y.shape}")
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(
            f"labels must lie in [0, {n_classes - 1}], found {y.min()}..{y.max()}"
        )
    return np.eye(n_classes)[y]


def _targets(y: ArrayLike, n_outputs: int, n_examples: int) -> np.ndarray:
    """Labels (N,) or ready targets (N, n_outputs) -> float targets (N, n_outputs)."""
    y = np.asarray(y)
    if y.ndim == 1 and n_outputs == 1:  # one sigmoid unit: the label is the target
        t = y.reshape(-1, 1).astype(float)
    elif y.ndim == 1:
        t = one_hot(y, n_outputs)
    else:
        t = y.astype(float)
    if t.shape != (n_examples, n_outputs):
        raise ValueError(
            f"y must be labels ({n_examples},) or targets "
            f"({n_examples}, {n_outputs}), got {y.shape}"
        )
    return t


def train_mlp(
    layer_sizes: ArrayLike,
    x: ArrayLike,
    y: ArrayLike,
    epochs: int,
    learning_rate: float,
    batch_size: int | None = None,
    seed: int = 0,
    hidden: str = "sigmoid",
    output: str = "softmax",
    verbose: int = 1,
) -> tuple[Params, np.ndarray]:
    """Train an MLP with (mini-batch) gradient descent.

    ``x``: (N, n_inputs); ``y``: integer labels (N,) or one-hot targets (N, n_outputs).
    ``batch_size=None`` uses the whole set per step (full-batch gradient descent);
    otherwise the examples are shuffled every epoch and split into batches. Returns the
    trained parameters and the loss on the whole training set after each epoch,
    shape (epochs,).
    """
    sizes = _check_layer_sizes(layer_sizes)
    _check_names(hidden, output)
    if epochs < 1 or learning_rate <= 0:
        raise ValueError(
            f"need epochs >= 1 and learning_rate > 0, got {epochs}, {learning_rate}"
        )
    params = init_mlp(sizes, seed, init="he" if "relu" in hidden else "xavier")
    x = _check_input(params, x)
    targets = _targets(y, sizes[-1], len(x))
    n = len(x)
    size = n if batch_size is None else int(batch_size)
    if size < 1:
        raise ValueError(f"batch_size must be positive or None, got {batch_size}")
    rng = np.random.default_rng([seed, 1])  # shuffling stream, independent of the init
    history = np.empty(epochs)
    for epoch in tqdm(range(epochs), desc="epochs", disable=not verbose):
        order = np.arange(n) if batch_size is None else rng.permutation(n)
        for start in range(0, n, size):
            batch = order[start : start + size]
            _, cache = forward(params, x[batch], hidden, output)
            grads = backward(params, cache, targets[batch])
            params = [
                (w - learning_rate * dw, b - learning_rate * db)
                for (w, b), (dw, db) in zip(params, grads, strict=True)
            ]
        history[epoch] = loss(params, x, targets, hidden, output)
    return params, history


def predict(
    params: Params, x: ArrayLike, hidden: str = "sigmoid", output: str = "softmax"
) -> np.ndarray:
    """Class ids (N,) int64: the most probable class (one sigmoid: p >= 0.5)."""
    out, _ = forward(params, x, hidden, output)
    if out.shape[1] == 1:
        return (out[:, 0] >= 0.5).astype(np.int64)
    return np.argmax(out, axis=1).astype(np.int64)
