"""Chapter 8 self-checks: the references pass, typical mistakes fail with the right hint."""

import keras
import numpy as np
import pytest

from wastelab import models, training
from wastelab.data.splits import stratified_split
from wastelab.exercises import CheckFailed
from wastelab.exercises.ch08 import (
    RUN_EPOCHS,
    build_two_hidden_mlp,
    check_dropout_runs,
    check_mlp_param_count,
    check_two_hidden_mlp,
    count_mlp_params,
    train_mlp_with_dropout,
)


def test_param_count_matches_keras():
    assert count_mlp_params((50, 50, 1), [128], 2) == 320_386
    assert count_mlp_params((50, 50, 1), [128], 2) == models.count_params(
        models.build_mlp()
    )
    assert count_mlp_params((50, 50, 1), [64, 32], 2) == models.count_params(
        build_two_hidden_mlp(64, 32)
    )
    assert count_mlp_params((8, 6, 3), [5, 4], 3) == models.count_params(
        build_two_hidden_mlp(5, 4, input_shape=(8, 6, 3), n_classes=3)
    )


def test_reference_passes_and_stub_is_not_done_yet(capsys):
    check_mlp_param_count(count_mlp_params)
    assert "✓ my_mlp_param_count: all 4 checks passed" in capsys.readouterr().out

    def stub(input_shape, hidden, n_classes):
        raise NotImplementedError("Exercise 8.1")

    with pytest.raises(NotImplementedError):
        check_mlp_param_count(stub)


def _no_bias(shape, hidden, k):
    sizes = [shape[0] * shape[1] * shape[2], *hidden, k]
    return sum(a * b for a, b in zip(sizes[:-1], sizes[1:], strict=True))


def _no_channels(shape, hidden, k):
    return count_mlp_params((shape[0], shape[1], 1), hidden, k)


def _no_output(shape, hidden, k):
    return count_mlp_params(shape, hidden[:-1], hidden[-1]) if hidden else 0


def _one_bias_per_layer(shape, hidden, k):
    sizes = [shape[0] * shape[1] * shape[2], *hidden, k]
    return sum(a * b + 1 for a, b in zip(sizes[:-1], sizes[1:], strict=True))


def _first_hidden_only(shape, hidden, k):
    return count_mlp_params(shape, hidden[:1], k)


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


# ----------------------------------------------------------- the dropout study (8.3)


@pytest.fixture(scope="module")
def tiny():
    """60 noisy 8x8 images; a third are "bottles" with a bright centre."""
    rng = np.random.default_rng(0)
    y = (rng.random(60) < 0.33).astype(np.int64)
    x = rng.integers(0, 110, (60, 8, 8, 1)).astype(np.uint8)
    x[y == 1, 2:6, 2:6, 0] += 120
    return stratified_split(x, y, fractions=(0.6, 0.2, 0.2), seed=0)


@pytest.mark.slow
def test_reference_run_is_the_course_mlp_with_that_rate(tiny):
    result = train_mlp_with_dropout(tiny, 0.5, seed=1)
    assert len(result.history["loss"]) == RUN_EPOCHS == 30
    assert models.count_params(result.model) == count_mlp_params((8, 8, 1), [128], 2)
    rates = [
        layer.rate
        for layer in result.model.layers
        if isinstance(layer, keras.layers.Dropout)
    ]
    assert rates == [0.5]


@pytest.mark.slow
def test_dropout_study_reference_passes_and_reports(tiny, capsys):
    scores = check_dropout_runs(
        train_mlp_with_dropout, tiny, rates=(0.2, 0.5), seeds=(0,)
    )
    assert set(scores) == {0.2, 0.5} and all(len(f) == 1 for f in scores.values())
    assert all(0.0 <= f <= 1.0 for f1s in scores.values() for f in f1s)
    out = capsys.readouterr().out
    assert "validation F1 of the bottle class (12 images, 4 bottles)" in out
    assert "always 'bottle' F1 0.500" in out  # 2s / (1 + s) with s = 4/12
    assert "[[TN, FP], [FN, TP]]" in out
    assert "of 2 runs answered one class" in out
    assert "✓ my_dropout_run: 2 runs" in out
    assert max(len(line) for line in out.splitlines()) <= 88


def _train(tiny, rate, seed, epochs=RUN_EPOCHS, hidden=128, dropout=None):
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Flatten()(inputs)
    x = keras.layers.Dense(hidden, activation="relu")(x)
    x = keras.layers.Dropout(rate if dropout is None else dropout)(x)
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(x))
    return training.train(model, tiny, epochs=epochs, seed=seed, verbose=0)


@pytest.mark.slow
@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda d, r, s: _train(d, r, s, dropout=0.2), "pass the rate"),
        (lambda d, r, s: _train(d, r, s, epochs=2), "epochs=30"),
        (lambda d, r, s: _train(d, r, s, hidden=64), "Dense 128 ReLU"),
        (lambda d, r, s: _train(d, r, s).model, "what training.train returns"),
    ],
)
def test_dropout_study_mistakes(tiny, wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_dropout_runs(wrong, tiny, rates=(0.5,), seeds=(0,), verbose=False)


def test_dropout_study_stub_is_not_done_yet(tiny):
    def stub(data, rate, seed):
        raise NotImplementedError("Exercise 8.3")

    with pytest.raises(NotImplementedError):
        check_dropout_runs(stub, tiny)
