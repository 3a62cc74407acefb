"""Every figure renders to PNG, is titled and labelled, draws what its data says, and
refuses bad shapes."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402
from PIL import Image  # noqa: E402
from sklearn.metrics import average_precision_score  # noqa: E402

from wastelab import plots  # noqa: E402
from wastelab.data import stratified_split  # noqa: E402

RNG = np.random.default_rng(0)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def render(fig, tmp_path, name="fig.png"):
    """Save through save_figure and check a real, non-trivial PNG came out."""
    path = plots.save_figure(fig, tmp_path / name)
    with Image.open(path) as img:
        assert img.format == "PNG"
        assert img.width > 100 and img.height > 100
        assert np.asarray(img.convert("L")).std() > 0  # not a blank canvas
    return path


def suptitle(fig):
    return fig.get_suptitle()


def visible_axes(fig):
    return [ax for ax in fig.axes if ax.axison]


def mistake_framed(ax):
    return all(
        s.get_visible() and s.get_edgecolor() == to_rgba(plots.MISTAKE_COLOR)
        for s in ax.spines.values()
    )


def gray_images(n=6, h=12, w=10):
    return RNG.integers(0, 256, (n, h, w, 1), dtype=np.uint8)


# --------------------------------------------------------------------------- images


def test_show_images_labels_titles(tmp_path):
    x = gray_images(5)
    y = np.array([0, 1, 1, 0, 1])
    fig = plots.show_images(x, labels=y, ncols=3, title="Some crops")
    render(fig, tmp_path)
    assert isinstance(fig, plt.Figure)
    assert suptitle(fig) == "Some crops"
    axes = visible_axes(fig)
    assert [ax.get_title() for ax in axes] == [
        "other",
        "bottle",
        "bottle",
        "other",
        "bottle",
    ]
    assert axes[0].images[0].get_cmap().name == "gray"
    assert not any(mistake_framed(ax) for ax in axes)


def test_show_images_marks_mistakes(tmp_path):
    x = gray_images(6)
    y = np.array([0, 1, 1, 0, 1, 0])
    pred = np.array([0, 0, 1, 1, 1, 0])  # two mistakes: images 1 and 3
    fig = plots.show_images(x, labels=y, predictions=pred, title="Test images")
    render(fig, tmp_path)
    axes = visible_axes(fig)
    framed = [i for i, ax in enumerate(axes) if mistake_framed(ax)]
    red_titles = [
        i for i, ax in enumerate(axes) if ax.title.get_color() == plots.MISTAKE_COLOR
    ]
    assert framed == [1, 3]
    assert red_titles == [1, 3]
    assert axes[1].get_title() == "✗ pred: other\ntrue: bottle"
    assert axes[0].get_title() == "pred: other\ntrue: other"
    assert axes[0].title.get_color() == plots.CORRECT_COLOR
    assert suptitle(fig) == "Test images: 2 of 6 wrong"


def test_show_images_rgb_float_and_no_channel_axis(tmp_path):
    rgb = RNG.random((3, 8, 8, 3)).astype(np.float32)
    fig = plots.show_images(rgb, predictions=[1, 0, 1])
    render(fig, tmp_path)
    assert [ax.get_title() for ax in visible_axes(fig)] == [
        "pred: bottle",
        "pred: other",
        "pred: bottle",
    ]
    fig2 = plots.show_images(RNG.integers(0, 256, (2, 8, 8), dtype=np.uint8))
    assert len(visible_axes(fig2)) == 2
    assert suptitle(fig2)


@pytest.mark.parametrize(
    "images, kwargs",
    [
        (np.zeros((8, 8), np.uint8), {}),  # a single image without batch axis
        (np.zeros((2, 8, 8, 2), np.uint8), {}),  # two channels
        (np.zeros((0, 8, 8, 1), np.uint8), {}),  # empty
        (np.full((2, 8, 8, 1), 255.0), {}),  # floats in 0..255
        (np.zeros((2, 8, 8, 1), np.int32), {}),  # neither uint8 nor float
        (np.zeros((2, 8, 8, 1), np.uint8), {"labels": [0, 1, 1]}),
        (np.zeros((2, 8, 8, 1), np.uint8), {"labels": [0, 2]}),
        (
            np.zeros((2, 8, 8, 1), np.uint8),
            {"labels": [0, 1], "predictions": [0.2, 0.9]},
        ),
        (np.zeros((2, 8, 8, 1), np.uint8), {"ncols": 0}),
    ],
)
def test_show_images_rejects_bad_input(images, kwargs):
    with pytest.raises(ValueError):
        plots.show_images(images, **kwargs)


def test_show_image_as_numbers_writes_the_crop(tmp_path):
    img = RNG.integers(0, 256, (20, 30), dtype=np.uint8)
    fig = plots.show_image_as_numbers(img[..., None], size=4, title="Numbers")
    render(fig, tmp_path)
    left, right = fig.axes
    assert suptitle(fig) == "Numbers"
    assert left.get_xlabel() == "column" and right.get_ylabel() == "row"
    r0, c0 = (20 - 4) // 2, (30 - 4) // 2
    written = [int(t.get_text()) for t in right.texts]
    assert written == img[r0 : r0 + 4, c0 : c0 + 4].ravel().tolist()
    box = left.patches[0]
    assert (box.get_x(), box.get_y(), box.get_width()) == (c0 - 0.5, r0 - 0.5, 4)


def test_show_image_as_numbers_region_and_floats(tmp_path):
    img = RNG.random((10, 10))
    fig = plots.show_image_as_numbers(img, region=(slice(2, 5), slice(0, 2)))
    render(fig, tmp_path)
    texts = [t.get_text() for t in fig.axes[1].texts]
    assert texts == [f"{v:.2f}" for v in img[2:5, 0:2].ravel()]


@pytest.mark.parametrize(
    "image, kwargs",
    [
        (np.zeros((10, 10, 3), np.uint8), {}),
        (np.zeros((40, 40), np.uint8), {"region": (slice(0, 20), slice(0, 20))}),
        (np.zeros((10, 10), np.uint8), {"region": (slice(5, 5), slice(0, 3))}),
        (np.zeros((10, 10), np.uint8), {"region": (slice(0, 4, 2), slice(0, 3))}),
        (np.zeros((10, 10), np.uint8), {"region": (1, 2)}),
    ],
)
def test_show_image_as_numbers_rejects_bad_input(image, kwargs):
    with pytest.raises(ValueError):
        plots.show_image_as_numbers(image, **kwargs)


def test_plot_channels_matches_pillow_grayscale(tmp_path):
    rgb = RNG.integers(0, 256, (9, 13, 3), dtype=np.uint8)
    fig = plots.plot_channels(rgb)
    render(fig, tmp_path)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == [
        "colour (RGB)",
        "red channel",
        "green channel",
        "blue channel",
        "grayscale",
    ]
    assert "9 x 13" in suptitle(fig)
    red = fig.axes[1].images[0].get_array()
    np.testing.assert_allclose(red[..., 0], rgb[..., 0] / 255.0, atol=1e-6)
    assert np.all(red[..., 1:] == 0)
    gray = np.asarray(fig.axes[4].images[0].get_array()) * 255
    pillow = np.asarray(Image.fromarray(rgb).convert("L"), dtype=float)
    assert np.abs(gray - pillow).max() <= 1.0
    with pytest.raises(ValueError):
        plots.plot_channels(rgb[..., :1])


# --------------------------------------------------------------------------- neurons


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


ACTIVATIONS = {
    "sigmoid": (_sigmoid, lambda z: _sigmoid(z) * (1 - _sigmoid(z))),
    "tanh": (np.tanh, lambda z: 1 - np.tanh(z) ** 2),
    "ReLU": (lambda z: np.maximum(z, 0), lambda z: (z > 0).astype(float)),
}


def test_plot_activations_one_panel_each(tmp_path):
    fig = plots.plot_activations(ACTIVATIONS, z=np.linspace(-3, 3, 61))
    render(fig, tmp_path)
    axes = visible_axes(fig)
    assert [ax.get_title() for ax in axes] == list(ACTIVATIONS)
    assert all(ax.get_xlabel() == "z" for ax in axes)
    assert axes[0].get_ylabel()
    f_line, df_line = [
        ln for ln in axes[2].lines if ln.get_label().startswith(("fun", "der"))
    ]
    np.testing.assert_allclose(
        f_line.get_ydata(), np.maximum(np.linspace(-3, 3, 61), 0)
    )
    assert df_line.get_linestyle() == "--"
    assert fig.legends and suptitle(fig)


def test_plot_activations_rejects_bad_input():
    with pytest.raises(ValueError):
        plots.plot_activations({})
    with pytest.raises(ValueError):
        plots.plot_activations({"bad": (np.tanh,)})
    with pytest.raises(ValueError):
        plots.plot_activations(ACTIVATIONS, z=np.zeros((3, 3)))


def test_plot_softmax(tmp_path):
    fig = plots.plot_softmax([2.0, -1.0, 0.5], class_labels=("a", "b", "c"))
    render(fig, tmp_path)
    left, right = fig.axes
    probs = np.array([bar.get_height() for bar in right.patches])
    e = np.exp([2.0, -1.0, 0.5])
    np.testing.assert_allclose(probs, e / e.sum())
    assert left.get_ylabel() == "logit" and right.get_ylabel() == "probability"
    assert [t.get_text() for t in right.get_xticklabels()] == ["a", "b", "c"]
    assert suptitle(fig)
    with pytest.raises(ValueError):
        plots.plot_softmax([1.0, 2.0], class_labels=("a", "b", "c"))
    with pytest.raises(ValueError):
        plots.plot_softmax([1.0, 2.0], probs=[0.5, 0.2])


def test_plot_error_history_scales(tmp_path):
    errors = 0.3 * np.exp(-np.arange(300) / 50) + 1e-3
    fig = plots.plot_error_history(errors, title="Neuron error")
    render(fig, tmp_path)
    ax = fig.axes[0]
    assert ax.get_title() == "Neuron error"
    assert ax.get_xlabel() == "step" and "error" in ax.get_ylabel()
    assert ax.get_yscale() == "log"
    fig2, ax2 = plt.subplots()
    assert plots.plot_error_history([0.5, 0.1, 0.0], ax=ax2) is fig2
    assert ax2.get_yscale() == "linear"  # a zero cannot be drawn on a log scale
    with pytest.raises(ValueError):
        plots.plot_error_history([])


# --------------------------------------------------------------------------- training


HISTORY = {
    "loss": [0.7, 0.5, 0.4, 0.35],
    "val_loss": [0.72, 0.55, 0.50, 0.53],
    "accuracy": [0.6, 0.7, 0.8, 0.85],
    "val_accuracy": [0.58, 0.66, 0.71, 0.70],
    "val_f1": [0.2, 0.35, 0.4, 0.45],
}


def _best_marker(ax):
    return next(ln for ln in ax.lines if ln.get_label().startswith("best"))


def test_plot_history_panels_and_best_epoch(tmp_path):
    fig = plots.plot_history(HISTORY, title="Run 1")
    render(fig, tmp_path)
    loss_ax, acc_ax = visible_axes(fig)
    assert suptitle(fig) == "Run 1"
    assert loss_ax.get_xlabel() == "epoch" and loss_ax.get_ylabel() == "loss"
    assert "accuracy" in acc_ax.get_title()
    train = loss_ax.lines[0]
    assert list(train.get_xdata()) == [1, 2, 3, 4]
    best = _best_marker(loss_ax)
    assert (best.get_xdata()[0], best.get_ydata()[0]) == (3, 0.50)  # lowest val loss
    best = _best_marker(acc_ax)
    assert best.get_xdata()[0] == 3  # highest val accuracy


def test_plot_history_val_f1_only_and_keras_like(tmp_path):
    class FakeHistory:  # the shape of keras.callbacks.History
        history = HISTORY

    fig = plots.plot_history(FakeHistory(), metrics=("loss", "f1"))
    render(fig, tmp_path)
    f1_ax = visible_axes(fig)[1]
    assert f1_ax.get_ylabel() == "F1"
    labels = [ln.get_label() for ln in f1_ax.lines]
    assert "validation" in labels and "training" not in labels
    assert _best_marker(f1_ax).get_xdata()[0] == 4
    fig_all = plots.plot_history(HISTORY, metrics=None)
    assert len(visible_axes(fig_all)) == 3


def test_plot_history_per_class_values():
    hist = {"val_f1": [[0.9, 0.1], [0.9, 0.4], [0.9, 0.3]]}
    fig = plots.plot_history(hist, metrics=("f1",))
    line = visible_axes(fig)[0].lines[0]
    assert list(line.get_ydata()) == [0.1, 0.4, 0.3]
    assert "class 1" in line.get_label()


def test_plot_history_rejects_bad_input():
    with pytest.raises(ValueError, match="precision"):
        plots.plot_history(HISTORY, metrics=("precision",))
    with pytest.raises(ValueError):
        plots.plot_history({})
    with pytest.raises(ValueError):
        plots.plot_history({"loss": []}, metrics=("loss",))


def test_optimizer_comparison_and_learning_rates(tmp_path):
    curves = {"SGD": [1.0, 0.8, 0.7], "Adam": [1.0, 0.5, 0.3]}
    fig = plots.plot_optimizer_comparison(curves, title="Optimizers")
    render(fig, tmp_path, "opt.png")
    ax = fig.axes[0]
    assert ax.get_title() == "Optimizers" and ax.get_xlabel() == "epoch"
    assert "loss" in ax.get_ylabel() and ax.get_yscale() == "log"
    assert [ln.get_label() for ln in ax.lines] == ["SGD", "Adam"]
    assert list(ax.lines[0].get_xdata()) == [1, 2, 3]

    lrs = {1.0: [0.7, 5.0, np.inf], 0.0001: [0.7, 0.69, 0.68], 0.01: [0.7, 0.4, 0.2]}
    fig = plots.plot_learning_rates(lrs)
    render(fig, tmp_path, "lr.png")
    ax = fig.axes[0]
    assert [
        ln.get_label() for ln in ax.lines if not ln.get_label().startswith("_")
    ] == ["0.0001", "0.01", "1"]
    assert ax.get_legend().get_title().get_text() == "learning rate"
    assert any(t.get_text() == "diverged" for t in ax.texts)
    with pytest.raises(ValueError):
        plots.plot_optimizer_comparison({})
    with pytest.raises(ValueError):
        plots.plot_learning_rates({0.1: [[1.0, 2.0]]})


def test_loss_curves_with_baselines_and_a_legend_title(tmp_path):
    from wastelab.plots.curves import plot_loss_curves

    fig = plot_loss_curves(
        {"ReLU": [1.2, 0.8, 0.7], "no ReLU": [1.3, 1.1, 1.0]},
        title="First network",
        legend_title="network",
        baselines={"ln 2": float(np.log(2))},
    )
    render(fig, tmp_path, "losses.png")
    ax = fig.axes[0]
    assert ax.get_yscale() == "linear" and ax.get_title() == "First network"
    assert [ln.get_label() for ln in ax.lines] == ["ReLU", "no ReLU", "ln 2"]
    assert list(ax.lines[2].get_ydata()) == [np.log(2)] * 2  # a horizontal line
    assert ax.get_legend().get_title().get_text() == "network"
    fig = plots.plot_optimizer_comparison(
        {"SGD": [0.7, 0.6]}, log=False, baselines={"class shares": 0.5}
    )
    assert [ln.get_label() for ln in fig.axes[0].lines] == ["SGD", "class shares"]


# --------------------------------------------------------------------------- evaluation


def test_plot_confusion_matrix_counts_and_shares(tmp_path):
    cm = np.array([[50, 10], [5, 15]])
    fig = plots.plot_confusion_matrix(cm, ("other", "bottle"))
    render(fig, tmp_path)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "predicted" and ax.get_ylabel() == "true"
    assert ax.get_title() == "Confusion matrix"
    texts = [t.get_text() for t in ax.texts]
    assert texts == ["50\n(83.3%)", "10\n(16.7%)", "5\n(25.0%)", "15\n(75.0%)"]
    fig = plots.plot_confusion_matrix(
        cm, ("other", "bottle"), normalize=True, title="norm"
    )
    ax = fig.axes[0]
    assert ax.texts[0].get_text() == "83.3%\n(50)"
    np.testing.assert_allclose(ax.images[0].get_array(), cm / cm.sum(1, keepdims=True))


def test_plot_confusion_matrix_is_scikit_learns_display(tmp_path, monkeypatch):
    import sklearn.metrics

    drawn = []

    class Spy(sklearn.metrics.ConfusionMatrixDisplay):
        def plot(self, *args, **kwargs):
            drawn.append(self.confusion_matrix.copy())
            return super().plot(*args, **kwargs)

    monkeypatch.setattr(sklearn.metrics, "ConfusionMatrixDisplay", Spy)
    cm = np.array([[101, 17], [29, 3]])
    fig = plots.plot_confusion_matrix(cm, ("other", "bottle"), title="Test split")
    render(fig, tmp_path)
    assert len(drawn) == 1 and np.array_equal(drawn[0], cm)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["other", "bottle"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["other", "bottle"]
    bold = [t.get_text() for t in ax.texts if t.get_fontweight() == "bold"]
    assert bold == ["101\n(85.6%)", "3\n(9.4%)"]  # the diagonal: correct answers
    assert fig.axes[1].get_ylabel() == "images"  # the colour bar, labelled
    # drawn on a given axes (a panel of a larger figure): no new figure
    outer, axes = plt.subplots(1, 2)
    assert plots.plot_confusion_matrix(cm, ax=axes[1]) is outer
    assert axes[1].get_title() == "Confusion matrix"


@pytest.mark.parametrize(
    "cm, names",
    [
        (np.zeros((2, 3)), ("a", "b")),
        (np.zeros((2, 2)), ("a", "b", "c")),
        (np.array([[1, -1], [0, 2]]), ("a", "b")),
    ],
)
def test_plot_confusion_matrix_rejects_bad_input(cm, names):
    with pytest.raises(ValueError):
        plots.plot_confusion_matrix(cm, names)


def test_plot_precision_recall(tmp_path):
    y = np.array([0, 0, 1, 1, 0, 1, 0, 0, 1, 0])
    s = np.array([0.1, 0.4, 0.35, 0.8, 0.2, 0.9, 0.6, 0.05, 0.7, 0.3])
    fig = plots.plot_precision_recall(y, s, threshold=0.5)
    render(fig, tmp_path)
    ax = fig.axes[0]
    assert (
        ax.get_title()
        and "recall" in ax.get_xlabel()
        and "precision" in ax.get_ylabel()
    )
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert f"{average_precision_score(y, s):.2f}" in legend[0]
    assert "0.40" in legend[1]  # chance = positive share
    chance = next(ln for ln in ax.lines if ln.get_label().startswith("chance"))
    assert chance.get_ydata()[0] == pytest.approx(0.4)
    point = next(ln for ln in ax.lines if ln.get_label().startswith("threshold"))
    # scores >= 0.5: 0.8, 0.9, 0.6, 0.7 -> 3 bottles of 4 alarms, 3 of 4 bottles found
    assert (point.get_xdata()[0], point.get_ydata()[0]) == (0.75, 0.75)
    assert any("precision 0.75" in t.get_text() for t in ax.texts)
    two_columns = np.stack([1 - s, s], axis=1)
    fig2 = plots.plot_precision_recall(y, two_columns)
    assert len(fig2.axes[0].lines) == 2  # curve and chance line, no threshold point


@pytest.mark.parametrize(
    "y, s",
    [
        ([0, 0, 0], [0.1, 0.2, 0.3]),  # no positives
        ([0, 1, 2], [0.1, 0.2, 0.3]),  # not binary
        ([0, 1], [0.1, 0.2, 0.3]),  # lengths differ
    ],
)
def test_plot_precision_recall_rejects_bad_input(y, s):
    with pytest.raises(ValueError):
        plots.plot_precision_recall(y, s)


def test_plot_model_comparison(tmp_path):
    rows = {
        "MLP": {"precision": 0.5, "recall": 0.4, "f1": 0.44},
        "CNN": {"precision": 0.7, "recall": 0.6, "f1-score": 0.65},
    }
    ref = {"course CNN": {"precision": 0.74, "recall": 0.6, "f1": 0.66}}
    fig = plots.plot_model_comparison(rows, reference=ref, title="Models")
    render(fig, tmp_path)
    ax = fig.axes[0]
    assert ax.get_title() == "Models" and ax.get_xlabel() and ax.get_ylabel() == "model"
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        "MLP",
        "CNN",
        "course CNN (reference)",
    ]
    bars = ax.patches
    assert len(bars) == 9
    widths = sorted(round(b.get_width(), 2) for b in bars)
    assert widths == sorted([0.5, 0.4, 0.44, 0.7, 0.6, 0.65, 0.74, 0.6, 0.66])
    hatched = [b for b in bars if b.get_hatch()]
    assert sorted(round(b.get_width(), 2) for b in hatched) == [0.6, 0.66, 0.74]
    with pytest.raises(ValueError, match="recall"):
        plots.plot_model_comparison({"x": {"precision": 0.5, "f1": 0.5}})
    with pytest.raises(ValueError):
        plots.plot_model_comparison({"x": {"precision": 1.5, "recall": 0.5, "f1": 0.5}})
    with pytest.raises(ValueError):
        plots.plot_model_comparison({})


# --------------------------------------------------------------------------- data


def test_plot_class_balance_from_dict_and_splits(tmp_path):
    counts = {"train": {"other": 30, "bottle": 10}, "val": {"other": 3, "bottle": 1}}
    fig = plots.plot_class_balance(counts)
    render(fig, tmp_path)
    ax = fig.axes[0]
    assert ax.get_title() and ax.get_xlabel() == "split" and ax.get_ylabel() == "images"
    assert sorted(b.get_height() for b in ax.patches) == [1, 3, 10, 30]
    assert any(t.get_text().startswith("bottle: 25.0%") for t in ax.texts)

    x = RNG.integers(0, 256, (40, 6, 6, 1), dtype=np.uint8)
    y = np.array([0] * 30 + [1] * 10)
    splits = stratified_split(x, y, seed=1)
    fig = plots.plot_class_balance(splits)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["train", "val", "test"]
    assert sum(b.get_height() for b in ax.patches) == 40
    with pytest.raises(ValueError):
        plots.plot_class_balance({})
    with pytest.raises(ValueError):
        plots.plot_class_balance(counts, positive="can")


# --------------------------------------------------------------------------- convolutions


def test_plot_filters(tmp_path):
    kernels = RNG.normal(size=(3, 3, 2, 5))
    fig = plots.plot_filters(kernels, ncols=3, input_channel=1)
    render(fig, tmp_path)
    panels = [ax for ax in visible_axes(fig) if ax.get_title().startswith("filter")]
    assert len(panels) == 5
    np.testing.assert_allclose(panels[4].images[0].get_array(), kernels[:, :, 1, 4])
    norm = panels[0].images[0].norm
    assert norm.vmin == -norm.vmax  # centred at zero
    assert any(ax.get_ylabel() == "weight" for ax in fig.axes)  # the colorbar
    assert "input channel 1" in suptitle(fig)
    with pytest.raises(ValueError):
        plots.plot_filters(kernels[..., 0])
    with pytest.raises(ValueError):
        plots.plot_filters(kernels, input_channel=2)


def test_plot_feature_maps(tmp_path):
    maps = RNG.random((1, 6, 6, 5))
    fig = plots.plot_feature_maps(maps, ncols=4, title="Maps")
    render(fig, tmp_path)
    panels = visible_axes(fig)
    assert len(panels) == 5 and panels[2].get_title() == "map 2"
    assert suptitle(fig).startswith("Maps")
    fig = plots.plot_feature_maps(maps[0], max_maps=3)
    assert len(visible_axes(fig)) == 3 and "3 of 5" in suptitle(fig)
    with pytest.raises(ValueError):
        plots.plot_feature_maps(RNG.random((2, 6, 6, 5)))
    with pytest.raises(ValueError):
        plots.plot_feature_maps(RNG.random((6, 6)))


def _valid_conv(x, k):
    from numpy.lib.stride_tricks import sliding_window_view

    return (sliding_window_view(x, k.shape) * k).sum(axis=(-1, -2))


def test_plot_convolution_demo_valid_and_same(tmp_path):
    x = RNG.integers(0, 10, (5, 5))
    k = np.array([[1, 0], [0, -1]])
    out = _valid_conv(x, k)
    fig = plots.plot_convolution_demo(x, k, out, title="Conv", highlight=(1, 2))
    render(fig, tmp_path)
    inp, ker, res = fig.axes
    assert suptitle(fig) == "Conv"
    assert [ax.get_title() for ax in fig.axes] == [
        "input 5x5",
        "kernel 2x2",
        "output 4x4",
    ]
    assert len(inp.texts) == 25 and len(ker.texts) == 4 and len(res.texts) == 16
    assert [t.get_text() for t in res.texts] == [str(v) for v in out.ravel()]
    window = inp.patches[0]
    assert (window.get_x(), window.get_y()) == (2 - 0.5, 1 - 0.5)
    assert str(out[1, 2]) in res.get_xlabel()

    k3 = np.ones((3, 3)) / 9
    same = _valid_conv(np.pad(x.astype(float), 1), k3)
    fig = plots.plot_convolution_demo(x, k3, same, highlight=(0, 0))
    window = fig.axes[0].patches[0]
    assert (window.get_x(), window.get_y()) == (-1.5, -1.5)  # reaches into the padding


@pytest.mark.parametrize(
    "x, k, out, kwargs",
    [
        (
            np.zeros((5, 5)),
            np.zeros((3, 3)),
            np.zeros((4, 4)),
            {},
        ),  # neither valid nor same
        (np.zeros((5, 5)), np.zeros((6, 6)), np.zeros((1, 1)), {}),  # kernel too big
        (
            np.zeros((20, 20)),
            np.zeros((3, 3)),
            np.zeros((18, 18)),
            {},
        ),  # too many numbers
        (np.zeros((5, 5, 2)), np.zeros((3, 3)), np.zeros((3, 3)), {}),
        (np.zeros((5, 5)), np.zeros((3, 3)), np.zeros((3, 3)), {"highlight": (3, 0)}),
        (np.zeros((5, 5)), np.zeros((3, 3)), np.zeros((3, 3)), {"stride": 0}),
    ],
)
def test_plot_convolution_demo_rejects_bad_input(x, k, out, kwargs):
    with pytest.raises(ValueError):
        plots.plot_convolution_demo(x, k, out, **kwargs)


def test_plot_convolution_demo_stride_two():
    x = np.arange(25).reshape(5, 5)
    out = _valid_conv(x, np.ones((3, 3)))[::2, ::2]
    fig = plots.plot_convolution_demo(
        x, np.ones((3, 3)), out, stride=2, highlight=(1, 1)
    )
    assert (fig.axes[0].patches[0].get_x(), fig.axes[0].patches[0].get_y()) == (
        1.5,
        1.5,
    )


def _written(ax):
    return [t.get_text() for t in ax.texts]


def test_plot_pooling_writes_max_and_mean(tmp_path):
    from wastelab.plots.convolutions import plot_pooling

    x = np.array([[1, 3, 0, 2], [4, 2, 1, 0], [0, 1, 5, 6], [2, 0, 7, 1]])
    fig = plot_pooling(x, title="Pools")
    render(fig, tmp_path)
    assert suptitle(fig) == "Pools"
    inputs, max_ax, mean_ax = fig.axes
    assert len(_written(inputs)) == 16
    assert _written(max_ax) == ["4", "2", "2", "7"]
    assert _written(mean_ax) == ["2.50", "0.75", "0.75", "4.75"]
    assert max_ax.get_title() == "max pooled 2x2"
    assert [p.get_width() for p in inputs.patches] == [2]  # the highlighted tile
    assert [p.get_width() for p in max_ax.patches] == [1]


def test_plot_pooling_hatches_what_is_dropped(tmp_path):
    from wastelab.plots.convolutions import plot_pooling

    x = np.arange(35).reshape(5, 7) % 9
    fig = plot_pooling(x, highlight=(1, 2))
    render(fig, tmp_path)
    assert fig.axes[1].get_title() == "max pooled 2x3"
    hatched = [p for p in fig.axes[0].patches if p.get_hatch()]
    assert [(p.get_width(), p.get_height()) for p in hatched] == [(7, 1), (1, 5)]
    tile = [p for p in fig.axes[0].patches if not p.get_hatch()][0]
    assert (tile.get_x(), tile.get_y()) == (3.5, 1.5)
    assert len(plot_pooling(np.ones((4, 4)), highlight=None).axes[1].patches) == 0


@pytest.mark.parametrize(
    "x, kwargs",
    [
        (np.ones((4, 4)), {"size": 5}),
        (np.ones((4, 4)), {"size": 0}),
        (np.ones((17, 4)), {}),
        (np.ones((4, 4)), {"highlight": (2, 0)}),
        (np.ones((2, 2, 2)), {}),
    ],
)
def test_plot_pooling_rejects_bad_input(x, kwargs):
    from wastelab.plots.convolutions import plot_pooling

    with pytest.raises(ValueError):
        plot_pooling(x, **kwargs)


def _square_reach(size, side, top):
    reach = np.zeros((size, size))
    reach[top : top + side, top : top + side] = 1.0
    return reach


def test_plot_receptive_field_outlines_each_layer(tmp_path):
    from wastelab.plots.convolutions import plot_receptive_field

    image = RNG.integers(0, 256, (20, 20), dtype=np.uint8)
    reaches = {"conv1": _square_reach(20, 3, 8), "conv3": _square_reach(20, 9, 5)}
    reaches["conv3"][9, 9] = 4.0  # the centre reaches the unit along more paths
    fig = plot_receptive_field(image, reaches, title="Fields")
    render(fig, tmp_path)
    assert suptitle(fig) == "Fields"
    image_ax, reach_ax = fig.axes[:2]
    boxes = [(p.get_x(), p.get_y(), p.get_width()) for p in image_ax.patches]
    assert boxes == [(7.5, 7.5, 3), (4.5, 4.5, 9)]
    labels = [t.get_text() for t in image_ax.get_legend().get_texts()]
    assert labels == ["conv1: 3 x 3", "conv3: 9 x 9"]
    assert len(reach_ax.patches) == 1 and reach_ax.get_title() == "conv3: its reach"
    assert reach_ax.images[0].get_array().max() == 1.0  # scaled to a maximum of 1


@pytest.mark.parametrize(
    "image, reaches",
    [
        (np.zeros((6, 6)), {}),
        (np.zeros((6, 6)), {"a": np.zeros((5, 6))}),
        (np.zeros((6, 6)), {"a": np.zeros((6, 6))}),
        (np.zeros((6, 6, 3)), {"a": np.ones((6, 6))}),
    ],
)
def test_plot_receptive_field_rejects_bad_input(image, reaches):
    from wastelab.plots.convolutions import plot_receptive_field

    with pytest.raises(ValueError):
        plot_receptive_field(image, reaches)


# --------------------------------------------------------------------------- graphs


NODES = [
    {"name": "x", "op": "Placeholder", "inputs": []},
    {"name": "w", "op": "ReadVariableOp", "inputs": []},
    {"name": "matmul", "op": "MatMul", "inputs": ["x", "w"]},
    {"name": "b", "op": "ReadVariableOp", "inputs": []},
    {"name": "add", "op": "AddV2", "inputs": ["matmul", "b"]},
    {"name": "relu", "op": "Relu", "inputs": ["add"]},
    {"name": "out", "op": "Identity", "inputs": ["relu", "x"]},  # a skip edge
]


def _box_positions(fig):
    return {
        t.get_text().split("\n")[-1]: t.get_position()
        for t in fig.axes[0].texts
        if t.get_text()
    }


def test_plot_graph_layers_by_longest_path(tmp_path):
    fig = plots.plot_graph(NODES, title="A first network")
    render(fig, tmp_path)
    ax = fig.axes[0]
    assert ax.get_title() == "A first network"
    xs = {name: pos[0] for name, pos in _box_positions(fig).items()}
    assert xs["MatMul"] == 1 and xs["add"] == 2 and xs["Relu"] == 3 and xs["out"] == 4
    assert xs["x"] == 0 and xs["w"] == 0
    assert xs["b"] == 1  # a source sits just before its first consumer
    arrows = [t for t in ax.texts if not t.get_text()]
    assert len(arrows) == sum(len(n["inputs"]) for n in NODES)
    tb = plots.plot_graph(NODES, direction="TB", show_names=False)
    ys = {t.get_text(): t.get_position()[1] for t in tb.axes[0].texts if t.get_text()}
    assert ys["Relu"] < ys["MatMul"]  # top to bottom


@pytest.mark.parametrize(
    "nodes",
    [
        [],
        [{"name": "a", "op": "X", "inputs": ["b"]}],  # unknown input
        [
            {"name": "a", "op": "X", "inputs": []},
            {"name": "a", "op": "Y", "inputs": []},
        ],
        [
            {"name": "a", "op": "X", "inputs": ["b"]},
            {"name": "b", "op": "Y", "inputs": ["a"]},
        ],
        [{"op": "X"}],
    ],
)
def test_plot_graph_rejects_bad_graphs(nodes):
    with pytest.raises(ValueError):
        plots.plot_graph(nodes)


def test_tf_graph_nodes_from_a_real_tf_function(tmp_path):
    tf = pytest.importorskip("tensorflow")
    w = tf.Variable(tf.ones((4, 2)))
    b = tf.Variable(tf.zeros((2,)))

    @tf.function
    def forward(x):
        return tf.nn.softmax(tf.nn.relu(tf.matmul(x, w) + b))

    graph = forward.get_concrete_function(tf.TensorSpec((None, 4), tf.float32)).graph
    nodes = plots.tf_graph_nodes(graph)
    ops = {n["op"] for n in nodes}
    assert {
        "Placeholder",
        "Variable",
        "MatMul",
        "Relu",
        "Softmax",
        "ReadVariableOp",
    } <= ops
    assert sum(n["op"] == "Variable" for n in nodes) == 2  # w and b, captured handles
    assert "Const" not in ops and "NoOp" not in ops
    names = {n["name"] for n in nodes}
    assert all(i in names for n in nodes for i in n["inputs"])
    fig = plots.plot_graph(nodes, title="forward")
    render(fig, tmp_path)


def test_tf_graph_nodes_data_only_names_variables_and_bridges_hidden_ops():
    tf = pytest.importorskip("tensorflow")
    w = tf.Variable(tf.ones((4, 2)), name="W")

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.nn.relu(tf.matmul(tf.reshape(x, [-1, 4]), w)))
        w.assign_sub(0.1 * tape.gradient(loss, w))
        return loss

    spec = tf.TensorSpec((None, 2, 2), tf.float32, name="x")
    graph = step.get_concrete_function(spec).graph
    everything = plots.tf_graph_nodes(graph)
    nodes = plots.tf_graph_nodes(graph, data_only=True)
    ops = [n["op"] for n in nodes]
    names = [n["name"] for n in nodes]
    assert len(nodes) < len(everything)
    assert "W" in names and ops[names.index("W")] == "Variable"
    assert not {"ReadVariableOp", "Identity", "Shape", "Const"} & set(ops)
    assert {"MatMul", "Relu", "ReluGrad", "AssignSubVariableOp"} <= set(ops)
    forward = next(n for n in nodes if n["op"] == "MatMul" and "W" in n["inputs"])
    assert forward["inputs"][0] != "x"  # x reaches MatMul through the shown Reshape
    seen: set[str] = set()
    for node in nodes:  # edges only to nodes listed before
        assert set(node["inputs"]) <= seen
        seen.add(node["name"])
    update = next(n for n in nodes if n["op"] == "AssignSubVariableOp")
    assert update["inputs"][0] == "W"


# --------------------------------------------------------------------------- files, style


def test_save_figure_is_atomic(tmp_path, monkeypatch):
    fig = plots.plot_error_history([1.0, 0.5, 0.2])
    path = plots.save_figure(fig, tmp_path / "sub" / "error.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in path.parent.iterdir()) == ["error.png"]
    with pytest.raises(ValueError, match="png"):
        plots.save_figure(fig, tmp_path / "error.pdf")

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(fig, "savefig", broken)
    with pytest.raises(RuntimeError):
        plots.save_figure(fig, tmp_path / "broken.png")
    assert not list(tmp_path.glob("*broken*"))  # neither the file nor a temporary one


def test_no_global_style_change():
    before = dict(matplotlib.rcParams)
    plots.plot_history(HISTORY)
    plots.show_images(gray_images(2))
    with plots.book_style():
        assert matplotlib.rcParams["font.size"] == plots.BOOK_RC["font.size"]
    assert dict(matplotlib.rcParams) == before
