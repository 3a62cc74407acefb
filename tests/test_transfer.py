"""Tests for wastelab.transfer: VGG-16 from ImageNet (a weights file the test writes
stands in for the download), the offline fallback base, freezing and fine-tuning."""

from __future__ import annotations

import h5py
import keras
import numpy as np
import pytest

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

BUILDERS = {
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


# ------------------------------------------------------------------ ImageNet VGG-16


def test_imagenet_weights_from_the_keras_cache_reach_the_transfer_model(
    monkeypatch, tmp_path
):
    """The path readers online take: ``load_vgg16_base()`` (weights="imagenet") finds
    the weights file in Keras' cache and ``build_transfer`` wraps the base with VGG's
    "caffe" preprocessing. The file here is written by the test in the format of the
    real download (Keras' legacy HDF5 layout); only its checksum is waved through."""
    from keras.src.backend import config
    from keras.src.legacy.saving import legacy_h5_format
    from keras.src.utils import file_utils

    vgg = keras.applications.VGG16(
        include_top=False, weights=None, input_shape=(32, 32, 3)
    )
    cached = tmp_path / "models" / "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
    cached.parent.mkdir()
    with h5py.File(cached, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, vgg)
    monkeypatch.setattr(config, "_KERAS_DIR", str(tmp_path))
    monkeypatch.setattr(file_utils, "validate_file", lambda *a, **k: True)

    def must_not_run(*args, **kwargs):
        raise AssertionError("the cached ImageNet weights should have been used")

    monkeypatch.setattr(file_utils, "urlretrieve", must_not_run)  # no download
    monkeypatch.setattr(transfer, "pretrained_base", must_not_run)  # no fallback

    base, source = transfer.load_vgg16_base(input_shape=(32, 32, 3), verbose=1)
    assert source == "imagenet" and base.name == "vgg16"
    assert all(
        np.array_equal(a, b)
        for a, b in zip(base.get_weights(), vgg.get_weights(), strict=True)
    )
    model = transfer.build_transfer((50, 50, 1), 2, base=base)
    assert "caffe_preprocess" in [layer.name for layer in model.layers]
    assert m.count_params(model, trainable=True) == 512 * 2 + 2  # the head only
    probs = model.predict(_images(3), verbose=0)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)


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
