"""Every figure the book shows, drawn with matplotlib: numpy arrays and dicts in, a Figure out.

Each function draws on a new pyplot figure (or on an ``ax`` passed in) inside
:func:`book_style`, a ``matplotlib.rc_context``: nothing global changes on import or after
a call. The figure is returned, so in a notebook either end the cell with it *or* assign it
(``fig = show_images(...)``): pyplot shows every new figure at the end of a cell, and a
figure that is also the cell's value would show twice.

Colours come from the Okabe-Ito palette, which stays distinguishable with the common kinds
of colour blindness; mistakes are marked by colour *and* by a thick frame and a "✗", never
by colour alone.
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator

from .data.cache import atomic_write

# Okabe & Ito (2008): blue, vermillion, bluish green, reddish purple, orange, sky blue, black.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
MISTAKE_COLOR = "#D55E00"  # vermillion: reads as red, also to red-green colour-blind readers
CORRECT_COLOR = "#009E73"  # bluish green
NEUTRAL_COLOR = "#333333"
FIGSIZE = (8.0, 4.5)  # inches at 100 dpi: about the 700 px column of the book

BOOK_RC: dict[str, Any] = {
    "figure.figsize": FIGSIZE,
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "legend.fontsize": 10,
    "figure.titlesize": 13,
    "figure.titleweight": "bold",
    "axes.prop_cycle": plt.cycler(color=list(PALETTE)),
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": False,
    "grid.alpha": 0.3,
    "image.interpolation": "nearest",
    "lines.linewidth": 2.0,
}

_SMALL = 10  # the smallest font used anywhere (points)


@contextlib.contextmanager
def book_style() -> Iterator[None]:
    """Apply :data:`BOOK_RC` (fonts, palette, size) inside a ``with`` block only."""
    with plt.rc_context(BOOK_RC):
        yield
        # the inline backend switches interactive mode on when it loads, which may happen
        # inside this block; rc_context would switch it off again and hide later figures
        interactive = matplotlib.is_interactive()
    matplotlib.interactive(interactive)


def _new_figure(figsize: tuple[float, float] = FIGSIZE) -> Figure:
    return plt.figure(figsize=figsize, layout="constrained")


def _figure_and_axes(ax: Axes | None, figsize: tuple[float, float] = FIGSIZE
                     ) -> tuple[Figure, Axes]:
    if ax is not None:
        try:
            return ax.get_figure(root=True), ax  # matplotlib >= 3.10
        except TypeError:
            return ax.figure, ax
    fig = _new_figure(figsize)
    return fig, fig.add_subplot()


# --------------------------------------------------------------------------- images


def _as_images(images: np.ndarray, where: str = "images") -> np.ndarray:
    """(N, H, W) or (N, H, W, 1|3), uint8 or float in [0, 1] -> float (N, H, W, C) in [0, 1]."""
    arr = np.asarray(images)
    if arr.ndim == 3:
        arr = arr[..., None]
    if arr.ndim != 4 or arr.shape[-1] not in (1, 3) or arr.shape[0] == 0:
        raise ValueError(f"{where} must have shape (N, H, W, 1|3) with N >= 1, got {arr.shape}")
    return _to_unit(arr, where)


def _to_unit(arr: np.ndarray, where: str) -> np.ndarray:
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / 255.0
    if not np.issubdtype(arr.dtype, np.floating):
        raise ValueError(f"{where} must be uint8 or float in [0, 1], got dtype {arr.dtype}")
    lo, hi = float(np.nanmin(arr)), float(np.nanmax(arr))
    if lo < -1e-6 or hi > 1 + 1e-6:
        raise ValueError(
            f"{where}: float images must lie in [0, 1], found {lo:.3g}..{hi:.3g} "
            "(divide uint8-range floats by 255)"
        )
    return np.clip(arr, 0.0, 1.0)


def _draw_image(ax: Axes, img: np.ndarray) -> None:
    """Show one (H, W, C) float image in [0, 1]; grayscale with the gray colormap."""
    # "antialiased": large images shrunk to a small panel must not shimmer (moire)
    if img.shape[-1] == 1:
        ax.imshow(img[..., 0], cmap="gray", vmin=0.0, vmax=1.0, interpolation="antialiased")
    else:
        ax.imshow(img, interpolation="antialiased")


def _class_ids(values: Any, n: int, n_classes: int, what: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.shape != (n,):
        raise ValueError(f"{what} must have shape ({n},) like the images, got {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        if not (np.issubdtype(arr.dtype, np.floating) and np.all(arr == np.round(arr))):
            raise ValueError(
                f"{what} must be integer class ids, got dtype {arr.dtype} "
                "(for probabilities use probs.argmax(axis=1))"
            )
    ids = arr.astype(np.int64)
    if ids.size and (ids.min() < 0 or ids.max() >= n_classes):
        raise ValueError(f"{what} out of range [0, {n_classes - 1}]: {ids.min()}..{ids.max()}")
    return ids


def _frame(ax: Axes, color: str, width: float) -> None:
    for spine in ax.spines.values():
        spine.set_visible(True)
        spine.set_edgecolor(color)
        spine.set_linewidth(width)


def _hide_ticks(ax: Axes) -> None:
    """No ticks, and a thin grey frame on all four sides (for image panels)."""
    ax.set_xticks([])
    ax.set_yticks([])
    _frame(ax, "#BBBBBB", 0.6)


def show_images(
    images: np.ndarray,
    labels: Sequence[int] | np.ndarray | None = None,
    predictions: Sequence[int] | np.ndarray | None = None,
    class_names: Sequence[str] = ("other", "bottle"),
    ncols: int = 8,
    title: str = "Sample images",
) -> Figure:
    """Show images (N, H, W, C) in a grid, titled by label, or by prediction and truth.

    ``images`` are uint8 or float in [0, 1], grayscale (C = 1, or no channel axis) or RGB.
    ``labels`` and ``predictions`` are integer class ids (N,). With both, each image reads
    "pred: ... / true: ..."; a mistake gets a thick :data:`MISTAKE_COLOR` frame and title
    (with a ✗), a correct one a :data:`CORRECT_COLOR` title.
    """
    imgs = _as_images(images)
    n = imgs.shape[0]
    if ncols < 1:
        raise ValueError(f"ncols must be >= 1, got {ncols}")
    k = len(class_names)
    y = None if labels is None else _class_ids(labels, n, k, "labels")
    p = None if predictions is None else _class_ids(predictions, n, k, "predictions")
    cols = min(ncols, n)
    rows = math.ceil(n / cols)
    panel = min(8.0 / cols, 1.8)
    title_lines = 2 if (y is not None and p is not None) else (1 if (y is not None or p is not None)
                                                              else 0)
    aspect = imgs.shape[1] / imgs.shape[2]
    size = (panel * cols, rows * (panel * aspect + 0.2 * title_lines) + 0.5)
    with book_style():
        fig = _new_figure(size)
        axes = fig.subplots(rows, cols, squeeze=False)
        for i, ax in enumerate(axes.flat):
            if i >= n:
                ax.set_axis_off()
                continue
            _draw_image(ax, imgs[i])
            _hide_ticks(ax)
            if p is not None and y is not None:
                wrong = p[i] != y[i]
                text = f"pred: {class_names[p[i]]}\ntrue: {class_names[y[i]]}"
                if wrong:
                    _frame(ax, MISTAKE_COLOR, 3.5)
                    ax.set_title("✗ " + text, color=MISTAKE_COLOR, fontsize=_SMALL,
                                 fontweight="bold")
                else:
                    ax.set_title(text, color=CORRECT_COLOR, fontsize=_SMALL)
            elif p is not None:
                ax.set_title(f"pred: {class_names[p[i]]}", fontsize=_SMALL)
            elif y is not None:
                ax.set_title(class_names[y[i]], fontsize=_SMALL)
        if p is not None and y is not None:
            wrong_count = int(np.sum(p != y))
            title = f"{title}: {wrong_count} of {n} wrong"
        fig.suptitle(title)
    return fig


def _format_value(value: float, integral: bool) -> str:
    return f"{int(round(value))}" if integral else f"{value:.2f}"


def _write_values(ax: Axes, arr: np.ndarray, fontsize: float, vmin: float, vmax: float,
                  dark_low: bool = True) -> None:
    """Write each value of a 2-D array in its cell, white on dark cells, black on light ones."""
    integral = bool(np.all(arr == np.round(arr)))
    span = (vmax - vmin) or 1.0
    for (r, c), value in np.ndenumerate(arr):
        level = (value - vmin) / span
        dark = level < 0.5 if dark_low else abs(level - 0.5) > 0.3
        ax.text(c, r, _format_value(float(value), integral), ha="center", va="center",
                fontsize=fontsize, color="white" if dark else "black")


def _value_fontsize(cell_inches: float, arr: np.ndarray) -> float:
    """A font size (points) at which the widest value still fits in its cell."""
    integral = bool(np.all(arr == np.round(arr)))
    chars = max(len(_format_value(float(v), integral)) for v in arr.flat)
    return float(np.clip(cell_inches * 72 * 0.9 / (0.62 * chars), 8, 13))


def _as_2d(image: np.ndarray, what: str) -> np.ndarray:
    arr = np.asarray(image)
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim != 2 or 0 in arr.shape:
        raise ValueError(f"{what} must have shape (H, W) or (H, W, 1), got {np.shape(image)}")
    return arr


def show_image_as_numbers(
    image: np.ndarray,
    region: tuple[slice, slice] | None = None,
    size: int = 8,
    title: str = "An image is a grid of numbers",
) -> Figure:
    """Show a grayscale image (H, W) or (H, W, 1) beside a zoomed crop with its pixel values.

    ``region`` is ``(rows, cols)`` as two slices; without it, a ``size`` x ``size`` crop from
    the middle of the image. The crop is at most 16 x 16 pixels so the numbers stay readable.
    """
    img = _as_2d(image, "image")
    h, w = img.shape
    if region is None:
        if size < 1:
            raise ValueError(f"size must be >= 1, got {size}")
        s = min(size, h, w)
        r0, c0 = (h - s) // 2, (w - s) // 2
        region = (slice(r0, r0 + s), slice(c0, c0 + s))
    if len(region) != 2 or not all(isinstance(s, slice) for s in region):
        raise ValueError(f"region must be (slice, slice), got {region!r}")
    (r0, r1, rs), (c0, c1, cs) = region[0].indices(h), region[1].indices(w)
    if rs != 1 or cs != 1 or r1 <= r0 or c1 <= c0:
        raise ValueError(f"region {region!r} selects no contiguous pixels of an image {img.shape}")
    crop = img[r0:r1, c0:c1]
    if max(crop.shape) > 16:
        raise ValueError(f"region {crop.shape} is too large to write its values: 16 x 16 at most")
    vmax = 255.0 if img.dtype == np.uint8 else max(1.0, float(img.max()))
    vmin = 0.0 if img.dtype == np.uint8 else min(0.0, float(img.min()))
    with book_style():
        fig = _new_figure()
        left, right = fig.subplots(1, 2, width_ratios=[1, 1.5])
        left.imshow(img, cmap="gray", vmin=vmin, vmax=vmax)
        left.add_patch(Rectangle((c0 - 0.5, r0 - 0.5), c1 - c0, r1 - r0, fill=False,
                                 edgecolor=PALETTE[4], linewidth=2.5))
        left.set_title(f"the image, {h} x {w} pixels")
        left.set_xlabel("column")
        left.set_ylabel("row")
        right.imshow(crop, cmap="gray", vmin=vmin, vmax=vmax,
                     extent=(c0 - 0.5, c1 - 0.5, r1 - 0.5, r0 - 0.5))
        cell = 3.9 / max(crop.shape)  # inches: the right panel is about 4 inches wide
        fontsize = _value_fontsize(cell, crop)
        for (r, c), value in np.ndenumerate(crop):
            dark = (value - vmin) / ((vmax - vmin) or 1.0) < 0.5
            right.text(c0 + c, r0 + r, _format_value(float(value), img.dtype == np.uint8
                                                      or np.all(crop == np.round(crop))),
                       ha="center", va="center", fontsize=fontsize,
                       color="white" if dark else "black")
        right.set_title(f"rows {r0}-{r1 - 1}, columns {c0}-{c1 - 1} (orange box)")
        right.set_xlabel("column")
        right.set_ylabel("row")
        _integer_ticks(right, c0, c1, r0, r1)
        fig.suptitle(title)
    return fig


def _integer_ticks(ax: Axes, c0: int, c1: int, r0: int, r1: int) -> None:
    step_c = max(1, (c1 - c0) // 8)
    step_r = max(1, (r1 - r0) // 8)
    ax.set_xticks(range(c0, c1, step_c))
    ax.set_yticks(range(r0, r1, step_r))


def plot_channels(rgb_image: np.ndarray, title: str = "One colour image, four arrays") -> Figure:
    """Show an RGB image (H, W, 3), its red, green and blue channels, and its grayscale version.

    Each channel is drawn in its own colour (the other two set to zero); grayscale uses the
    ITU-R 601 weights 0.299 R + 0.587 G + 0.114 B, as Pillow's ``convert("L")`` does.
    """
    arr = np.asarray(rgb_image)
    if arr.ndim != 3 or arr.shape[-1] != 3 or 0 in arr.shape:
        raise ValueError(f"rgb_image must have shape (H, W, 3), got {arr.shape}")
    img = _to_unit(arr, "rgb_image")
    gray = img @ np.array([0.299, 0.587, 0.114])
    panel = 8.0 / 5
    with book_style():
        fig = _new_figure((8.0, panel * arr.shape[0] / arr.shape[1] + 0.95))
        axes = fig.subplots(1, 5)
        axes[0].imshow(img)
        axes[0].set_title("colour (RGB)")
        for k, name in enumerate(("red", "green", "blue")):
            only = np.zeros_like(img)
            only[..., k] = img[..., k]
            axes[k + 1].imshow(only)
            axes[k + 1].set_title(f"{name} channel")
        axes[4].imshow(gray, cmap="gray", vmin=0, vmax=1)
        axes[4].set_title("grayscale")
        for ax in axes:
            _hide_ticks(ax)
        fig.suptitle(f"{title} ({arr.shape[0]} x {arr.shape[1]} pixels)")
    return fig


# --------------------------------------------------------------------------- neurons


def plot_activations(
    functions: Mapping[str, tuple[Callable[[np.ndarray], np.ndarray],
                                  Callable[[np.ndarray], np.ndarray]]],
    z: np.ndarray | None = None,
    title: str = "Activation functions and their derivatives",
) -> Figure:
    """One panel per activation: ``f(z)`` and its derivative ``df(z)`` on the same axes.

    ``functions`` maps a name to ``(f, df)``, both vectorised over a 1-D ``z``
    (default ``np.linspace(-5, 5, 401)``).
    """
    if not functions:
        raise ValueError("functions must name at least one activation")
    z = np.linspace(-5, 5, 401) if z is None else np.asarray(z, dtype=float)
    if z.ndim != 1 or z.size < 2:
        raise ValueError(f"z must be a 1-D array of at least 2 points, got shape {z.shape}")
    curves = {}
    for name, pair in functions.items():
        if len(pair) != 2 or not all(callable(f) for f in pair):
            raise ValueError(f"functions[{name!r}] must be a pair (f, df) of callables")
        f, df = (np.broadcast_to(np.asarray(g(z), dtype=float), z.shape) for g in pair)
        curves[name] = (f, df)
    cols = min(len(curves), 4)
    rows = math.ceil(len(curves) / cols)
    with book_style():
        fig = _new_figure((8.0, 1.0 + rows * (2.9 if cols > 2 else 3.6)))
        axes = fig.subplots(rows, cols, squeeze=False, sharex=True)
        for i, ax in enumerate(axes.flat):
            if i >= len(curves):
                ax.set_axis_off()
                continue
            name, (f, df) = list(curves.items())[i]
            ax.axhline(0, color="#999999", linewidth=0.8, zorder=0)
            ax.axvline(0, color="#999999", linewidth=0.8, zorder=0)
            ax.plot(z, f, color=PALETTE[0], label="function f(z)")
            ax.plot(z, df, color=PALETTE[1], linestyle="--", label="derivative f'(z)")
            ax.set_title(name)
            ax.set_xlabel("z")
            if i % cols == 0:
                ax.set_ylabel("value")
            ax.grid(True)
        fig.legend(*axes.flat[0].get_legend_handles_labels(), loc="outside lower center",
                   ncols=2, frameon=False)
        fig.suptitle(title)
    return fig


def plot_softmax(
    logits: Sequence[float] | np.ndarray,
    probs: Sequence[float] | np.ndarray | None = None,
    class_labels: Sequence[str] = ("other", "bottle"),
    title: str = "Softmax turns scores into probabilities",
) -> Figure:
    """Bar charts of one example's logits (K,) and their softmax probabilities (K,).

    Without ``probs`` they are computed (stable softmax).
    """
    z = np.asarray(logits, dtype=float)
    if z.ndim != 1 or z.size == 0 or len(class_labels) != z.size:
        raise ValueError(
            f"logits must be 1-D with one value per class label ({len(class_labels)}), "
            f"got shape {z.shape}"
        )
    if probs is None:
        e = np.exp(z - z.max())
        p = e / e.sum()
    else:
        p = np.asarray(probs, dtype=float)
        if p.shape != z.shape:
            raise ValueError(f"probs must have the shape of logits {z.shape}, got {p.shape}")
        if np.any(p < 0) or not np.isclose(p.sum(), 1.0, atol=1e-3):
            raise ValueError(f"probs must be non-negative and sum to 1, got sum {p.sum():.4f}")
    x = np.arange(z.size)
    with book_style():
        fig = _new_figure()
        left, right = fig.subplots(1, 2)
        colors = [PALETTE[i % len(PALETTE)] for i in range(z.size)]
        left.bar(x, z, color=colors)
        left.axhline(0, color="#666666", linewidth=0.8)
        left.set_title("logits (any real number)")
        left.set_ylabel("logit")
        right.bar(x, p, color=colors)
        right.set_ylim(0, 1.12)
        right.set_title("softmax probabilities (sum to 1)")
        right.set_ylabel("probability")
        for xi, pi in zip(x, p, strict=True):
            right.annotate(f"{pi:.2f}", (xi, pi), xytext=(0, 3), textcoords="offset points",
                           ha="center", va="bottom")
        for xi, zi in zip(x, z, strict=True):
            left.annotate(f"{zi:.2f}", (xi, zi), xytext=(0, 3 if zi >= 0 else -3),
                          textcoords="offset points", ha="center",
                          va="bottom" if zi >= 0 else "top")
        lo, hi = min(0.0, z.min()), max(0.0, z.max())
        pad = 0.2 * ((hi - lo) or 1.0)
        left.set_ylim(lo - pad, hi + pad)
        for ax in (left, right):
            ax.set_xticks(x, list(class_labels))
            ax.set_xlabel("class")
        fig.suptitle(title)
    return fig


def plot_error_history(
    errors: Sequence[float] | np.ndarray,
    title: str = "Training error of the neuron",
    log: bool = True,
    ylabel: str = "error",
    ax: Axes | None = None,
) -> Figure:
    """Plot an error (or loss) per training step (n_steps,), on a log scale by default.

    The log scale is used only when every value is positive.
    """
    e = np.asarray(errors, dtype=float)
    if e.ndim != 1 or e.size == 0:
        raise ValueError(f"errors must be a non-empty 1-D sequence, got shape {e.shape}")
    steps = np.arange(e.size)
    with book_style():
        fig, ax = _figure_and_axes(ax)
        ax.plot(steps, e, color=PALETTE[0], linewidth=2.0 if e.size <= 500 else 1.0)
        finite = np.isfinite(e)
        if log and finite.any() and np.all(e[finite] > 0):
            ax.set_yscale("log")
        if finite[-1]:
            ax.annotate(f"final: {e[-1]:.3g}", xy=(steps[-1], e[-1]), xytext=(-30, 35),
                        textcoords="offset points", ha="right",
                        arrowprops={"arrowstyle": "->", "color": NEUTRAL_COLOR})
        ax.set_xlabel("step")
        ax.set_ylabel(ylabel + (" (log scale)" if ax.get_yscale() == "log" else ""))
        ax.set_title(title)
        ax.grid(True, which="major")
    return fig


# --------------------------------------------------------------------------- training


_LOWER_IS_BETTER = ("loss", "error", "mse", "mae", "crossentropy")
_PRETTY = {"accuracy": "accuracy", "acc": "accuracy", "f1": "F1", "f1_score": "F1",
           "auc": "AUC", "precision": "precision", "recall": "recall", "loss": "loss"}


def _series(values: Any, key: str) -> tuple[np.ndarray, str]:
    """A history entry as (epochs,) floats; per-class vectors keep the last (positive) class."""
    arr = np.asarray(values, dtype=float)
    if arr.ndim == 2:
        return arr[:, -1], f" (class {arr.shape[1] - 1})"
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"history[{key!r}] must be a non-empty list of numbers, got {arr.shape}")
    return arr, ""


def plot_history(
    history: Mapping[str, Sequence[float]] | Any,
    metrics: Sequence[str] | None = ("loss", "accuracy"),
    title: str = "Training history",
) -> Figure:
    """One panel per metric: training and validation (``val_`` prefix) per epoch (from 1).

    ``history`` is a dict of per-epoch lists (or a Keras ``History``; its ``.history`` is
    used). A metric may be present for training, validation or both (e.g. only ``val_f1``).
    The best validation epoch (lowest for losses, highest otherwise) is starred.
    ``metrics=None`` plots every metric found.
    """
    hist = getattr(history, "history", history)
    if not isinstance(hist, Mapping) or not hist:
        raise ValueError("history must be a non-empty dict of per-epoch lists")
    if metrics is None:
        metrics = list(dict.fromkeys(k.removeprefix("val_") for k in hist))
    metrics = list(metrics)
    if not metrics:
        raise ValueError("metrics must name at least one metric")
    for m in metrics:
        if m not in hist and f"val_{m}" not in hist:
            raise ValueError(f"metric {m!r} not in history; it has {sorted(hist)}")
    with book_style():
        cols = len(metrics) if len(metrics) <= 3 else 2
        n_rows = math.ceil(len(metrics) / cols)
        fig = _new_figure((8.0, 3.8 if n_rows == 1 else 3.2 * n_rows + 0.4))
        axes = fig.subplots(n_rows, cols, squeeze=False)
        for ax in axes.flat[len(metrics):]:
            ax.set_axis_off()
        for ax, m in zip(axes.flat, metrics, strict=False):
            pretty = _PRETTY.get(m, m.replace("_", " "))
            lower_better = any(tag in m.lower() for tag in _LOWER_IS_BETTER)
            n_epochs = 0
            if m in hist:
                y, note = _series(hist[m], m)
                ep = np.arange(1, y.size + 1)
                ax.plot(ep, y, color=PALETTE[0], marker="o", markersize=3,
                        label="training" + note)
                n_epochs = y.size
            if f"val_{m}" in hist:
                y, note = _series(hist[f"val_{m}"], f"val_{m}")
                ep = np.arange(1, y.size + 1)
                ax.plot(ep, y, color=PALETTE[1], linestyle="--", marker="s", markersize=3,
                        label="validation" + note)
                n_epochs = max(n_epochs, y.size)
                if np.isfinite(y).any():
                    best = int(np.nanargmin(y) if lower_better else np.nanargmax(y))
                    ax.plot(ep[best], y[best], marker="*", markersize=16, color=PALETTE[1],
                            markeredgecolor="black", linestyle="none",
                            label=f"best: {y[best]:.3g} (epoch {best + 1})")
            ax.set_title(pretty + (" (lower is better)" if lower_better else ""))
            ax.set_xlabel("epoch")
            ax.set_ylabel(pretty)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=6))
            ax.set_xlim(0.5, n_epochs + 0.5)
            ax.grid(True)
            ax.legend(frameon=True, framealpha=0.85)
        fig.suptitle(title)
    return fig


def _plot_curves(curves: Mapping[str, Sequence[float]], title: str, log: bool, xlabel: str,
                 ylabel: str, legend_title: str | None, ax: Axes | None) -> Figure:
    """Several loss curves on one axes, each from x = 1; a curve that blows up is marked."""
    if not curves:
        raise ValueError("need at least one curve to plot")
    data = {}
    for name, values in curves.items():
        y = np.asarray(values, dtype=float)
        if y.ndim != 1 or y.size == 0:
            raise ValueError(f"curve {name!r} must be a non-empty 1-D sequence, got {y.shape}")
        data[name] = y
    styles = ("-", "--", "-.", ":")
    with book_style():
        fig, ax = _figure_and_axes(ax)
        all_finite = np.concatenate([y[np.isfinite(y)] for y in data.values()])
        use_log = log and all_finite.size > 0 and bool(np.all(all_finite > 0))
        for i, (name, y) in enumerate(data.items()):
            color = PALETTE[i % len(PALETTE)]
            x = np.arange(1, y.size + 1)
            ax.plot(x, y, color=color, linestyle=styles[i % len(styles)], label=str(name))
            bad = ~np.isfinite(y)
            if bad.any():
                last = int(np.argmax(bad)) - 1
                if last >= 0:
                    ax.plot(x[last], y[last], marker="X", markersize=11, color=color,
                            markeredgecolor="black")
                    ax.annotate("diverged", xy=(x[last], y[last]), xytext=(6, 6),
                                textcoords="offset points", color=color)
        if use_log:
            ax.set_yscale("log")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel + (" (log scale)" if use_log else ""))
        ax.set_title(title)
        ax.grid(True)
        ax.legend(title=legend_title, frameon=False)
    return fig


def plot_optimizer_comparison(
    histories: Mapping[str, Sequence[float]],
    title: str = "Optimizers compared",
    log: bool = True,
    xlabel: str = "epoch",
    ax: Axes | None = None,
) -> Figure:
    """Loss per epoch (or step) for several optimizers, ``{name: losses}``, on one axes."""
    return _plot_curves(histories, title, log, xlabel, "loss", "optimizer", ax)


def plot_learning_rates(
    histories: Mapping[float | str, Sequence[float]],
    title: str = "Learning rate: too low, about right, too high",
    log: bool = True,
    xlabel: str = "epoch",
    ax: Axes | None = None,
) -> Figure:
    """Loss per epoch (or step) for several learning rates, ``{lr: losses}``, on one axes."""
    def key(lr: float | str) -> float:
        try:
            return float(lr)
        except ValueError:
            return math.inf

    ordered = {f"{lr:g}" if isinstance(lr, int | float) else str(lr): histories[lr]
               for lr in sorted(histories, key=key)}
    return _plot_curves(ordered, title, log, xlabel, "loss", "learning rate", ax)


# --------------------------------------------------------------------------- evaluation


def plot_confusion_matrix(
    cm: np.ndarray,
    class_names: Sequence[str] = ("other", "bottle"),
    normalize: bool = False,
    title: str = "Confusion matrix",
    ax: Axes | None = None,
) -> Figure:
    """Draw a confusion matrix (K, K) (rows: true class, columns: predicted class).

    Each cell shows its count and its share of the row (the true class). With
    ``normalize=True`` the colours follow the row shares instead of the counts.
    """
    m = np.asarray(cm)
    k = len(class_names)
    if m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape[0] != k:
        raise ValueError(f"cm must be ({k}, {k}) for classes {list(class_names)}, got {m.shape}")
    if np.any(m < 0):
        raise ValueError("cm must hold non-negative counts")
    rows = m.sum(axis=1, keepdims=True)
    share = np.divide(m, rows, out=np.zeros(m.shape, dtype=float), where=rows > 0)
    shown = share if normalize else m.astype(float)
    vmax = 1.0 if normalize else max(float(m.max()), 1.0)
    side = min(4.5, 1.6 + 1.1 * k)
    with book_style():
        fig, ax = _figure_and_axes(ax, (side + 1.4, side))
        im = ax.imshow(shown, cmap="Blues", vmin=0, vmax=vmax)
        fontsize = 13 if k <= 3 else (11 if k <= 6 else _SMALL)
        for (r, c), count in np.ndenumerate(m):
            integral = float(count) == round(float(count))
            number = f"{int(count)}" if integral else f"{count:.3g}"
            text = f"{share[r, c]:.1%}\n({number})" if normalize else \
                f"{number}\n({share[r, c]:.1%})"
            dark = shown[r, c] / vmax > 0.55
            ax.text(c, r, text, ha="center", va="center", fontsize=fontsize,
                    color="white" if dark else "black",
                    fontweight="bold" if r == c else "normal")
        ax.set_xticks(range(k), list(class_names))
        ax.set_yticks(range(k), list(class_names))
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(title)
        for spine in ax.spines.values():
            spine.set_visible(False)
        cbar = fig.colorbar(im, ax=ax, shrink=0.85)
        cbar.set_label("share of the true class" if normalize else "images")
    return fig


def plot_precision_recall(
    y_true: Sequence[int] | np.ndarray,
    scores: Sequence[float] | np.ndarray,
    threshold: float | None = None,
    title: str = "Precision and recall for the bottle class",
    ax: Axes | None = None,
) -> Figure:
    """Precision-recall curve of binary labels (N,) against scores (N,) for the positive class.

    ``scores`` may also be class probabilities (N, 2): column 1 is used. The chance line is
    the positive share; ``threshold`` marks the point ``scores >= threshold``.
    """
    from sklearn.metrics import average_precision_score, precision_recall_curve

    y = np.asarray(y_true)
    s = np.asarray(scores, dtype=float)
    if s.ndim == 2 and s.shape[1] == 2:
        s = s[:, 1]
    if y.ndim != 1 or s.shape != y.shape or y.size == 0:
        raise ValueError(f"y_true (N,) and scores (N,) must match, got {y.shape} and {s.shape}")
    if not np.all(np.isin(y, (0, 1))):
        raise ValueError(f"y_true must hold 0/1 labels, found {np.unique(y)[:10]}")
    if y.sum() == 0:
        raise ValueError("y_true has no positive example: precision and recall are undefined")
    precision, recall, _ = precision_recall_curve(y, s)
    ap = average_precision_score(y, s)
    base = float(y.mean())
    with book_style():
        fig, ax = _figure_and_axes(ax, (6.5, 4.8))
        ax.plot(recall, precision, drawstyle="steps-post", color=PALETTE[0],
                label=f"model (average precision {ap:.2f})")
        ax.axhline(base, color="#777777", linestyle="--",
                   label=f"chance (positive share {base:.2f})")
        if threshold is not None:
            pred = s >= threshold
            tp = int(np.sum(pred & (y == 1)))
            p_at = tp / pred.sum() if pred.sum() else 1.0
            r_at = tp / int(y.sum())
            ax.plot(r_at, p_at, marker="o", markersize=11, color=PALETTE[1],
                    markeredgecolor="black", linestyle="none",
                    label=f"threshold {threshold:.2f}")
            ax.annotate(f"threshold {threshold:.2f}\nprecision {p_at:.2f}\nrecall {r_at:.2f}",
                        xy=(r_at, p_at), xytext=(-20 if r_at > 0.5 else 20,
                                                 -40 if p_at > 0.5 else 40),
                        textcoords="offset points", ha="right" if r_at > 0.5 else "left",
                        arrowprops={"arrowstyle": "->", "color": NEUTRAL_COLOR},
                        bbox={"boxstyle": "round", "fc": "white", "ec": "#999999"})
        ax.set_xlim(0, 1.02)
        ax.set_ylim(0, 1.05)
        ax.set_xlabel("recall (share of bottles found)")
        ax.set_ylabel("precision (share of alarms right)")
        ax.set_title(title)
        ax.grid(True)
        ax.legend(loc="lower left", frameon=True)
    return fig


def plot_model_comparison(
    rows: Mapping[str, Mapping[str, float]],
    reference: Mapping[str, Mapping[str, float]] | None = None,
    title: str = "Bottle class: precision, recall and F1 per model",
) -> Figure:
    """Grouped horizontal bars of precision, recall and F1 per model, in [0, 1].

    ``rows`` maps a model name to ``{"precision", "recall", "f1"}`` (``"f1-score"`` as in
    scikit-learn's report works too). ``reference`` rows (e.g. a published result) are
    hatched, drawn below a line and marked "(reference)".
    """
    reference = dict(reference or {})
    if not rows and not reference:
        raise ValueError("rows must name at least one model")
    names = ["precision", "recall", "f1"]
    table: list[tuple[str, np.ndarray, bool]] = []
    for group, is_ref in ((rows, False), (reference, True)):
        for model, scores in group.items():
            vals = []
            for metric in names:
                value = scores.get(metric, scores.get("f1-score") if metric == "f1" else None)
                if value is None:
                    raise ValueError(f"model {model!r} lacks {metric!r}: has {sorted(scores)}")
                if not 0.0 <= float(value) <= 1.0:
                    raise ValueError(f"model {model!r}: {metric} must lie in [0, 1], got {value}")
                vals.append(float(value))
            label = f"{model} (reference)" if is_ref else str(model)
            table.append((label, np.array(vals), is_ref))
    n = len(table)
    bar_h = 0.26
    with book_style():
        fig = _new_figure((8.0, min(1.2 + 0.95 * n, 12)))
        ax = fig.add_subplot()
        y = np.arange(n)[::-1].astype(float)
        for j, metric in enumerate(names):
            offsets = y + (1 - j) * bar_h
            for yi, (_, vals, is_ref) in zip(offsets, table, strict=True):
                ax.barh(yi, vals[j], height=bar_h * 0.92, color=PALETTE[j],
                        hatch="//" if is_ref else None, alpha=0.55 if is_ref else 1.0,
                        edgecolor="black" if is_ref else PALETTE[j],
                        label=("F1" if metric == "f1" else metric) if yi == offsets[0] else None)
                ax.text(vals[j] + 0.01, yi, f"{vals[j]:.2f}", va="center", fontsize=_SMALL)
        n_ref = sum(is_ref for *_, is_ref in table)
        if n_ref and n_ref < n:
            ax.axhline(y[n - n_ref] + 0.5, color="#777777", linestyle=":", linewidth=1.2)
        ax.set_yticks(y, [label for label, *_ in table])
        for tick, (*_, is_ref) in zip(ax.get_yticklabels(), table, strict=True):
            if is_ref:
                tick.set_fontstyle("italic")
        ax.set_xlim(0, 1.1)
        ax.set_xticks(np.linspace(0, 1, 6))
        ax.set_xlabel("score on the bottle class (1 is perfect)")
        ax.set_ylabel("model")
        ax.set_title(title)
        ax.grid(True, axis="x")
        fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncols=3,
                   frameon=False)
    return fig


# --------------------------------------------------------------------------- data


def plot_class_balance(
    counts: Mapping[str, Mapping[str, int]] | Any,
    title: str = "Images per class and split",
    positive: str | None = None,
) -> Figure:
    """Grouped bars of images per class for each split, with the positive class's share.

    ``counts`` is ``{split: {class: count}}`` or a ``Splits``-like object (with
    ``class_names`` and ``split(name)``). ``positive`` defaults to ``"bottle"`` when present,
    else the last class.
    """
    if hasattr(counts, "split") and hasattr(counts, "class_names"):
        classes = list(counts.class_names)
        table = {}
        for name in ("train", "val", "test"):
            _, y = counts.split(name)
            table[name] = {c: int(np.sum(np.asarray(y) == i)) for i, c in enumerate(classes)}
    elif isinstance(counts, Mapping) and counts:
        table = {str(s): dict(v) for s, v in counts.items()}
        classes = list(dict.fromkeys(c for v in table.values() for c in v))
    else:
        raise ValueError("counts must be a non-empty {split: {class: count}} dict or a Splits")
    if not classes:
        raise ValueError("counts names no class")
    for split, row in table.items():
        if any(int(row.get(c, 0)) < 0 for c in classes):
            raise ValueError(f"split {split!r} has a negative count: {row}")
    positive = positive or ("bottle" if "bottle" in classes else classes[-1])
    if positive not in classes:
        raise ValueError(f"positive class {positive!r} not among {classes}")
    splits = list(table)
    x = np.arange(len(splits), dtype=float)
    width = 0.8 / len(classes)
    with book_style():
        fig = _new_figure((8.0, 4.2))
        ax = fig.add_subplot()
        tops = np.zeros(len(splits))
        for j, cls in enumerate(classes):
            vals = np.array([int(table[s].get(cls, 0)) for s in splits])
            pos = x + (j - (len(classes) - 1) / 2) * width
            ax.bar(pos, vals, width * 0.95, color=PALETTE[j % len(PALETTE)], label=cls,
                   hatch="//" if cls == positive else None, edgecolor="white")
            for px, v in zip(pos, vals, strict=True):
                ax.text(px, v, f"{v:,}", ha="center", va="bottom", fontsize=_SMALL)
            tops = np.maximum(tops, vals)
        ymax = float(tops.max()) or 1.0
        for xi, s in zip(x, splits, strict=True):
            total = sum(int(table[s].get(c, 0)) for c in classes)
            share = int(table[s].get(positive, 0)) / total if total else 0.0
            ax.text(xi, tops[int(xi)] + 0.12 * ymax, f"{positive}: {share:.1%}\nof {total:,}",
                    ha="center", va="bottom", fontweight="bold")
        ax.set_ylim(0, ymax * 1.45)
        ax.set_xticks(x, splits)
        ax.set_xlabel("split")
        ax.set_ylabel("images")
        ax.set_title(title)
        ax.legend(title="class", frameon=False, loc="upper right")
    return fig


# --------------------------------------------------------------------------- convolutions


def plot_filters(
    kernels: np.ndarray,
    ncols: int = 8,
    input_channel: int = 0,
    title: str = "Learned filters of a convolution layer",
) -> Figure:
    """Show a conv layer's kernels (kh, kw, in, out), one panel per filter, for one input channel.

    Colours are diverging and centred at 0 (one scale for all filters, see the colorbar):
    orange weights add up bright pixels, purple ones subtract them.
    """
    k = np.asarray(kernels, dtype=float)
    if k.ndim != 4 or 0 in k.shape:
        raise ValueError(f"kernels must have shape (kh, kw, in, out), got {k.shape}")
    if not 0 <= input_channel < k.shape[2]:
        raise ValueError(f"input_channel must be in [0, {k.shape[2] - 1}], got {input_channel}")
    if ncols < 1:
        raise ValueError(f"ncols must be >= 1, got {ncols}")
    n = k.shape[3]
    cols = min(ncols, n)
    rows = math.ceil(n / cols)
    lim = float(np.abs(k[:, :, input_channel, :]).max()) or 1.0
    panel = min(7.0 / cols, 1.4)
    with book_style():
        fig = _new_figure((panel * cols + 1.0, rows * (panel + 0.25) + 0.6))
        axes = fig.subplots(rows, cols, squeeze=False)
        im = None
        for i, ax in enumerate(axes.flat):
            if i >= n:
                ax.set_axis_off()
                continue
            im = ax.imshow(k[:, :, input_channel, i], cmap="PuOr_r", vmin=-lim, vmax=lim)
            _hide_ticks(ax)
            ax.set_title(f"filter {i}", fontsize=_SMALL)
        cbar = fig.colorbar(im, ax=axes, shrink=0.8)
        cbar.set_label("weight")
        fig.suptitle(f"{title} ({k.shape[0]}x{k.shape[1]}, input channel {input_channel})")
    return fig


def plot_feature_maps(
    maps: np.ndarray,
    ncols: int = 8,
    title: str = "Feature maps of one image",
    max_maps: int | None = 32,
) -> Figure:
    """Show the feature maps (H, W, C) or (1, H, W, C) of one image, one panel per channel.

    Each map has its own colour scale (viridis: dark is low, yellow high). At most
    ``max_maps`` maps are drawn.
    """
    a = np.asarray(maps, dtype=float)
    if a.ndim == 4 and a.shape[0] == 1:
        a = a[0]
    if a.ndim != 3 or 0 in a.shape:
        raise ValueError(f"maps must have shape (H, W, C) or (1, H, W, C), got {np.shape(maps)}")
    if ncols < 1:
        raise ValueError(f"ncols must be >= 1, got {ncols}")
    n = a.shape[2] if max_maps is None else min(a.shape[2], max_maps)
    cols = min(ncols, n)
    rows = math.ceil(n / cols)
    panel = min(8.0 / cols, 1.8)
    with book_style():
        fig = _new_figure((panel * cols, rows * (panel * a.shape[0] / a.shape[1] + 0.25) + 0.6))
        axes = fig.subplots(rows, cols, squeeze=False)
        for i, ax in enumerate(axes.flat):
            if i >= n:
                ax.set_axis_off()
                continue
            ax.imshow(a[:, :, i], cmap="viridis")
            _hide_ticks(ax)
            ax.set_title(f"map {i}", fontsize=_SMALL)
        shown = f"{n} of {a.shape[2]}" if n < a.shape[2] else f"{n}"
        fig.suptitle(f"{title}: {shown} maps, {a.shape[0]} x {a.shape[1]}")
    return fig


def plot_convolution_demo(
    image: np.ndarray,
    kernel: np.ndarray,
    output: np.ndarray,
    title: str = "A convolution, number by number",
    stride: int = 1,
    highlight: tuple[int, int] | None = (0, 0),
) -> Figure:
    """Show a small input (H, W), a kernel (k, k) and the output, every value written in.

    ``output`` is the "valid" result ((H - k) // stride + 1 per side) or the "same" one
    (ceil(H / stride)); the window behind output cell ``highlight`` is outlined in both.
    Arrays are at most 16 x 16 so the numbers stay readable.
    """
    x = _as_2d(image, "image").astype(float)
    w = _as_2d(kernel, "kernel").astype(float)
    out = _as_2d(output, "output").astype(float)
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    if max(x.shape) > 16:
        raise ValueError(f"image {x.shape} is too large to write its values: 16 x 16 at most")
    if w.shape[0] > x.shape[0] or w.shape[1] > x.shape[1]:
        raise ValueError(f"kernel {w.shape} is larger than the image {x.shape}")
    valid = tuple((n - k) // stride + 1 for n, k in zip(x.shape, w.shape, strict=True))
    same = tuple(-(-n // stride) for n in x.shape)
    if out.shape == valid:
        pad = (0, 0)
    elif out.shape == same:
        pad = tuple(max((o - 1) * stride + k - n, 0) // 2
                    for o, k, n in zip(out.shape, w.shape, x.shape, strict=True))
    else:
        raise ValueError(
            f"output {out.shape} fits neither 'valid' {valid} nor 'same' {same} convolution "
            f"of image {x.shape} with kernel {w.shape} at stride {stride}"
        )
    widths = [x.shape[1], w.shape[1], out.shape[1]]
    cell = min(7.0 / sum(widths), 0.55)
    height = max(x.shape[0], out.shape[0]) * cell + 1.4
    with book_style():
        fig = _new_figure((max(cell * sum(widths) + 1.0, 6.0), height))
        axes = fig.subplots(1, 3, width_ratios=widths)
        panels = ((x, "input", "gray"), (w, "kernel", "PuOr_r"), (out, "output", "gray"))
        for ax, (arr, name, cmap) in zip(axes, panels, strict=True):
            if cmap == "PuOr_r":
                lim = float(np.abs(arr).max()) or 1.0
                ax.imshow(arr, cmap=cmap, norm=TwoSlopeNorm(0.0, -lim, lim))
                _write_values(ax, arr, _value_fontsize(cell, arr), -lim, lim, dark_low=False)
            else:
                lo, hi = float(arr.min()), float(arr.max())
                hi = hi if hi > lo else lo + 1.0
                ax.imshow(arr, cmap=cmap, vmin=lo, vmax=hi)
                _write_values(ax, arr, _value_fontsize(cell, arr), lo, hi)
            ax.set_title(f"{name} {arr.shape[0]}x{arr.shape[1]}")
            _hide_ticks(ax)
        if highlight is not None:
            r, c = highlight
            if not (0 <= r < out.shape[0] and 0 <= c < out.shape[1]):
                raise ValueError(f"highlight {highlight} is outside the output {out.shape}")
            top, left = r * stride - pad[0], c * stride - pad[1]
            color = PALETTE[4]
            axes[0].add_patch(Rectangle((left - 0.5, top - 0.5), w.shape[1], w.shape[0],
                                        fill=False, edgecolor=color, linewidth=3, clip_on=False))
            axes[2].add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, fill=False, edgecolor=color,
                                        linewidth=3, clip_on=False))
            axes[1].set_xlabel("slide over the input,\nmultiply and add")
            value = _format_value(float(out[r, c]), bool(np.all(out == np.round(out))))
            axes[2].set_xlabel(f"orange: one window\n-> one output value ({value})")
        axes[0].set_xlabel("pixel values" + ("\n(zeros around the edges: 'same')"
                                             if any(pad) else ""))
        fig.suptitle(title)
    return fig


# --------------------------------------------------------------------------- graphs


def _graph_layers(nodes: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Layer of each node: the longest path (in edges) from any node without inputs."""
    names = [str(n.get("name", "")) for n in nodes]
    if len(set(names)) != len(names) or "" in names:
        raise ValueError("every node needs a unique, non-empty 'name'")
    inputs = {str(n["name"]): [str(i) for i in n.get("inputs", [])] for n in nodes}
    for name, ins in inputs.items():
        missing = [i for i in ins if i not in inputs]
        if missing:
            raise ValueError(f"node {name!r} has unknown inputs {missing}")
    layer: dict[str, int] = {}
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(name: str) -> int:
        if state.get(name) == 2:
            return layer[name]
        if state.get(name) == 1:
            raise ValueError(f"the graph has a cycle through node {name!r}")
        state[name] = 1
        layer[name] = max((visit(i) + 1 for i in inputs[name]), default=0)
        state[name] = 2
        return layer[name]

    for name in names:
        visit(name)
    return layer


def _wrap_words(text: str, width: int) -> str:
    """Break a CamelCase or path-like label into lines of about ``width`` characters."""
    words = re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z0-9]+|[^A-Za-z0-9]+|.", text)
    lines, line = [], ""
    for word in words:
        if line and len(line) + len(word) > width:
            lines.append(line)
            line = ""
        line += word
    return "\n".join([*lines, line])


def _short_names(names: Sequence[str]) -> dict[str, str]:
    """A scope name per node: ``model/dense_1/MatMul`` -> ``dense_1`` (the shared first
    scope dropped); names without scopes stay as they are."""
    split = {n: [p for p in n.split("/") if p] or [n] for n in names}
    scoped = [parts for parts in split.values() if len(parts) > 1]
    drop = len(scoped) > 1 and len({parts[0] for parts in scoped}) == 1
    short = {}
    for name, parts in split.items():
        if drop and len(parts) > 1:
            parts = parts[1:]
        short[name] = parts[0]
    return short


def _node_label(op: str, short_name: str | None) -> str:
    """The op type, and below it the node's (short) name unless it only repeats the op."""
    label = _wrap_words(op, 12)
    if short_name and short_name.lower() != op.lower():
        label += "\n" + _wrap_words(short_name, 14)
    return label


def _order_columns(columns: list[list[str]], inputs: Mapping[str, Sequence[str]],
                   sweeps: int = 4) -> dict[str, float]:
    """Order each column by the mean position of its neighbours (barycentre heuristic)."""
    consumers: dict[str, list[str]] = {n: [] for col in columns for n in col}
    for name, ins in inputs.items():
        for src in ins:
            consumers[src].append(name)
    pos = {n: i - (len(col) - 1) / 2 for col in columns for i, n in enumerate(col)}
    for _ in range(sweeps):
        for col in columns:
            def key(name: str) -> float:
                near = [pos[m] for m in (*inputs[name], *consumers[name])]
                return float(np.mean(near)) if near else pos[name]
            col.sort(key=key)
            pos.update({n: i - (len(col) - 1) / 2 for i, n in enumerate(col)})
    return pos


def plot_graph(
    nodes: Sequence[Mapping[str, Any]],
    title: str = "Computation graph",
    show_names: bool = True,
    direction: str = "LR",
) -> Figure:
    """Draw a small computation graph as a layered DAG: one box per node, arrows along inputs.

    ``nodes`` are dicts ``{"name": str, "op": str, "inputs": [names]}``. A node's layer is
    its longest path from the nodes without inputs; those (inputs, variables) then move up
    to the layer just before their first consumer. Within a layer nodes are ordered by
    where their neighbours sit, which keeps crossings few. Boxes show the op type (and
    the end of the name, when ``show_names``); one op type, one colour. ``direction`` is
    ``"LR"`` (left to right) or ``"TB"`` (top to bottom, better for long chains).
    """
    if direction not in ("LR", "TB"):
        raise ValueError(f"direction must be 'LR' or 'TB', got {direction!r}")
    if not nodes:
        raise ValueError("nodes must hold at least one node")
    for n in nodes:
        if not isinstance(n, Mapping) or "name" not in n or "op" not in n:
            raise ValueError(f"each node must be a dict with 'name' and 'op', got {n!r}")
    layer = _graph_layers(nodes)
    inputs = {str(n["name"]): [str(i) for i in n.get("inputs", [])] for n in nodes}
    consumers: dict[str, list[str]] = {name: [] for name in inputs}
    for name, ins in inputs.items():
        for src in ins:
            consumers[src].append(name)
    # then every node with consumers moves up to just before its first consumer, so that
    # variables and their reads sit next to the op that uses them
    for name in sorted(inputs, key=lambda n: -layer[n]):
        if consumers[name]:
            layer[name] = min(layer[m] for m in consumers[name]) - 1
    offset = min(layer.values())
    layer = {name: lay - offset for name, lay in layer.items()}
    n_layers = max(layer.values()) + 1
    columns: list[list[str]] = [[] for _ in range(n_layers)]
    for name in inputs:
        columns[layer[name]].append(name)
    pos = _order_columns(columns, inputs)
    ops = {str(n["name"]): str(n["op"]) for n in nodes}
    op_color = {op: PALETTE[i % (len(PALETTE) - 1)]
                for i, op in enumerate(dict.fromkeys(ops.values()))}
    short = _short_names(list(ops))
    labels = {name: _node_label(op, short[name] if show_names else None)
              for name, op in ops.items()}
    chars = max(len(line) for lab in labels.values() for line in lab.split("\n"))
    lines = max(lab.count("\n") + 1 for lab in labels.values())
    box_w, box_h = 0.075 * chars + 0.25, 0.19 * lines + 0.2  # inches at 10 pt
    tallest = max(len(c) for c in columns)
    if direction == "LR":
        along, across = box_w + 0.4, box_h + 0.25
        size = (along * n_layers + 0.3, across * tallest + 0.7)
    else:
        along, across = box_h + 0.4, box_w + 0.2
        size = (max(across * tallest + 0.3, 4.0), along * n_layers + 0.7)
    size = (min(size[0], 14.0), min(size[1], 14.0))
    with book_style():
        fig = _new_figure(size)
        ax = fig.add_subplot()
        ax.set_axis_off()
        boxes = {}
        for name, op in ops.items():
            xy = (layer[name], -pos[name]) if direction == "LR" else (pos[name], -layer[name])
            boxes[name] = ax.text(
                *xy, labels[name], ha="center", va="center", fontsize=_SMALL,
                linespacing=1.25, zorder=2,
                bbox={"boxstyle": "round,pad=0.35", "fc": op_color[op] + "30",
                      "ec": op_color[op], "lw": 1.5})
        ends = ((0.0, 0.5), (1.0, 0.5)) if direction == "LR" else ((0.5, 1.0), (0.5, 0.0))
        for name, ins in inputs.items():
            for src in ins:
                skip = layer[name] - layer[src] > 1
                ax.annotate("", xy=ends[0], xycoords=boxes[name].get_bbox_patch(),
                            xytext=ends[1], textcoords=boxes[src].get_bbox_patch(), zorder=3,
                            arrowprops={"arrowstyle": "-|>", "color": "#555555", "lw": 1.2,
                                        "shrinkA": 0, "shrinkB": 0, "mutation_scale": 12,
                                        "connectionstyle": "arc3,rad=-0.2" if skip else "arc3"})
        half = (tallest - 1) / 2
        lim_layers, lim_across = (-0.6, n_layers - 0.4), (-half - 0.6, half + 0.6)
        if direction == "LR":
            ax.set_xlim(*lim_layers)
            ax.set_ylim(*lim_across)
        else:
            ax.set_xlim(*lim_across)
            ax.set_ylim(-n_layers + 0.4, 0.6)
        ax.set_title(title)
    return fig


def tf_graph_nodes(graph: Any, skip_ops: Sequence[str] = ("NoOp", "Const")
                   ) -> list[dict[str, Any]]:
    """Nodes of a TensorFlow graph (``tf.function(...).get_concrete_function().graph``).

    Returns ``[{"name", "op", "inputs"}]`` for :func:`plot_graph`, dropping ``skip_ops``
    (edges through a dropped node are dropped too). A captured variable (a ``Placeholder``
    holding a resource handle) is called ``"Variable"``, as in TensorBoard's picture.
    Needs no TensorFlow import here.
    """
    ops = graph.get_operations()
    kept = {op.name for op in ops if op.type not in skip_ops}
    nodes = []
    for op in ops:
        if op.name not in kept:
            continue
        kind = op.type
        dtypes = [getattr(t.dtype, "name", "") for t in op.outputs]
        if kind == "Placeholder" and dtypes == ["resource"]:
            kind = "Variable"
        ins = list(dict.fromkeys(t.op.name for t in op.inputs if t.op.name in kept))
        nodes.append({"name": op.name, "op": kind, "inputs": ins})
    return nodes


# --------------------------------------------------------------------------- files


def save_figure(fig: Figure, path: str | Path, dpi: int = 100) -> Path:
    """Write ``fig`` as a PNG to ``path`` atomically (a temporary file, then a rename)."""
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"save_figure writes PNG files: {path} should end in .png")

    def write(tmp: Path) -> None:
        fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight", facecolor="white")

    return atomic_write(path, write)
