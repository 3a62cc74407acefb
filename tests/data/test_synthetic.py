"""Tests of the synthetic litter scenes: shapes, determinism, labels, knobs, validation."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wastelab.data.images import to_array
from wastelab.data.synthetic import (
    CHALLENGE_NAMES,
    Challenges,
    bottle_labels,
    make_scenes,
    render_scene,
    scene_seed,
)

SMALL = {"size": (20, 24), "render_size": 32}


@pytest.mark.parametrize("color, channels", [("gray", 1), ("rgb", 3)])
def test_make_scenes_shapes_dtypes_and_meta(color, channels):
    x, y, meta = make_scenes(n=6, bottle_share=0.5, seed=3, color=color, **SMALL)
    assert x.shape == (6, 20, 24, channels) and x.dtype == np.uint8
    assert y.shape == (6,) and y.dtype == np.int64 and set(np.unique(y)) <= {0, 1}
    assert meta["source"] == "synthetic" and meta["task"] == "image"
    assert (meta["n"], meta["bottle_share"], meta["seed"], meta["render_size"]) == (
        6,
        0.5,
        3,
        32,
    )
    assert meta["challenges"] == Challenges().as_dict()
    assert json.loads(json.dumps(meta)) == meta
    assert x.std() > 5  # real pictures, not a constant fill


def test_render_scene_shape_and_determinism():
    a = render_scene(11, True, size=40)
    assert a.shape == (40, 40, 3) and a.dtype == np.uint8
    assert np.array_equal(a, render_scene(11, True, size=40))
    assert not np.array_equal(a, render_scene(12, True, size=40))
    assert not np.array_equal(a, render_scene(11, False, size=40))


def test_render_size_changes_detail_not_layout():
    """The same seed drawn at two sizes is the same scene; another seed is not."""

    def small(seed, size):
        return to_array(render_scene(seed, True, size=size), (24, 24), "gray").ravel()

    for seed in (0, 1):
        same = np.corrcoef(small(seed, 48), small(seed, 128))[0, 1]
        other = np.corrcoef(small(seed, 48), small(seed + 50, 128))[0, 1]
        assert same > 0.8 and same > other + 0.3


def test_make_scenes_is_deterministic_per_seed():
    x1, y1, _ = make_scenes(n=8, seed=5, **SMALL)
    x2, y2, _ = make_scenes(n=8, seed=5, **SMALL)
    assert x1.tobytes() == x2.tobytes() and np.array_equal(y1, y2)
    x3, _, _ = make_scenes(n=8, seed=6, **SMALL)
    assert x1.tobytes() != x3.tobytes()


def test_scene_depends_on_seed_and_index_only():
    """Scene i is render_scene(scene_seed(seed, i), y[i]): the same for every n."""
    x10, y10, _ = make_scenes(n=10, seed=2, **SMALL)
    x20, y20, _ = make_scenes(n=20, seed=2, **SMALL)
    same_label = np.flatnonzero(y10 == y20[:10])
    assert len(same_label) >= 5
    assert np.array_equal(x10[same_label], x20[same_label])
    for i in (0, 9):
        scene = render_scene(scene_seed(2, i), bool(y10[i]), size=32)
        assert np.array_equal(x10[i], to_array(scene, (20, 24), "gray"))


@pytest.mark.parametrize(
    "n, share",
    [(1, 0.3), (7, 0.3), (10, 0.3), (33, 0.5), (12, 0.0), (12, 1.0), (1500, 0.3)],
)
def test_exact_bottle_count(n, share):
    y = bottle_labels(n, share, seed=4)
    assert y.dtype == np.int64 and y.shape == (n,)
    assert int(y.sum()) == round(n * share)


def test_labels_are_shuffled_by_seed():
    a, b = bottle_labels(100, 0.3, seed=0), bottle_labels(100, 0.3, seed=1)
    assert not np.array_equal(a, b)
    assert np.array_equal(a, bottle_labels(100, 0.3, seed=0))
    assert a[:30].sum() < 30  # not simply the bottles first


@pytest.mark.parametrize("name", CHALLENGE_NAMES)
def test_each_challenge_changes_the_scene(name):
    for seed in (0, 1, 2):
        off = render_scene(seed, True, size=48, challenges=Challenges.only(name, 0.0))
        on = render_scene(seed, True, size=48, challenges=Challenges.only(name, 1.0))
        assert np.abs(off.astype(int) - on.astype(int)).mean() > 0.5, (name, seed)


def test_challenges_dataclass():
    ch = Challenges()
    assert set(ch.as_dict()) == set(CHALLENGE_NAMES)
    assert all(0 < v <= 1 for v in ch.as_dict().values())
    assert all(v == 0 for v in Challenges.none().as_dict().values())
    only = Challenges.only("occlusion", 0.8)
    assert only.occlusion == 0.8 and sum(only.as_dict().values()) == pytest.approx(0.8)
    with pytest.raises(dataclasses.FrozenInstanceError):
        ch.clutter = 0.1  # type: ignore[misc]
    assert isinstance(Challenges(clutter=1).clutter, float)


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan"), "high", None, True])
def test_challenge_values_are_checked(bad):
    with pytest.raises(ValueError, match="viewpoint"):
        Challenges(viewpoint=bad)


def test_only_rejects_unknown_names_and_bad_levels():
    with pytest.raises(ValueError, match="unknown challenge"):
        Challenges.only("blur")
    with pytest.raises(ValueError, match="scale"):
        Challenges.only("scale", 2.0)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"n": 0}, "n must be"),
        ({"n": -3}, "n must be"),
        ({"n": 2.5}, "n must be"),
        ({"bottle_share": -0.1}, "bottle_share"),
        ({"bottle_share": 1.01}, "bottle_share"),
        ({"seed": -1}, "seed"),
        ({"size": (0, 50)}, "size"),
        ({"size": 50}, "size"),
        ({"color": "cmyk"}, "color"),
        ({"render_size": 8}, "render size"),
        ({"challenges": {"viewpoint": 0.5}}, "Challenges"),
    ],
)
def test_make_scenes_validates_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_scenes(**{"n": 2, **kwargs})


def test_render_scene_validates_arguments():
    with pytest.raises(ValueError, match="seed"):
        render_scene(-1, True)
    with pytest.raises(ValueError, match="render size"):
        render_scene(0, True, size=10)


def test_brightness_alone_does_not_tell_bottles_apart():
    """A fair task: mean and spread of the pixels barely separate the two classes."""
    x, y, _ = make_scenes(n=240, seed=7, size=(24, 24), render_size=48)
    flat = x.reshape(len(x), -1).astype(float)
    for feature in (flat.mean(axis=1), flat.std(axis=1)):
        assert _auc(feature, y) < 0.7


def _auc(score: np.ndarray, y: np.ndarray) -> float:
    """Area under the ROC curve, either direction (0.5 = no information)."""
    ranks = np.argsort(np.argsort(score)) + 1
    n_pos, n_neg = int(y.sum()), int((1 - y).sum())
    auc = (ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    return max(auc, 1 - auc)


@settings(max_examples=12, deadline=None)
@given(n=st.integers(1, 6), share=st.floats(0, 1), seed=st.integers(0, 2**31))
def test_property_counts_shapes_and_values(n, share, seed):
    x, y, meta = make_scenes(
        n=n, bottle_share=share, seed=seed, size=(8, 8), render_size=16
    )
    assert x.shape == (n, 8, 8, 1) and x.dtype == np.uint8
    assert int(y.sum()) == round(n * share) and meta["n"] == n
    assert np.array_equal(y, bottle_labels(n, share, seed))


def test_knobs_off_draw_one_large_object():
    from wastelab.data.synthetic import scene_annotations

    coco = scene_annotations(12, bottle_share=1.0, challenges=Challenges.none())
    assert [a["image_id"] for a in coco["annotations"]] == list(range(12))
    for ann in coco["annotations"]:
        assert max(ann["bbox"][2:]) == pytest.approx(0.5 * 96, rel=0.12)  # upright


def test_clutter_adds_objects_and_scale_shrinks_them():
    from wastelab.data.coco_stats import coco_statistics
    from wastelab.data.synthetic import scene_annotations

    def stats(**knobs):
        ch = dataclasses.replace(Challenges(), **knobs)
        return coco_statistics(scene_annotations(150, seed=1, challenges=ch))

    calm, busy = stats(clutter=0.0), stats(clutter=0.3)
    assert calm.objects_per_image.tolist() == [1] * 150
    default = stats().objects_per_image.mean()
    assert busy.objects_per_image.mean() > 1.5 * default > 1.5
    near, far = stats(scale=0.2), stats(scale=0.8)
    assert np.median(far.relative_sizes) < 0.6 * np.median(near.relative_sizes)
