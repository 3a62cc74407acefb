"""Tests for wastelab.models: parameter counts, outputs, the first network, transfer, saving."""

from __future__ import annotations

import glob

import keras
import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.util import event_pb2

from wastelab import models as m
from wastelab import transfer


def _images(n: int = 6, shape=(50, 50, 1), seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, *shape), dtype=np.float32)


def _tiny_base(name: str = "tiny_base", shape=(32, 32, 3)) -> keras.Model:
    return transfer.conv_base(shape, filters=(4, 8), seed=0, name=name)


def _has_make_scenes() -> bool:
    try:
        from wastelab.data.synthetic import make_scenes  # noqa: F401
    except ImportError:
        return False
    return True


needs_scenes = pytest.mark.skipif(
    not _has_make_scenes(), reason="wastelab.data.synthetic.make_scenes not available"
)


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
    "transfer": lambda shape, k: transfer.build_transfer(shape, k, base=_tiny_base()),
    "transfer_caffe": lambda shape, k: transfer.build_transfer(
        shape, k, base=_tiny_base(), preprocessing="caffe"
    ),
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


# ------------------------------------------------------------------ the first network


def _separable(n: int = 40, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Bright images are class 1, dark ones class 0 (8x8 grayscale)."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    x = rng.random((n, 8, 8, 1), dtype=np.float32) * 0.5 + 0.5 * y[:, None, None, None]
    return x.astype(np.float32), y.astype(np.int64)


def test_first_network_starts_as_the_course_says():
    net = m.FirstNetwork((50, 50, 1), 2, seed=0)
    w = net.W.numpy()
    assert w.shape == (2500, 2) and net.b.numpy().tolist() == [0.0, 0.0]
    assert -1.0 <= w.min() < -0.9 and 0.9 < w.max() <= 1.0
    np.testing.assert_array_equal(w, m.FirstNetwork(seed=0).W.numpy())
    assert m.count_params(net) == 5002
    probs = net(_images(3)).numpy()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-6)


@pytest.mark.parametrize("relu", [True, False])
@pytest.mark.parametrize("seed", [0, 1])
def test_gradient_descent_lowers_the_loss(relu, seed):
    x, y = _separable()
    net, losses = m.train_first_network(
        x, y, steps=60, learning_rate=0.2, seed=seed, relu=relu, verbose=0
    )
    assert len(losses) == 60
    assert np.all(np.diff(losses) <= 1e-6)  # full-batch descent with a small step
    assert losses[-1] < 0.6 * losses[0]
    accuracy = np.mean(np.argmax(net(x).numpy(), axis=1) == y)
    assert accuracy >= (
        0.8 if relu else 0.9
    )  # a ReLU before softmax can leave units dead


def test_train_first_network_rejects_bad_labels():
    x, y = _separable(10)
    with pytest.raises(ValueError, match="labels"):
        m.train_first_network(x, y + 5, steps=1, verbose=0)
    with pytest.raises(ValueError, match="shape|need"):
        m.train_first_network(x, y[:3], steps=1, verbose=0)


