"""Tests for wastelab.models: parameter counts, outputs, saving (transfer learning:
test_transfer.py)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from wastelab import models as m


def _images(n: int = 6, shape=(50, 50, 1), seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, *shape), dtype=np.float32)


# ------------------------------------------------------------------ sizes and outputs


def test_mlp_has_exactly_320386_parameters():
    model = m.build_mlp((50, 50, 1), 2)
    assert m.count_params(model) == 320_386 == model.count_params()
    assert [layer.name for layer in model.layers] == [
        "image",
        "flatten",
        "hidden",
        "dropout",
        "probabilities",
    ]


def test_course_cnn_has_exactly_7394_parameters_and_the_course_shapes():
    model = m.build_cnn((50, 50, 1), 2)
    assert m.count_params(model) == 7_394
    shapes = {layer.name: tuple(layer.output.shape[1:]) for layer in model.layers}
    assert shapes["conv1"] == (50, 50, 16)
    assert shapes["pool1"] == (25, 25, 16)
    assert shapes["conv2"] == (23, 23, 16)
    assert shapes["pool2"] == (11, 11, 16)
    assert shapes["conv3"] == (9, 9, 16)
    assert shapes["flatten"] == (1296,)
    assert [
        m.count_params(model.get_layer(n)) for n in ("conv1", "conv2", "conv3")
    ] == [160, 2320, 2320]
    assert m.count_params(model.get_layer("probabilities")) == 2594


def test_strong_cnn_stays_in_its_budget_with_and_without_augmentation():
    plain = m.build_strong_cnn()
    augmented = m.build_strong_cnn(augment=True)
    assert 50_000 <= m.count_params(plain) <= 150_000
    assert m.count_params(augmented) == m.count_params(plain)
    assert "augmentation" in [layer.name for layer in augmented.layers]
    # BatchNorm moving statistics are the only frozen weights: 2 per channel per BN layer
    assert m.count_params(plain, trainable=False) == 2 * 2 * (16 + 32 + 64)
    assert m.count_params(plain, trainable=True) + m.count_params(
        plain, trainable=False
    ) == m.count_params(plain)


BUILDERS = {
    "mlp": lambda shape, k: m.build_mlp(shape, k),
    "cnn": lambda shape, k: m.build_cnn(shape, k),
    "strong": lambda shape, k: m.build_strong_cnn(shape, k),
    "strong_aug": lambda shape, k: m.build_strong_cnn(shape, k, augment=True),
}


@pytest.mark.parametrize("name", sorted(BUILDERS))
@pytest.mark.parametrize("n_classes", [2, 3])
def test_outputs_are_probabilities(name, n_classes):
    model = BUILDERS[name]((50, 50, 1), n_classes)
    probs = model.predict(_images(), verbose=0)
    assert probs.shape == (6, n_classes)
    assert probs.dtype == np.float32
    assert np.all(probs >= 0)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)


def test_same_seed_same_weights_other_seed_other_weights():
    def weights(seed):
        return [w.copy() for w in m.build_cnn(seed=seed).get_weights()]

    first, again, other = weights(0), weights(0), weights(1)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not np.array_equal(first[0], other[0])
    # layers of equal shape get different initial weights (distinct per-layer seeds)
    model = m.build_cnn(seed=0)
    assert not np.array_equal(
        model.get_layer("conv2").kernel, model.get_layer("conv3").kernel
    )


def test_augmentation_is_seeded_and_inactive_outside_training():
    x = _images(4)
    aug = m.augmentation_layers(seed=3)
    np.testing.assert_array_equal(np.asarray(aug(x, training=False)), x)
    out_a = np.asarray(aug(x, training=True))
    out_b = np.asarray(m.augmentation_layers(seed=3)(x, training=True))
    assert not np.allclose(out_a, x)
    np.testing.assert_array_equal(out_a, out_b)
    assert 0.0 <= out_a.min() and out_a.max() <= 1.0


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_keras_file_round_trip_with_safe_mode(name, tmp_path):
    model = BUILDERS[name]((50, 50, 1), 2)
    x = _images(5, seed=1)
    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert loaded.name == model.name
    np.testing.assert_allclose(
        loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6, atol=1e-6
    )


def test_compile_model_sets_loss_and_accuracy_and_rejects_unknown_optimizers():
    model = m.compile_model(m.build_cnn(), optimizer="sgd", learning_rate=0.05)
    assert isinstance(model.optimizer, keras.optimizers.SGD)
    assert float(model.optimizer.learning_rate) == pytest.approx(0.05)
    history = model.fit(_images(8), np.array([0, 1] * 4), epochs=1, verbose=0)
    assert {"loss", "accuracy"} <= set(history.history)
    with pytest.raises(ValueError, match="optimizer"):
        m.compile_model(m.build_cnn(), optimizer="adamax-typo")


def test_compile_model_passes_steps_per_execution_and_xla_to_keras():
    model = m.compile_model(m.build_cnn(), steps_per_execution=4, jit_compile=False)
    assert model.steps_per_execution == 4 and model.jit_compile is False


def test_one_optimizer_registry_for_compile_and_train():
    from wastelab import training

    assert set(m.OPTIMIZERS) == {"adam", "sgd", "rmsprop"}
    assert not hasattr(training, "OPTIMIZERS")  # train uses compile_model's
    for name, cls in m.OPTIMIZERS.items():
        assert isinstance(m.make_optimizer(name.upper(), 0.1), cls)
    mine = keras.optimizers.Adam(0.5)
    assert m.make_optimizer(mine, learning_rate=float("nan")) is mine  # used as it is


@pytest.mark.parametrize("rate", [float("nan"), float("inf"), 0, -1e-3, True, "0.1"])
def test_learning_rate_must_be_a_finite_number_above_zero(rate):
    with pytest.raises(ValueError, match="learning_rate must be a finite number"):
        m.make_optimizer("sgd", rate)
    with pytest.raises(ValueError, match="learning_rate"):
        m.compile_model(m.build_cnn(), learning_rate=rate)


def test_describe_is_plain_ascii_with_every_layer_and_the_totals():
    model = m.build_cnn()
    text = m.describe(model)
    assert text.isascii()
    for layer in model.layers:
        assert layer.name in text
    assert "(None, 9, 9, 16)" in text
    assert "Conv2D" in text
    assert "Total params: 7,394" in text
    assert "Non-trainable params: 0" in text
