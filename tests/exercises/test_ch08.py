"""Chapter 8 self-checks: the references pass, typical mistakes fail with the right hint."""

import keras
import pytest

from wastelab import models
from wastelab.exercises import CheckFailed
from wastelab.exercises.ch08 import (
    build_two_hidden_mlp,
    check_mlp_param_count,
    check_two_hidden_mlp,
    mlp_param_count,
)


def test_param_count_matches_keras():
    assert mlp_param_count((50, 50, 1), [128], 2) == 320_386
    assert mlp_param_count((50, 50, 1), [128], 2) == models.count_params(
        models.build_mlp()
    )
    assert mlp_param_count((50, 50, 1), [64, 32], 2) == models.count_params(
        build_two_hidden_mlp(64, 32)
    )
    assert mlp_param_count((8, 6, 3), [5, 4], 3) == models.count_params(
        build_two_hidden_mlp(5, 4, input_shape=(8, 6, 3), n_classes=3)
    )


def test_reference_passes_and_stub_is_not_done_yet(capsys):
    check_mlp_param_count(mlp_param_count)
    assert "✓ my_mlp_param_count: all 4 checks passed" in capsys.readouterr().out

    def stub(input_shape, hidden, n_classes):
        raise NotImplementedError("Exercise 8.1")

    with pytest.raises(NotImplementedError):
        check_mlp_param_count(stub)


def _no_bias(shape, hidden, k):
    sizes = [shape[0] * shape[1] * shape[2], *hidden, k]
    return sum(a * b for a, b in zip(sizes[:-1], sizes[1:], strict=True))


def _no_channels(shape, hidden, k):
    return mlp_param_count((shape[0], shape[1], 1), hidden, k)


def _no_output(shape, hidden, k):
    return mlp_param_count(shape, hidden[:-1], hidden[-1]) if hidden else 0


def _one_bias_per_layer(shape, hidden, k):
    sizes = [shape[0] * shape[1] * shape[2], *hidden, k]
    return sum(a * b + 1 for a, b in zip(sizes[:-1], sizes[1:], strict=True))


def _first_hidden_only(shape, hidden, k):
    return mlp_param_count(shape, hidden[:1], k)


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (_no_bias, "PLUS n_out biases"),
        (_no_channels, "count the channels"),
        (_no_output, "output layer"),
        (_one_bias_per_layer, "not one per layer"),
        (_first_hidden_only, "sum over the layers"),
        (lambda shape, hidden, k: [1, 2], "one whole number"),
    ],
)
def test_param_count_mistakes(wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_mlp_param_count(wrong, verbose=False)


def test_reference_model_and_a_sequential_with_dropout_pass(capsys):
    check_two_hidden_mlp(build_two_hidden_mlp)
    assert "✓ my_two_hidden_mlp: all 2 models" in capsys.readouterr().out

    def sequential(first, second):
        return keras.Sequential(
            [
                keras.Input((50, 50, 1)),
                keras.layers.Flatten(),
                keras.layers.Dense(first, activation="relu"),
                keras.layers.Dropout(0.2),
                keras.layers.Dense(second, activation="relu"),
                keras.layers.Dense(2, activation="softmax"),
            ]
        )

    check_two_hidden_mlp(sequential, verbose=False)


def _model(
    first,
    second,
    flatten=True,
    out_act="softmax",
    hidden_act="relu",
    out=2,
    extra=False,
    shape=(50, 50, 1),
):
    inputs = keras.Input(shape)
    x = keras.layers.Flatten()(inputs) if flatten else inputs
    x = keras.layers.Dense(first, activation=hidden_act)(x)
    x = keras.layers.Dense(second, activation=hidden_act)(x)
    if extra:
        x = keras.layers.BatchNormalization()(x)
    return keras.Model(inputs, keras.layers.Dense(out, activation=out_act)(x))


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda a, b: _model(a, b, flatten=False), "Flatten"),
        (lambda a, b: _model(a, b, out_act="sigmoid"), "softmax at the output"),
        (lambda a, b: _model(a, b, hidden_act="sigmoid"), "ReLU in the hidden layers"),
        (lambda a, b: _model(b, a), "in order"),
        (lambda a, b: _model(64, 32), "in order"),
        (lambda a, b: _model(a, b, out=1, out_act="sigmoid"), "end in Dense\\(2\\)"),
        (
            lambda a, b: _model(a, b, shape=(50, 50, 3)),
            "Input\\(shape=\\(50, 50, 1\\)\\)",
        ),
        (lambda a, b: _model(a, b, extra=True), "no other layers with weights"),
        (lambda a, b: models.build_mlp(), "expected \\[64, 32, 2\\]"),
        (lambda a, b: None, "not a keras.Model"),
        (lambda a, b: 1 / 0, "ZeroDivisionError"),
    ],
)
def test_two_hidden_mlp_mistakes(wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_two_hidden_mlp(wrong, verbose=False)


def test_two_hidden_mlp_stub_is_not_done_yet():
    def stub(first, second):
        raise NotImplementedError("Exercise 8.2")

    with pytest.raises(NotImplementedError):
        check_two_hidden_mlp(stub)
