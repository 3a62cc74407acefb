"""Tests for wastelab.backprop: the numpy MLP, its gradients and its training loop."""

import numpy as np
import pytest

from wastelab.backprop import (
    backward,
    count_parameters,
    forward,
    gradient_check,
    init_mlp,
    loss,
    one_hot,
    predict,
    train_mlp,
)
from wastelab.neuron import sigmoid, softmax


def _xor(n=200, seed=0):
    """Points in [-1, 1]^2 labelled 1 where exactly one coordinate is positive."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, size=(n, 2))
    y = ((x[:, 0] > 0) ^ (x[:, 1] > 0)).astype(np.int64)
    return x, y


def _two_moons(n=200, seed=0):
    """Two interleaving half circles with a little noise, made with numpy."""
    rng = np.random.default_rng(seed)
    t = rng.uniform(0, np.pi, size=n)
    y = (np.arange(n) % 2).astype(np.int64)
    x = np.where(
        y[:, None] == 0,
        np.c_[np.cos(t), np.sin(t)],
        np.c_[1 - np.cos(t), 0.5 - np.sin(t)],
    )
    return x + rng.normal(0, 0.1, size=x.shape), y


def test_count_parameters_course_network():
    assert count_parameters([3, 5, 5, 5, 2]) == 92
    assert count_parameters((784, 10)) == 7850
    assert count_parameters([3, 5, 5, 5, 2]) == sum(
        w.size + b.size for w, b in init_mlp([3, 5, 5, 5, 2])
    )


@pytest.mark.parametrize(
    "bad", [[3], [], [3, 0, 2], [3, -1, 2], [3, 2.5, 2], [3, True], 5]
)
def test_bad_layer_sizes(bad):
    with pytest.raises(ValueError, match="layer"):
        init_mlp(bad)
    with pytest.raises(ValueError, match="layer"):
        count_parameters(bad)


def test_init_shapes_scale_and_seed():
    params = init_mlp([100, 50, 3], seed=4)
    assert [(w.shape, b.shape) for w, b in params] == [
        ((100, 50), (50,)),
        ((50, 3), (3,)),
    ]
    assert all(w.dtype == np.float64 and not b.any() for w, b in params)
    assert params[0][0].std() == pytest.approx(np.sqrt(1 / 100), rel=0.1)
    he = init_mlp([100, 50, 3], seed=4, init="he")
    assert he[0][0].std() == pytest.approx(np.sqrt(2 / 100), rel=0.1)
    again = init_mlp([100, 50, 3], seed=4)
    assert all(
        np.array_equal(w1, w2) for (w1, _), (w2, _) in zip(params, again, strict=True)
    )
    other = init_mlp([100, 50, 3], seed=5)
    assert not np.array_equal(params[0][0], other[0][0])
    with pytest.raises(ValueError, match="init"):
        init_mlp([2, 2], init="zeros")


def test_forward_shapes_and_values():
    params = init_mlp([3, 5, 5, 5, 2], seed=0)
    x = np.random.default_rng(1).normal(size=(7, 3))
    out, cache = forward(params, x)
    assert out.shape == (7, 2)
    np.testing.assert_allclose(out.sum(axis=1), 1.0)
    assert [a.shape for a in cache["a"]] == [(7, 3), (7, 5), (7, 5), (7, 5)]
    assert [z.shape for z in cache["z"]] == [(7, 5), (7, 5), (7, 5), (7, 2)]
    # Written out by hand for the first two layers and the output.
    (w1, b1), (w2, b2), (w3, b3), (w4, b4) = params
    a = sigmoid(sigmoid(sigmoid(x @ w1 + b1) @ w2 + b2) @ w3 + b3)
    np.testing.assert_allclose(out, softmax(a @ w4 + b4))
    sig, _ = forward(init_mlp([3, 4, 1]), x, hidden="relu", output="sigmoid")
    assert sig.shape == (7, 1) and np.all((sig > 0) & (sig < 1))


def test_forward_rejects_bad_input():
    params = init_mlp([4, 3, 2])
    with pytest.raises(ValueError, match=r"\(N, 4\).*\(5, 3\)"):
        forward(params, np.zeros((5, 3)))
    with pytest.raises(ValueError, match="flatten"):
        forward(params, np.zeros((5, 2, 2, 1)))
    with pytest.raises(ValueError, match="hidden"):
        forward(params, np.zeros((5, 4)), hidden="swish")
    with pytest.raises(ValueError, match="output"):
        forward(params, np.zeros((5, 4)), output="linear")


def test_loss_matches_definition():
    params = init_mlp([3, 4, 3], seed=2)
    x = np.random.default_rng(3).normal(size=(6, 3))
    y = one_hot(np.array([0, 1, 2, 2, 1, 0]), 3)
    out, _ = forward(params, x, hidden="tanh")
    expected = -np.mean(np.sum(y * np.log(out), axis=1))
    assert loss(params, x, y, hidden="tanh") == pytest.approx(expected)
    p1 = init_mlp([3, 4, 1], seed=2)
    t = np.array([[0.0], [1.0], [1.0], [0.0], [1.0], [0.0]])
    s, _ = forward(p1, x, output="sigmoid")
    expected = -np.mean(t * np.log(s) + (1 - t) * np.log(1 - s))
    assert loss(p1, x, t, output="sigmoid") == pytest.approx(expected)
    with pytest.raises(ValueError, match=r"\(6, 3\)"):
        loss(params, x, y[:, :2])


def test_loss_stays_finite_for_confident_wrong_predictions():
    params = [(np.array([[1000.0, -1000.0]]), np.zeros(2))]
    value = loss(params, np.ones((1, 1)), np.array([[0.0, 1.0]]))
    assert value == pytest.approx(2000.0)


@pytest.mark.parametrize(
    "sizes, hidden, output",
    [
        ([3, 5, 5, 5, 2], "sigmoid", "softmax"),
        ([4, 6, 3], "relu", "softmax"),
        ([2, 4, 4, 1], "tanh", "sigmoid"),
        ([3, 5, 4, 3], "leaky_relu", "sigmoid"),
        ([5, 2], "sigmoid", "softmax"),
        ([3, 8, 6, 5, 4, 3], "tanh", "softmax"),
    ],
)
def test_gradient_check(sizes, hidden, output):
    rng = np.random.default_rng(sum(sizes))
    params = init_mlp(sizes, seed=1)
    params = [
        (w, rng.normal(0, 0.1, size=b.shape)) for w, b in params
    ]  # non-zero biases
    x = rng.normal(size=(7, sizes[0]))
    if sizes[-1] == 1:
        y = rng.integers(0, 2, size=(7, 1)).astype(float)
    else:
        y = one_hot(rng.integers(0, sizes[-1], size=7), sizes[-1])
    before = [(w.copy(), b.copy()) for w, b in params]
    error = gradient_check(params, x, y, hidden=hidden, output=output)
    assert error < 1e-6
    # The check does not modify the parameters.
    for (w, b), (w0, b0) in zip(params, before, strict=True):
        np.testing.assert_array_equal(w, w0)
        np.testing.assert_array_equal(b, b0)


def test_gradient_check_catches_a_wrong_gradient(monkeypatch):
    import wastelab.backprop as bp

    params = init_mlp([3, 4, 2], seed=0)
    x = np.random.default_rng(0).normal(size=(5, 3))
    y = one_hot(np.array([0, 1, 1, 0, 1]), 2)
    real_backward = bp.backward

    def broken(p, cache, t):
        return [(2 * dw, db) for dw, db in real_backward(p, cache, t)]

    monkeypatch.setattr(bp, "backward", broken)
    assert bp.gradient_check(params, x, y) > 0.1


def test_backward_shapes():
    params = init_mlp([3, 5, 5, 5, 2])
    x = np.ones((4, 3))
    _, cache = forward(params, x)
    grads = backward(params, cache, one_hot(np.array([0, 1, 1, 0]), 2))
    assert [(dw.shape, db.shape) for dw, db in grads] == [
        (w.shape, b.shape) for w, b in params
    ]


def test_one_hot():
    np.testing.assert_array_equal(
        one_hot(np.array([1, 0, 2]), 3), [[0, 1, 0], [1, 0, 0], [0, 0, 1]]
    )
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        one_hot(np.array([0, 2]), 2)
    with pytest.raises(ValueError, match="integer"):
        one_hot(np.array([0.5, 1.0]), 2)


@pytest.mark.parametrize("hidden, lr", [("sigmoid", 1.0), ("relu", 0.1), ("tanh", 0.3)])
def test_train_mlp_learns_xor_mini_batch(hidden, lr):
    x, y = _xor()
    params, history = train_mlp(
        [2, 16, 16, 2],
        x,
        y,
        epochs=300,
        learning_rate=lr,
        batch_size=32,
        seed=0,
        hidden=hidden,
        verbose=0,
    )
    assert history.shape == (300,)
    assert history[-1] < 0.5 * history[0]
    accuracy = np.mean(predict(params, x, hidden=hidden) == y)
    assert accuracy >= 0.95


def test_train_mlp_full_batch_two_moons_sigmoid_output():
    x, y = _two_moons()
    params, history = train_mlp(
        [2, 10, 10, 1],
        x,
        y,
        epochs=1000,
        learning_rate=0.3,
        hidden="tanh",
        output="sigmoid",
        verbose=0,
    )
    assert history[-1] < history[0]
    assert np.all(
        np.diff(history) < 1e-9
    )  # full-batch, small steps: the loss only goes down
    labels = predict(params, x, hidden="tanh", output="sigmoid")
    assert labels.dtype == np.int64 and labels.shape == (200,)
    assert np.mean(labels == y) >= 0.95


def test_train_mlp_is_deterministic_and_accepts_one_hot():
    x, y = _xor(60)
    a, ha = train_mlp(
        [2, 4, 2], x, y, epochs=5, learning_rate=0.5, batch_size=8, verbose=0
    )
    b, hb = train_mlp(
        [2, 4, 2],
        x,
        one_hot(y, 2),
        epochs=5,
        learning_rate=0.5,
        batch_size=8,
        verbose=0,
    )
    np.testing.assert_array_equal(ha, hb)
    assert all(np.array_equal(w1, w2) for (w1, _), (w2, _) in zip(a, b, strict=True))
    _, hc = train_mlp(
        [2, 4, 2], x, y, epochs=5, learning_rate=0.5, batch_size=8, seed=1, verbose=0
    )
    assert not np.array_equal(ha, hc)


def test_train_mlp_rejects_bad_arguments():
    x, y = _xor(20)
    with pytest.raises(ValueError, match=r"\(20, 2\).*\(20, 3\)"):
        train_mlp(
            [2, 4, 2], x, np.zeros((20, 3)), epochs=1, learning_rate=0.1, verbose=0
        )
    with pytest.raises(ValueError, match=r"\(N, 3\)"):
        train_mlp([3, 4, 2], x, y, epochs=1, learning_rate=0.1, verbose=0)
    with pytest.raises(ValueError, match="learning_rate"):
        train_mlp([2, 4, 2], x, y, epochs=1, learning_rate=0.0, verbose=0)
    with pytest.raises(ValueError, match="batch_size"):
        train_mlp([2, 4, 2], x, y, epochs=1, learning_rate=0.1, batch_size=0, verbose=0)
    with pytest.raises(ValueError, match="layer"):
        train_mlp([2], x, y, epochs=1, learning_rate=0.1, verbose=0)
