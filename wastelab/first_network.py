"""The course's first TensorFlow network, written for TensorFlow 2.

One weight matrix, a bias and a softmax, trained by plain mini-batch gradient descent
in a hand-written loop: a ``tf.GradientTape`` for the gradients and ``assign_sub`` for
the updates. The course wrote it for TensorFlow 1 (placeholders, a session); here the
step is a ``tf.function``. Keras models (``wastelab.models``) take over in chapter 6.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from tqdm import tqdm  # text bars: no ipywidgets needed in notebooks


class FirstNetwork(tf.Module):
    """The course's first TensorFlow network: one weight matrix, a bias, softmax.

    Images (N, H, W, C) become rows (N, n_features); then
    ``probabilities = softmax(relu(x @ W + b))``. ``W`` (n_features, n_classes) starts
    uniform in [-1, 1] (seeded), ``b`` at zero, as in the course. The ReLU before the
    softmax is the course's choice; ``relu=False`` gives textbook softmax regression.
    """

    def __init__(
        self,
        input_shape: Sequence[int] = (50, 50, 1),
        n_classes: int = 2,
        seed: int = 0,
        relu: bool = True,
        name: str = "first_network",
    ) -> None:
        super().__init__(name=name)
        self.n_features = math.prod(int(d) for d in input_shape)
        self.relu = bool(relu)
        shape = [self.n_features, int(n_classes)]
        init = tf.random.stateless_uniform(shape, seed=[seed, 0], minval=-1, maxval=1)
        self.W = tf.Variable(init, name="W")
        self.b = tf.Variable(tf.zeros([int(n_classes)]), name="b")

    def logits(self, x: tf.Tensor) -> tf.Tensor:
        """Scores before the softmax, (N, n_classes); with the ReLU when ``relu``."""
        x = tf.reshape(tf.cast(x, tf.float32), [-1, self.n_features])
        z = tf.matmul(x, self.W) + self.b
        return tf.nn.relu(z) if self.relu else z

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        """Class probabilities (N, n_classes) for images (N, H, W, C)."""
        return tf.nn.softmax(self.logits(x))

    def loss(self, x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
        """Mean cross-entropy of the integer labels ``y`` (N,): Keras' loss, computed
        from the scores (``from_logits``), which stays exact when a probability
        rounds to 0."""
        scores = self.logits(x)
        per_image = keras.losses.sparse_categorical_crossentropy(
            y, scores, from_logits=True
        )
        return tf.reduce_mean(per_image)


def make_train_step(
    network: FirstNetwork, learning_rate: float
) -> tf.types.experimental.Function:
    """A compiled step ``step(x, y) -> loss``: one gradient-descent update of W, b."""

    @tf.function
    def train_step(x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            loss = network.loss(x, y)
        grad_w, grad_b = tape.gradient(loss, [network.W, network.b])
        network.W.assign_sub(learning_rate * grad_w)
        network.b.assign_sub(learning_rate * grad_b)
        return loss

    return train_step


def train_first_network(
    x: np.ndarray,
    y: np.ndarray,
    epochs: int = 1,
    batch_size: int | None = 32,
    learning_rate: float = 0.001,
    seed: int = 0,
    relu: bool = True,
    n_classes: int = 2,
    log_dir: str | Path | None = None,
    verbose: int = 1,
) -> tuple[FirstNetwork, list[float]]:
    """Train a :class:`FirstNetwork` as the course did; return it and the batch losses.

    The defaults are the course's: batches of 32 in the order of the data, learning rate
    0.001, one epoch. As in the course's loop, only full batches are used (the last
    ``len(x) % batch_size`` images are left out); ``batch_size=None`` takes all images
    in every step (full-batch gradient descent). ``x`` (N, H, W, C) is float in [0, 1]
    (uint8 is divided by 255), ``y`` (N,) integer class ids. ``losses[i]`` is the loss
    of the batch of step ``i``, before its update. With ``log_dir``, the step's graph
    and the loss per step are written there for TensorBoard.
    """
    x_t, y_t = _as_batch(x, y, n_classes)
    network = FirstNetwork(x.shape[1:], n_classes, seed=seed, relu=relu)
    step = make_train_step(network, learning_rate)
    size = len(x) if batch_size is None else int(batch_size)
    starts = range(0, len(x) - size + 1, size)  # full batches only, in order
    logger = _Logger(log_dir)
    losses: list[float] = []
    with tqdm(total=epochs * len(starts), disable=not verbose) as bar, logger:
        for _ in range(epochs):
            for start in starts:
                logger.before(len(losses))
                loss = step(x_t[start : start + size], y_t[start : start + size])
                logger.after(len(losses), loss)
                losses.append(float(loss))
                bar.update()
    return network, losses


def train_step_graph(
    network: FirstNetwork, batch_shape: Sequence[int | None] = (None, 50, 50, 1)
) -> tf.Graph:
    """The graph of one training step for images of ``batch_shape``, to draw.

    The step is traced for inputs named ``x`` (images) and ``y`` (labels); draw it with
    ``plots.plot_graph(plots.tf_graph_nodes(graph, data_only=True))`` while
    ``network`` still exists (the graph refers to its variables).
    """
    step = make_train_step(network, learning_rate=0.01)
    concrete = step.get_concrete_function(
        tf.TensorSpec(list(batch_shape), tf.float32, name="x"),
        tf.TensorSpec([batch_shape[0]], tf.int64, name="y"),
    )
    return concrete.graph


class _Logger:
    """Writes the first step's graph and each step's loss for TensorBoard."""

    def __init__(self, log_dir: str | Path | None) -> None:
        self.writer = tf.summary.create_file_writer(str(log_dir)) if log_dir else None

    def before(self, i: int) -> None:
        if self.writer is not None and i == 0:
            tf.summary.trace_on(graph=True)  # the first call traces the graph

    def after(self, i: int, loss: tf.Tensor) -> None:
        if self.writer is not None:
            with self.writer.as_default():
                if i == 0:
                    tf.summary.trace_export(name="train_step", step=0)
                tf.summary.scalar("loss", loss, step=i)

    def __enter__(self) -> _Logger:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.writer is not None:
            tf.summary.trace_off()
            self.writer.close()


def _as_batch(
    x: np.ndarray, y: np.ndarray, n_classes: int
) -> tuple[tf.Tensor, tf.Tensor]:
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim < 2 or y.shape != (x.shape[0],):
        raise ValueError(f"need x (N, ...) and y (N,), got x {x.shape} and y {y.shape}")
    if not np.issubdtype(y.dtype, np.integer) or (
        y.size and (y.min() < 0 or y.max() >= n_classes)
    ):
        raise ValueError(
            f"labels must be integers in [0, {n_classes - 1}], got {y.dtype} "
            f"with values {np.unique(y)[:10]}"
        )
    xf = x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x.astype(np.float32)
    return tf.constant(xf), tf.constant(y.astype(np.int64))
