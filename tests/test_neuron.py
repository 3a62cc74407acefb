"""Tests for wastelab.neuron: activations, derivatives, the course's sigmoid neuron."""

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from wastelab.neuron import (
    ACTIVATIONS,
    COURSE_X,
    COURSE_Y,
    leaky_relu,
    leaky_relu_derivative,
    neuron,
    relu,
    relu_derivative,
    sigmoid,
    sigmoid_derivative,
    softmax,
    tanh,
    tanh_derivative,
    train_sigmoid_neuron,
)

finite = st.floats(-50, 50, allow_nan=False)


def test_softmax_course_values():
    expected = [0.10534997, 0.05231524, 0.77843681, 0.06389798]
    np.testing.assert_allclose(softmax([1, 0.3, 3, 0.5]), expected, atol=1e-8)


def test_softmax_large_scores_do_not_overflow():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p = softmax([1000, 1001])
    np.testing.assert_allclose(p, [1 / (1 + np.e), np.e / (1 + np.e)])


def test_softmax_axis():
    z = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    np.testing.assert_allclose(softmax(z, axis=1).sum(axis=1), [1, 1])
    np.testing.assert_allclose(softmax(z, axis=0).sum(axis=0), [1, 1, 1])
    np.testing.assert_allclose(softmax(z)[1], [1 / 3] * 3)


@given(arrays(np.float64, (3, 4), elements=st.floats(-1e6, 1e6)))
def test_softmax_is_a_distribution(z):
    p = softmax(z)
    assert np.all((p >= 0) & (p <= 1))
    np.testing.assert_allclose(p.sum(axis=-1), 1.0)
    # Adding a constant to every score changes nothing.
    np.testing.assert_allclose(softmax(z + 7.0), p, atol=1e-12)


def test_sigmoid_known_values_and_no_overflow():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = sigmoid([-1000.0, -1.0, 0.0, 1.0, 1000.0])
    np.testing.assert_allclose(s, [0.0, 1 / (1 + np.e), 0.5, 1 / (1 + np.exp(-1)), 1.0])
    assert sigmoid(2.0).shape == ()


@given(finite)
def test_sigmoid_symmetry(z):
    assert sigmoid(z) + sigmoid(-z) == pytest.approx(1.0)


def test_relu_and_leaky_relu_values():
    z = np.array([-2.0, 0.0, 3.0])
    np.testing.assert_array_equal(relu(z), [0.0, 0.0, 3.0])
    np.testing.assert_array_equal(relu_derivative(z), [0.0, 0.0, 1.0])
    np.testing.assert_allclose(leaky_relu(z), [-0.02, 0.0, 3.0])
    np.testing.assert_allclose(leaky_relu(z, alpha=0.1), [-0.2, 0.0, 3.0])
    np.testing.assert_allclose(leaky_relu_derivative(z, alpha=0.1), [0.1, 0.1, 1.0])


