"""Images as pictures and as numbers."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from .style import (
    _SMALL,
    CORRECT_COLOR,
    MISTAKE_COLOR,
    PALETTE,
    _new_figure,
    book_style,
)


def _as_images(images: np.ndarray, where: str = "images") -> np.ndarray:
    """(N, H, W) or (N, H, W, 1|3), uint8 or float in [0, 1] -> float (N, H, W, C)."""
    arr = np.asarray(images)
    if arr.ndim == 3:
        arr = arr[..., None]
    if arr.ndim != 4 or arr.shape[-1] not in (1, 3) or arr.shape[0] == 0:
        raise ValueError(
            f"{where} must have shape (N, H, W, 1|3) with N >= 1, got {arr.shape}"
        )
    return _to_unit(arr, where)


def _to_unit(arr: np.ndarray, where: str) -> np.ndarray:
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / 255.0
    if not np.issubdtype(arr.dtype, np.floating):
        raise ValueError(
            f"{where} must be uint8 or float in [0, 1], got dtype {arr.dtype}"
        )
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
        ax.imshow(
            img[..., 0], cmap="gray", vmin=0.0, vmax=1.0, interpolation="antialiased"
        )
    else:
        ax.imshow(img, interpolation="antialiased")


def _class_ids(values: Any, n: int, n_classes: int, what: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.shape != (n,):
        raise ValueError(
            f"{what} must have shape ({n},) like the images, got {arr.shape}"
        )
    if not np.issubdtype(arr.dtype, np.integer):
        if not (np.issubdtype(arr.dtype, np.floating) and np.all(arr == np.round(arr))):
            raise ValueError(
                f"{what} must be integer class ids, got dtype {arr.dtype} "
                "(for probabilities use probs.argmax(axis=1))"
            )
    ids = arr.astype(np.int64)
    if ids.size and (ids.min() < 0 or ids.max() >= n_classes):
        raise ValueError(
            f"{what} out of range [0, {n_classes - 1}]: {ids.min()}..{ids.max()}"
        )
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

    ``images`` are uint8 or float in [0, 1], grayscale (C = 1, or no channel axis) or
    RGB. ``labels`` and ``predictions`` are integer class ids (N,). With both, each
    image reads "pred: ... / true: ..."; a mistake gets a thick :data:`MISTAKE_COLOR`
    frame and title (with a ✗), a correct one a :data:`CORRECT_COLOR` title.
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
    title_lines = (
        2
        if (y is not None and p is not None)
        else (1 if (y is not None or p is not None) else 0)
    )
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
                    ax.set_title(
                        "✗ " + text,
                        color=MISTAKE_COLOR,
                        fontsize=_SMALL,
                        fontweight="bold",
                    )
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


def _write_values(
    ax: Axes,
    arr: np.ndarray,
    fontsize: float,
    vmin: float,
    vmax: float,
    dark_low: bool = True,
) -> None:
    """Write each value of a 2-D array in its cell: white on dark cells, else black."""
    integral = bool(np.all(arr == np.round(arr)))
    span = (vmax - vmin) or 1.0
    for (r, c), value in np.ndenumerate(arr):
        level = (value - vmin) / span
        dark = level < 0.5 if dark_low else abs(level - 0.5) > 0.3
        ax.text(
            c,
            r,
            _format_value(float(value), integral),
            ha="center",
            va="center",
            fontsize=fontsize,
            color="white" if dark else "black",
        )


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
        raise ValueError(
            f"{what} must have shape (H, W) or (H, W, 1), got {np.shape(image)}"
        )
    return arr


def show_image_as_numbers(
    image: np.ndarray,
    region: tuple[slice, slice] | None = None,
    size: int = 8,
    title: str = "An image is a grid of numbers",
) -> Figure:
    """Show a grayscale image (H, W) or (H, W, 1) beside a zoomed crop with its values.

    ``region`` is ``(rows, cols)`` as two slices; without it, a ``size`` x ``size`` crop
    from the middle of the image. The crop is at most 16 x 16 pixels so the numbers stay
    readable.
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
        raise ValueError(
            f"region {region!r} selects no contiguous pixels of an image {img.shape}"
        )
    crop = img[r0:r1, c0:c1]
    if max(crop.shape) > 16:
        raise ValueError(
            f"region {crop.shape} is too large to write its values: 16 x 16 at most"
        )
    vmax = 255.0 if img.dtype == np.uint8 else max(1.0, float(img.max()))
    vmin = 0.0 if img.dtype == np.uint8 else min(0.0, float(img.min()))
    with book_style():
        fig = _new_figure()
        left, right = fig.subplots(1, 2, width_ratios=[1, 1.5])
        left.imshow(img, cmap="gray", vmin=vmin, vmax=vmax)
        left.add_patch(
            Rectangle(
                (c0 - 0.5, r0 - 0.5),
                c1 - c0,
                r1 - r0,
                fill=False,
                edgecolor=PALETTE[4],
                linewidth=2.5,
            )
        )
        left.set_title(f"the image, {h} x {w} pixels")
        left.set_xlabel("column")
        left.set_ylabel("row")
        right.imshow(
            crop,
            cmap="gray",
            vmin=vmin,
            vmax=vmax,
            extent=(c0 - 0.5, c1 - 0.5, r1 - 0.5, r0 - 0.5),
        )
        cell = 3.9 / max(crop.shape)  # inches: the right panel is about 4 inches wide
        fontsize = _value_fontsize(cell, crop)
        for (r, c), value in np.ndenumerate(crop):
            dark = (value - vmin) / ((vmax - vmin) or 1.0) < 0.5
            right.text(
                c0 + c,
                r0 + r,
                _format_value(
                    float(value),
                    img.dtype == np.uint8 or np.all(crop == np.round(crop)),
                ),
                ha="center",
                va="center",
                fontsize=fontsize,
                color="white" if dark else "black",
            )
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


def plot_channels(
    rgb_image: np.ndarray, title: str = "One colour image, four arrays"
) -> Figure:
    """Show an RGB image (H, W, 3), its red, green and blue channels, and its grayscale.

    Each channel is drawn in its own colour (the other two set to zero); grayscale uses
    the ITU-R 601 weights 0.299 R + 0.587 G + 0.114 B, as Pillow's ``convert("L")``
    does.
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
