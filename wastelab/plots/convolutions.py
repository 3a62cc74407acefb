"""Convolutions: filters, feature maps, a worked convolution."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from .images import _as_2d, _format_value, _hide_ticks, _value_fontsize, _write_values
from .style import _SMALL, PALETTE, _new_figure, book_style


def plot_filters(
    kernels: np.ndarray,
    ncols: int = 8,
    input_channel: int = 0,
    title: str = "Learned filters of a convolution layer",
) -> Figure:
    """Show a conv layer's kernels (kh, kw, in, out), one panel per filter, one channel.

    Colours are diverging and centred at 0 (one scale for all filters, see the
    colorbar): orange weights add up bright pixels, purple ones subtract them.
    """
    k = np.asarray(kernels, dtype=float)
    if k.ndim != 4 or 0 in k.shape:
        raise ValueError(f"kernels must have shape (kh, kw, in, out), got {k.shape}")
    if not 0 <= input_channel < k.shape[2]:
        raise ValueError(
            f"input_channel must be in [0, {k.shape[2] - 1}], got {input_channel}"
        )
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
            im = ax.imshow(
                k[:, :, input_channel, i], cmap="PuOr_r", vmin=-lim, vmax=lim
            )
            _hide_ticks(ax)
            ax.set_title(f"filter {i}", fontsize=_SMALL)
        cbar = fig.colorbar(im, ax=axes, shrink=0.8)
        cbar.set_label("weight")
        fig.suptitle(
            f"{title} ({k.shape[0]}x{k.shape[1]}, input channel {input_channel})"
        )
    return fig


def plot_feature_maps(
    maps: np.ndarray,
    ncols: int = 8,
    title: str = "Feature maps of one image",
    max_maps: int | None = 32,
) -> Figure:
    """Show the feature maps (H, W, C) or (1, H, W, C) of one image, a panel per map.

    Each map has its own colour scale (viridis: dark is low, yellow high). At most
    ``max_maps`` maps are drawn.
    """
    a = np.asarray(maps, dtype=float)
    if a.ndim == 4 and a.shape[0] == 1:
        a = a[0]
    if a.ndim != 3 or 0 in a.shape:
        raise ValueError(
            f"maps must have shape (H, W, C) or (1, H, W, C), got {np.shape(maps)}"
        )
    if ncols < 1:
        raise ValueError(f"ncols must be >= 1, got {ncols}")
    n = a.shape[2] if max_maps is None else min(a.shape[2], max_maps)
    cols = min(ncols, n)
    rows = math.ceil(n / cols)
    panel = min(8.0 / cols, 1.8)
    with book_style():
        fig = _new_figure(
            (panel * cols, rows * (panel * a.shape[0] / a.shape[1] + 0.25) + 0.6)
        )
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
    """Show a small input (H, W), a kernel (k, k) and the output, every value written.

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
        raise ValueError(
            f"image {x.shape} is too large to write its values: 16 x 16 at most"
        )
    if w.shape[0] > x.shape[0] or w.shape[1] > x.shape[1]:
        raise ValueError(f"kernel {w.shape} is larger than the image {x.shape}")
    valid = tuple((n - k) // stride + 1 for n, k in zip(x.shape, w.shape, strict=True))
    same = tuple(-(-n // stride) for n in x.shape)
    if out.shape == valid:
        pad = (0, 0)
    elif out.shape == same:
        pad = tuple(
            max((o - 1) * stride + k - n, 0) // 2
            for o, k, n in zip(out.shape, w.shape, x.shape, strict=True)
        )
    else:
        raise ValueError(
            f"output {out.shape} fits neither 'valid' {valid} nor 'same' {same} "
            f"convolution of image {x.shape} with kernel {w.shape} at stride {stride}"
        )
    widths = [x.shape[1], w.shape[1], out.shape[1]]
    cell = min(7.0 / sum(widths), 0.55)
    height = max(x.shape[0], out.shape[0]) * cell + 1.4
    with book_style():
        fig = _new_figure((max(cell * sum(widths) + 1.0, 6.0), height))
        axes = fig.subplots(1, 3, width_ratios=widths)
        panels = (
            (x, "input", "gray"),
            (w, "kernel", "PuOr_r"),
            (out, "output", "gray"),
        )
        for ax, (arr, name, cmap) in zip(axes, panels, strict=True):
            if cmap == "PuOr_r":
                lim = float(np.abs(arr).max()) or 1.0
                ax.imshow(arr, cmap=cmap, norm=TwoSlopeNorm(0.0, -lim, lim))
                _write_values(
                    ax, arr, _value_fontsize(cell, arr), -lim, lim, dark_low=False
                )
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
                raise ValueError(
                    f"highlight {highlight} is outside the output {out.shape}"
                )
            top, left = r * stride - pad[0], c * stride - pad[1]
            color = PALETTE[4]
            axes[0].add_patch(
                Rectangle(
                    (left - 0.5, top - 0.5),
                    w.shape[1],
                    w.shape[0],
                    fill=False,
                    edgecolor=color,
                    linewidth=3,
                    clip_on=False,
                )
            )
            axes[2].add_patch(
                Rectangle(
                    (c - 0.5, r - 0.5),
                    1,
                    1,
                    fill=False,
                    edgecolor=color,
                    linewidth=3,
                    clip_on=False,
                )
            )
            axes[1].set_xlabel("slide over the input,\nmultiply and add")
            value = _format_value(float(out[r, c]), bool(np.all(out == np.round(out))))
            axes[2].set_xlabel(f"orange: one window\n-> one output value ({value})")
        axes[0].set_xlabel(
            "pixel values" + ("\n(zeros around the edges: 'same')" if any(pad) else "")
        )
        fig.suptitle(title)
    return fig


def plot_pooling(
    x: np.ndarray,
    size: int = 2,
    title: str = "Max and mean pooling",
    highlight: tuple[int, int] | None = (0, 0),
) -> Figure:
    """Show a small map (H, W), its max pooling and its mean pooling, values written in.

    Tiles of ``size`` x ``size`` at stride ``size``; rows and columns left over (when H
    or W is not a multiple of ``size``) are dropped, as in Keras, and hatched. All three
    panels share one grey scale; the tile behind output cell ``highlight`` is outlined.
    """
    a = _as_2d(x, "x").astype(float)
    if size < 1 or size > min(a.shape):
        raise ValueError(f"size must be in [1, {min(a.shape)}], got {size}")
    if max(a.shape) > 16:
        raise ValueError(
            f"x {a.shape} is too large to write its values: 16 x 16 at most"
        )
    out_h, out_w = a.shape[0] // size, a.shape[1] // size
    tiles = a[: out_h * size, : out_w * size].reshape(out_h, size, out_w, size)
    panels = (
        (
            a,
            f"input {a.shape[0]}x{a.shape[1]}",
            f"{size} x {size} tiles, stride {size}",
        ),
        (tiles.max(axis=(1, 3)), "max pooled", "the largest value\nof each tile"),
        (tiles.mean(axis=(1, 3)), "mean pooled", "the average\nof each tile"),
    )
    if highlight is not None and not (
        0 <= highlight[0] < out_h and 0 <= highlight[1] < out_w
    ):
        raise ValueError(
            f"highlight {highlight} is outside the output {(out_h, out_w)}"
        )
    lo, hi = float(a.min()), float(a.max())
    hi = hi if hi > lo else lo + 1.0
    widths = [a.shape[1], out_w, out_w]
    cell = min(7.0 / sum(widths), 0.55)
    with book_style():
        fig = _new_figure((max(cell * sum(widths) + 1.5, 6.0), a.shape[0] * cell + 1.6))
        axes = fig.subplots(1, 3, width_ratios=widths)
        for ax, (arr, name, label) in zip(axes, panels, strict=True):
            ax.imshow(arr, cmap="gray", vmin=lo, vmax=hi)
            _write_values(ax, arr, _value_fontsize(cell, arr), lo, hi)
            ax.set_title(
                f"{name} {arr.shape[0]}x{arr.shape[1]}" if ax is not axes[0] else name
            )
            ax.set_xlabel(label)
            _hide_ticks(ax)
        for edge in range(size, a.shape[1], size):
            axes[0].axvline(edge - 0.5, color=PALETTE[5], linewidth=2)
        for edge in range(size, a.shape[0], size):
            axes[0].axhline(edge - 0.5, color=PALETTE[5], linewidth=2)
        # rows and columns that fill no tile are dropped: hatch them
        left_over = (
            (0, out_h * size, a.shape[1], a.shape[0] - out_h * size),  # x, y, w, h
            (out_w * size, 0, a.shape[1] - out_w * size, a.shape[0]),
        )
        for x0, y0, w, h in left_over:
            if w > 0 and h > 0:
                axes[0].add_patch(
                    Rectangle(
                        (x0 - 0.5, y0 - 0.5),
                        w,
                        h,
                        fill=False,
                        hatch="//",
                        edgecolor=PALETTE[1],
                        linewidth=0,
                    )
                )
        if highlight is not None:
            r, c = highlight
            color = PALETTE[4]
            axes[0].add_patch(
                Rectangle(
                    (c * size - 0.5, r * size - 0.5),
                    size,
                    size,
                    fill=False,
                    edgecolor=color,
                    linewidth=3,
                    clip_on=False,
                )
            )
            for ax in axes[1:]:
                ax.add_patch(
                    Rectangle(
                        (c - 0.5, r - 0.5),
                        1,
                        1,
                        fill=False,
                        edgecolor=color,
                        linewidth=3,
                        clip_on=False,
                    )
                )
        fig.suptitle(title)
    return fig


def plot_receptive_field(
    image: np.ndarray,
    reaches: Mapping[str, np.ndarray],
    title: str = "Where one unit of each layer looks",
) -> Figure:
    """Show the receptive field of one unit per layer on an image (H, W).

    ``reaches`` maps a layer name to an (H, W) array that is above 0 on the input pixels
    that can reach that layer's unit (for instance the input gradient of a linear twin
    of the network). Left: the image, each layer's field outlined and sized in the
    legend. Right: the last layer's reach scaled to a maximum of 1: how many paths lead
    from each pixel to the unit, relative to the busiest pixel.
    """
    img = _as_2d(image, "image")
    img = img / 255.0 if img.dtype == np.uint8 else img.astype(float)
    if not reaches:
        raise ValueError("reaches is empty: give at least one layer's reach")
    boxes = {}
    for name, reach in reaches.items():
        r = np.asarray(reach, dtype=float)
        if r.shape != img.shape:
            raise ValueError(
                f"reach of {name!r} has shape {r.shape}, the image {img.shape}"
            )
        rows, cols = (
            np.flatnonzero((r > 0).any(axis=1)),
            np.flatnonzero((r > 0).any(axis=0)),
        )
        if rows.size == 0:
            raise ValueError(f"reach of {name!r} is nowhere above 0")
        boxes[name] = (rows[0], cols[0], rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1)
    last = list(reaches)[-1]
    with book_style():
        fig = _new_figure((8.0, 4.6))
        axes = fig.subplots(1, 2)
        axes[0].imshow(img, cmap="gray", vmin=0.0, vmax=1.0)
        shown = np.asarray(reaches[last], dtype=float)
        im = axes[1].imshow(shown / shown.max(), cmap="viridis", vmin=0.0, vmax=1.0)
        cbar = fig.colorbar(im, ax=axes[1], shrink=0.8)
        cbar.set_label("paths to the unit (max = 1)")
        for i, (name, (top, left, h, w)) in enumerate(boxes.items()):
            color = PALETTE[(i + 4) % len(PALETTE)]
            for ax in axes if name == last else axes[:1]:
                ax.add_patch(
                    Rectangle(
                        (left - 0.5, top - 0.5),
                        w,
                        h,
                        fill=False,
                        edgecolor=color,
                        linewidth=2.5,
                        label=f"{name}: {h} x {w}",
                    )
                )
        axes[0].legend(
            loc="upper center",
            bbox_to_anchor=(0.5, -0.02),
            ncols=min(len(boxes), 3),
            frameon=False,
        )
        axes[0].set_title("receptive fields on the image")
        axes[1].set_title(f"{last}: its reach")
        for ax in axes:
            _hide_ticks(ax)
        fig.suptitle(title)
    return fig