def test_tanh_values():
    np.testing.assert_allclose(tanh([0.0, 1.0]), [0.0, np.tanh(1.0)])
    np.testing.assert_allclose(tanh_derivative(0.0), 1.0)
    np.testing.assert_allclose(sigmoid_derivative(0.0), 0.25)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_derivatives_match_finite_differences(name):
    f, df = ACTIVATIONS[name]
    z = np.array([-3.0, -0.7, -0.1, 0.2, 0.9, 4.0])  # away from the ReLU kink at 0
    h = 1e-6
    numeric = (f(z + h) - f(z - h)) / (2 * h)
    np.testing.assert_allclose(df(z), numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activations_keep_shape(name):
    f, df = ACTIVATIONS[name]
    z = np.linspace(-3, 3, 12).reshape(3, 4)
    assert f(z).shape == z.shape
    assert df(z).shape == z.shape


def test_neuron_weighted_sum_plus_bias():
    x = np.array([1.0, 2.0, 3.0])
    w = np.array([0.5, -1.0, 0.25])
    assert neuron(x, w, 0.5) == pytest.approx(sigmoid(0.5 - 2.0 + 0.75 + 0.5))
    assert neuron(x, w, 1.0, activation=relu) == pytest.approx(0.25)
    # a layer of 2 neurons on a batch of 4 examples
    out = neuron(
        np.ones((4, 3)), np.ones((3, 2)), np.array([0.0, -3.0]), activation=relu
    )
    np.testing.assert_array_equal(out, np.tile([3.0, 0.0], (4, 1)))


def test_course_initial_weights():
    w, errors = train_sigmoid_neuron(steps=1)
    # After one step the weights moved; recompute the start from the same seed.
    start = 2 * np.random.RandomState(1).random_sample((3, 1)) - 1
    np.testing.assert_allclose(
        start, [[-0.16595599], [0.44064899], [-0.99977125]], atol=1e-8
    )
    assert errors.shape == (1,)
    expected_first_error = np.mean(np.abs(COURSE_Y - sigmoid(COURSE_X @ start)))
    assert errors[0] == pytest.approx(expected_first_error)


def test_course_training_reproduces_known_result():
    np.random.seed(123)
    w, errors = train_sigmoid_neuron()
    # No global random state touched: the next global draw is the one seed 123 gives first.
    assert np.random.random() == np.random.RandomState(123).random_sample()
    assert w.shape == (3, 1)
    assert errors.shape == (10_000,)
    # The course's well-known final weights and its prediction for the new input [1, 0, 0].
    np.testing.assert_allclose(
        w.ravel(), [9.67299303, -0.2078435, -4.62963669], atol=1e-6
    )
    assert neuron([1, 0, 0], w)[0] == pytest.approx(0.99993704, abs=1e-8)
    np.testing.assert_allclose(neuron(COURSE_X, w), COURSE_Y, atol=0.01)
    assert errors[-1] < 0.01 < errors[0]
    assert np.all(np.diff(errors) <= 1e-12)  # the error only goes down on this problem


def test_course_training_matches_global_seed_version():
    np.random.seed(1)
    w_ref = 2 * np.random.random((3, 1)) - 1
    for _ in range(50):
        out = 1 / (1 + np.exp(-(COURSE_X @ w_ref)))
        w_ref += COURSE_X.T @ ((COURSE_Y - out) * out * (1 - out))
    w, _ = train_sigmoid_neuron(steps=50)
    np.testing.assert_allclose(w, w_ref, rtol=1e-12)


def test_train_sigmoid_neuron_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"\(4, 3\)"):
        train_sigmoid_neuron(COURSE_X, np.zeros(3))
    with pytest.raises(ValueError, match="steps"):
        train_sigmoid_neuron(steps=0)


def test_course_data_is_read_only():
    with pytest.raises(ValueError):
        COURSE_X[0, 0] = 5


def test_cross_entropy_neuron_is_logistic_regression():
    """Gradient descent on cross-entropy finds scikit-learn's (unpenalised) weights."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    points = np.vstack(
        [rng.normal([-1, -0.5], 1.0, (100, 2)), rng.normal([1, 0.5], 1.0, (100, 2))]
    )
    labels = np.repeat([0, 1], 100)
    x = np.hstack([points, np.ones((200, 1))])  # a constant input acts as the bias
    w, errors = train_sigmoid_neuron(
        x,
        labels,
        steps=500,
        loss="cross_entropy",
        learning_rate=1 / 200,
        weights=[0, 0, 0],
    )
    model = LogisticRegression(C=np.inf).fit(points, labels)
    np.testing.assert_allclose(
        w.ravel(), [*model.coef_[0], model.intercept_[0]], rtol=1e-3
    )
    assert errors.shape == (500,)


def test_cross_entropy_escapes_a_confidently_wrong_start_faster():
    trained, _ = train_sigmoid_neuron()
    flipped = 1 - COURSE_Y
    _, squared = train_sigmoid_neuron(y=flipped, steps=200, weights=trained)
    _, cross = train_sigmoid_neuron(
        y=flipped, steps=200, weights=trained, loss="cross_entropy"
    )
    assert squared[0] == cross[0] > 0.99  # the same, confidently wrong, start
    assert cross[-1] < 0.05 < squared[-1]


def test_train_sigmoid_neuron_rejects_bad_loss_and_weights():
    with pytest.raises(ValueError, match="loss must be one of"):
        train_sigmoid_neuron(loss="hinge")
    with pytest.raises(ValueError, match="one per input"):
        train_sigmoid_neuron(weights=[1.0, 2.0])
    start = np.array([0.5, -0.5, 0.1])
    train_sigmoid_neuron(weights=start, steps=3)
    np.testing.assert_array_equal(start, [0.5, -0.5, 0.1])  # not changed in place


def test_error_histories_can_share_one_figure():
    import matplotlib

    matplotlib.use("Agg")
    from wastelab import plots

    fig = plots.plot_error_history([0.5, 0.2, 0.1], label="squared error")
    plots.plot_error_history([0.5, 0.05, 0.01], ax=fig.axes[0], label="cross-entropy")
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.lines] == ["squared error", "cross-entropy"]
    assert ax.lines[0].get_color() != ax.lines[1].get_color()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "squared error",
        "cross-entropy",
    ]