def test_tensorboard_event_file_has_the_graph_and_the_losses(tmp_path):
    x, y = _separable(10)
    m.train_first_network(
        (x * 255).astype(np.uint8), y, steps=3, log_dir=tmp_path, verbose=0
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
def test_graph_nodes_are_a_drawable_training_graph(relu):
    nodes = m.graph_nodes(m.FirstNetwork(relu=relu), batch_shape=(None, 50, 50, 1))
    names = [n["name"] for n in nodes]
    ops = {n["op"] for n in nodes}
    assert len(nodes) <= 60 and len(set(names)) == len(names)
    assert {"MatMul", "Softmax", "Log", "AssignSubVariableOp", "Variable"} <= ops
    assert ("Relu" in ops) == relu and ("ReluGrad" in ops) == relu
    assert not ops & {"Const", "NoOp", "Identity", "Shape", "BroadcastGradientArgs"}
    assert {"x", "y", "W", "b"} <= set(names)
    seen: set[str] = set()
    for node in nodes:  # topological order, edges only between listed nodes
        assert set(node["inputs"]) <= seen
        seen.add(node["name"])
    matmul = next(n for n in nodes if n["name"] == "logits/MatMul")
    assert "W" in matmul["inputs"]
    updated = {n["inputs"][0] for n in nodes if n["op"] == "AssignSubVariableOp"}
    assert updated == {"W", "b"}


# ------------------------------------------------------------------ transfer learning


@pytest.fixture(scope="module")
def vgg_weights(tmp_path_factory):
    vgg = keras.applications.VGG16(
        include_top=False, weights=None, input_shape=(32, 32, 3)
    )
    path = tmp_path_factory.mktemp("vgg") / "x.weights.h5"
    vgg.save_weights(path)
    return path, vgg.get_weights()


def test_load_vgg16_base_reads_a_local_weights_file(vgg_weights):
    path, expected = vgg_weights
    base, source = transfer.load_vgg16_base(weights=path, input_shape=(32, 32, 3))
    assert source == str(path)
    assert base.name == "vgg16"
    got = base.get_weights()
    assert len(got) == len(expected) == 26
    assert all(np.array_equal(a, b) for a, b in zip(got, expected, strict=True))


def test_load_vgg16_base_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.weights.h5"):
        transfer.load_vgg16_base(
            weights=tmp_path / "missing.weights.h5", input_shape=(32, 32, 3)
        )
    with pytest.raises(ValueError, match="32"):
        transfer.load_vgg16_base(weights=None, input_shape=(16, 16, 3))


def test_freezing_and_fine_tuning_vgg16_change_the_trainable_counts(vgg_weights):
    path, _ = vgg_weights
    base, _ = transfer.load_vgg16_base(weights=path, input_shape=(32, 32, 3))
    model = transfer.build_transfer((50, 50, 1), 2, base=base)
    names = [layer.name for layer in model.layers]
    assert names[:4] == ["image", "resize", "gray_to_rgb", "caffe_preprocess"]
    head = 512 * 2 + 2
    total = m.count_params(model)
    assert m.count_params(model, trainable=True) == head
    transfer.set_trainable(
        model, 3
    )  # VGG-16's last block: three 3x3 convs of 512 filters
    assert m.count_params(model, trainable=True) == head + 3 * (3 * 3 * 512 * 512 + 512)
    transfer.set_trainable(model, True)
    assert m.count_params(model, trainable=True) == total
    transfer.set_trainable(model, False)
    assert m.count_params(model, trainable=True) == head
    with pytest.raises(ValueError, match="layers"):
        transfer.set_trainable(model, 99)


def test_fine_tuning_really_trains_only_what_is_unfrozen():
    base = _tiny_base()
    model = transfer.build_transfer((32, 32, 1), 2, base=base)
    x, y = _images(16, (32, 32, 1)), np.array([0, 1] * 8)

    def snapshot():
        return {v.path: v.numpy().copy() for v in model.weights}

    def changed(before):
        return {p for p, v in snapshot().items() if not np.array_equal(v, before[p])}

    before = snapshot()
    m.compile_model(model, learning_rate=1e-2).fit(
        x, y, epochs=1, batch_size=8, verbose=0
    )
    assert changed(before) and all("probabilities" in p for p in changed(before))

    transfer.set_trainable(model, 1)  # the last conv layer; BatchNorm stays frozen
    assert m.count_params(model, trainable=True) == 8 * 2 + 2 + 3 * 3 * 4 * 8
    before = snapshot()
    m.compile_model(model, learning_rate=1e-2).fit(
        x, y, epochs=1, batch_size=8, verbose=0
    )
    moved = changed(before)
    assert any("block2_conv1" in p for p in moved)
    assert not any(
        "block1" in p or "_bn" in p for p in moved
    )  # incl. moving statistics


def test_build_transfer_errors():
    with pytest.raises(ValueError, match="base"):
        transfer.build_transfer((50, 50, 1), 2)
    gray_base = transfer.conv_base((32, 32, 1), filters=(4,))
    with pytest.raises(ValueError, match="channels"):
        transfer.build_transfer((32, 32, 3), 2, base=gray_base)


@needs_scenes
def test_offline_falls_back_to_a_pretrained_base_with_one_line(
    monkeypatch, tmp_path, capsys
):
    def no_network(*args, **kwargs):
        raise Exception("URL fetch failure on https://example.invalid: None -- offline")

    monkeypatch.setattr(keras.src.utils.file_utils, "get_file", no_network)
    monkeypatch.setenv(transfer.CACHE_ENV, str(tmp_path))
    base, source = transfer.load_vgg16_base(
        input_shape=(32, 32, 3),
        verbose=1,
        pretrain={"n": 24, "epochs": 1, "batch_size": 8},
    )
    assert capsys.readouterr().out == transfer.FALLBACK_MESSAGE + "\n"
    assert source == "wastelab-synthetic"
    assert base.inputs[0].shape[1:] == (32, 32, 3)
    assert len(list(tmp_path.glob("*.keras"))) == 1
    model = transfer.build_transfer((50, 50, 1), 2, base=base)
    assert "caffe_preprocess" not in [layer.name for layer in model.layers]
    assert m.count_params(model, trainable=True) == 128 * 2 + 2
    transfer.set_trainable(model, 1)
    assert m.count_params(model, trainable=True) == 128 * 2 + 2 + 3 * 3 * 64 * 128


@needs_scenes
def test_pretrained_base_is_cached_and_loaded_back(monkeypatch, tmp_path):
    monkeypatch.setenv(transfer.CACHE_ENV, str(tmp_path))
    first = transfer.pretrained_base((32, 32, 3), seed=1, n=16, epochs=1, batch_size=8)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert len(files) == 1 and files[0].endswith(
        ".keras"
    )  # no temporary file left behind

    import wastelab.data.synthetic as synthetic

    def must_not_run(*args, **kwargs):
        raise AssertionError("the cached base should have been loaded")

    monkeypatch.setattr(synthetic, "make_scenes", must_not_run)
    second = transfer.pretrained_base((32, 32, 3), seed=1, n=16, epochs=1, batch_size=8)
    assert all(
        np.array_equal(a, b)
        for a, b in zip(first.get_weights(), second.get_weights(), strict=True)
    )
    x = _images(3, (32, 32, 3))
    np.testing.assert_allclose(
        second.predict(x, verbose=0), first.predict(x, verbose=0), rtol=1e-6, atol=1e-6
    )
