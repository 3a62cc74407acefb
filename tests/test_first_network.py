"""Tests for wastelab.first_network: the course's first TensorFlow network (chapter 5)."""

from __future__ import annotations

import glob

import keras
import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.util import event_pb2

from wastelab import first_network as fn
from wastelab import plots


def _images(n: int = 6, shape=(50, 50, 1), seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, *shape), dtype=np.float32)


def _separable(n: int = 40, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Bright images are class 1, dark ones class 0 (8x8 grayscale)."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    x = rng.random((n, 8, 8, 1), dtype=np.float32) * 0.5 + 0.5 * y[:, None, None, None]
    return x.astype(np.float32), y.astype(np.int64)


def test_first_network_starts_as_the_course_says():
    net = fn.FirstNetwork((50, 50, 1), 2, seed=0)
    w = net.W.numpy()
    assert w.shape == (2500, 2) and net.b.numpy().tolist() == [0.0, 0.0]
    assert -1.0 <= w.min() < -0.9 and 0.9 < w.max() <= 1.0
    np.testing.assert_array_equal(w, fn.FirstNetwork(seed=0).W.numpy())
    assert sum(int(tf.size(v)) for v in net.trainable_variables) == 5002
    probs = net(_images(3)).numpy()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-6)


def test_relu_before_softmax_and_the_textbook_model():
    x = _images(4)
    with_relu, plain = fn.FirstNetwork(seed=3), fn.FirstNetwork(seed=3, relu=False)
    z = plain.logits(x).numpy()
    np.testing.assert_allclose(with_relu.logits(x).numpy(), np.maximum(z, 0))
    np.testing.assert_allclose(
        plain(x).numpy(), tf.nn.softmax(z).numpy(), rtol=1e-6, atol=1e-7
    )


def test_loss_is_keras_cross_entropy_and_the_course_formula():
    x, y = _images(5), np.array([0, 1, 1, 0, 1])
    net = fn.FirstNetwork(seed=1, relu=False)
    probs = net(x).numpy().astype(np.float64)
    course = -np.mean(np.sum(np.eye(2)[y] * np.log(probs), axis=1))
    assert float(net.loss(x, y)) == pytest.approx(course, rel=1e-4)
    keras_loss = keras.losses.SparseCategoricalCrossentropy()(y, probs)
    assert float(net.loss(x, y)) == pytest.approx(float(keras_loss), rel=1e-4)


def test_loss_stays_exact_where_a_probability_rounds_to_zero():
    net = fn.FirstNetwork((1, 1, 1), seed=0, relu=False)
    net.W.assign([[0.0, 200.0]])  # softmax(0, 200): p(class 0) is 0 in float32
    loss = float(net.loss(np.ones((1, 1, 1, 1), np.float32), np.array([0])))
    assert loss == pytest.approx(200.0, rel=1e-5)  # clipped: about 16


@pytest.mark.parametrize("relu", [True, False])
@pytest.mark.parametrize("seed", [0, 1])
def test_full_batch_gradient_descent_lowers_the_loss(relu, seed):
    x, y = _separable()
    net, losses = fn.train_first_network(
        x,
        y,
        epochs=60,
        batch_size=None,
        learning_rate=0.2,
        seed=seed,
        relu=relu,
        verbose=0,
    )
    assert len(losses) == 60
    assert np.all(np.diff(losses) <= 1e-6)  # full-batch descent with a small step
    assert losses[-1] < 0.6 * losses[0]
    accuracy = np.mean(np.argmax(net(x).numpy(), axis=1) == y)
    assert accuracy >= (0.8 if relu else 0.9)  # a ReLU before softmax can kill images


def test_course_defaults_take_full_batches_of_32_in_order_for_one_epoch():
    x, y = _separable(100)
    net, losses = fn.train_first_network(x, y, verbose=0)
    assert len(losses) == 100 // 32  # 3 steps; the last 4 images are left out
    start = fn.FirstNetwork(x.shape[1:], seed=0)
    step = fn.make_train_step(start, 0.001)
    by_hand = [
        float(step(x[i * 32 : (i + 1) * 32], y[i * 32 : (i + 1) * 32]))
        for i in range(3)
    ]
    np.testing.assert_allclose(losses, by_hand, rtol=1e-5)
    np.testing.assert_allclose(net.W.numpy(), start.W.numpy(), rtol=1e-5, atol=1e-7)


def test_train_step_is_plain_gradient_descent():
    x, y = _images(4), np.array([0, 1, 0, 1])
    net = fn.FirstNetwork(seed=2, relu=False)
    w0, b0 = net.W.numpy(), net.b.numpy()
    with tf.GradientTape() as tape:
        loss = net.loss(x, y)
    grad_w, grad_b = tape.gradient(loss, [net.W, net.b])
    fn.make_train_step(net, 0.5)(tf.constant(x), tf.constant(y))
    np.testing.assert_allclose(net.W.numpy(), w0 - 0.5 * grad_w.numpy(), atol=1e-6)
    np.testing.assert_allclose(net.b.numpy(), b0 - 0.5 * grad_b.numpy(), atol=1e-6)


def test_train_first_network_rejects_bad_labels():
    x, y = _separable(10)
    with pytest.raises(ValueError, match="labels"):
        fn.train_first_network(x, y + 5, batch_size=None, verbose=0)
    with pytest.raises(ValueError, match="shape|need"):
        fn.train_first_network(x, y[:3], batch_size=None, verbose=0)


def test_tensorboard_event_file_has_the_graph_and_the_losses(tmp_path):
    x, y = _separable(10)
    fn.train_first_network(
        (x * 255).astype(np.uint8),
        y,
        epochs=3,
        batch_size=None,
        log_dir=tmp_path,
        verbose=0,
    )
    files = glob.glob(str(tmp_path / "events.out.tfevents.*"))
    assert files
    graphs, losses = [], []
    for path in files:
        for record in tf.data.TFRecordDataset(path):
            event = event_pb2.Event.FromString(record.numpy())
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name.startswith("graph"):
                    graphs.append(value.tag)
                if value.tag == "loss":
                    losses.append(event.step)
    assert graphs == ["train_step"]
    assert sorted(losses) == [0, 1, 2]


@pytest.mark.parametrize("relu", [True, False])
def test_train_step_graph_draws_as_a_training_graph(relu, tmp_path):
    network = fn.FirstNetwork(relu=relu)  # the graph reads its variables: keep it
    graph = fn.train_step_graph(network, (None, 50, 50, 1))
    nodes = plots.tf_graph_nodes(graph, data_only=True)
    names = [n["name"] for n in nodes]
    ops = {n["op"] for n in nodes}
    assert len(nodes) <= 40 and len(set(names)) == len(names)
    assert {"MatMul", "Mean", "AssignSubVariableOp", "Variable"} <= ops
    # the loss from the scores: one fused op, or (after op determinism was switched on
    # by a deterministic training run in the same process) log-softmax and a gather
    assert (
        "SparseSoftmaxCrossEntropyWithLogits" in ops
        or {
            "LogSoftmax",
            "GatherV2",
        }
        <= ops
    )
    assert ("Relu" in ops) == relu and ("ReluGrad" in ops) == relu
    assert not ops & {"Const", "NoOp", "Identity", "Shape", "BroadcastGradientArgs"}
    assert not ops & {"ReadVariableOp"}
    assert {"x", "y", "W", "b"} <= set(names)
    seen: set[str] = set()
    for node in nodes:  # topological order, edges only between listed nodes
        assert set(node["inputs"]) <= seen
        seen.add(node["name"])
    forward = next(n for n in nodes if n["op"] == "MatMul" and "W" in n["inputs"])
    assert not forward["name"].startswith("gradient_tape/")
    updated = {n["inputs"][0] for n in nodes if n["op"] == "AssignSubVariableOp"}
    assert updated == {"W", "b"}
    fig = plots.plot_graph(nodes, direction="TB")
    fig.savefig(tmp_path / "graph.png")
