"""Data sets: class balance of the splits, statistics of annotated data sets."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from .style import _SMALL, NEUTRAL_COLOR, PALETTE, _new_figure, book_style


def plot_class_balance(
    counts: Mapping[str, Mapping[str, int]] | Any,
    title: str = "Images per class and split",
    positive: str | None = None,
) -> Figure:
    """Grouped bars of images per class for each split, with the positive class's share.

    ``counts`` is ``{split: {class: count}}`` or a ``Splits``-like object (with
    ``class_names`` and ``split(name)``). ``positive`` defaults to ``"bottle"`` when
    present, else the last class.
    """
    if hasattr(counts, "split") and hasattr(counts, "class_names"):
        classes = list(counts.class_names)
        table = {}
        for name in ("train", "val", "test"):
            _, y = counts.split(name)
            table[name] = {
                c: int(np.sum(np.asarray(y) == i)) for i, c in enumerate(classes)
            }
    elif isinstance(counts, Mapping) and counts:
        table = {str(s): dict(v) for s, v in counts.items()}
        classes = list(dict.fromkeys(c for v in table.values() for c in v))
    else:
        raise ValueError(
            "counts must be a non-empty {split: {class: count}} dict or a Splits"
        )
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
            ax.bar(
                pos,
                vals,
                width * 0.95,
                color=PALETTE[j % len(PALETTE)],
                label=cls,
                hatch="//" if cls == positive else None,
                edgecolor="white",
            )
            for px, v in zip(pos, vals, strict=True):
                ax.text(px, v, f"{v:,}", ha="center", va="bottom", fontsize=_SMALL)
            tops = np.maximum(tops, vals)
        ymax = float(tops.max()) or 1.0
        for xi, s in zip(x, splits, strict=True):
            total = sum(int(table[s].get(c, 0)) for c in classes)
            share = int(table[s].get(positive, 0)) / total if total else 0.0
            ax.text(
                xi,
                tops[int(xi)] + 0.12 * ymax,
                f"{positive}: {share:.1%}\nof {total:,}",
                ha="center",
                va="bottom",
                fontweight="bold",
            )
        ax.set_ylim(0, ymax * 1.45)
        ax.set_xticks(x, splits)
        ax.set_xlabel("split")
        ax.set_ylabel("images")
        ax.set_title(title)
        ax.legend(title="class", frameon=False, loc="upper right")
    return fig


def plot_dataset_statistics(
    stats: Mapping[str, Any],
    title: str = "What the photos hold",
    top: int = 8,
    max_objects: int = 8,
) -> Figure:
    """Four panels that compare annotated data sets side by side.

    ``stats`` maps a name (e.g. "TACO", "stand-in") to the statistics of one data set,
    such as :class:`wastelab.data.coco_stats.CocoStats` (needs ``bottle_share``,
    ``objects_per_image``, ``relative_sizes``, ``is_bottle`` and ``category_counts``).
    Panels: the share of photos with a bottle; photos by number of objects (the last bar
    is ``max_objects`` or more); the cumulative distribution of object sizes, sqrt(box
    area / image area), on a log scale; the share of the objects in each of the first
    data set's ``top`` categories.
    """
    if not isinstance(stats, Mapping) or not stats:
        raise ValueError("stats must be a non-empty {name: statistics} mapping")
    names = list(stats)
    colours = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(names)}
    with book_style():
        fig = _new_figure((9.0, 7.0))
        grid = fig.add_gridspec(2, 2, width_ratios=(1, 1.5))
        ax_share, ax_count = fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[0, 1])
        ax_size, ax_cat = fig.add_subplot(grid[1, 0]), fig.add_subplot(grid[1, 1])

        shares = [float(stats[n].bottle_share) for n in names]
        labels = [textwrap.fill(n.replace(", ", ",\n"), 14) for n in names]
        bars = ax_share.bar(labels, shares, color=[colours[n] for n in names])
        for bar, share in zip(bars, shares, strict=True):
            ax_share.text(
                bar.get_x() + bar.get_width() / 2,
                share,
                f"{share:.1%}",
                ha="center",
                va="bottom",
            )
        ax_share.set_ylim(0, max(max(shares) * 1.3, 0.05))
        ax_share.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
        ax_share.set_title("Photos with a bottle")

        ks = np.arange(1, max_objects + 1)
        width = 0.8 / len(names)
        for j, name in enumerate(names):
            n = np.minimum(np.asarray(stats[name].objects_per_image), max_objects)
            share = np.array([np.mean(n == k) for k in ks]) if n.size else ks * 0.0
            offset = (j - (len(names) - 1) / 2) * width
            ax_count.bar(
                ks + offset, share, width * 0.95, color=colours[name], label=name
            )
        ax_count.set_xticks(ks, [*map(str, ks[:-1]), f"{max_objects}+"])
        ax_count.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
        ax_count.set_xlabel("objects in the photo")
        ax_count.set_ylabel("photos")
        ax_count.set_title("Objects per photo")
        ax_count.legend(frameon=False)

        for name in names:
            s = np.sort(np.asarray(stats[name].relative_sizes, dtype=float))
            s = s[s > 0]
            if s.size:
                share = np.arange(1, s.size + 1) / s.size
                ax_size.step(s, share, where="post", color=colours[name], label=name)
        for level in (0.25, 0.5, 0.75):
            ax_size.axhline(level, color=NEUTRAL_COLOR, linewidth=0.6, linestyle=":")
        ax_size.set_xscale("log")
        ax_size.set_ylim(0, 1)
        ax_size.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
        ax_size.set_xlabel("object size: sqrt(box area / image area)")
        ax_size.set_ylabel("objects at most this size")
        ax_size.set_title("Object sizes (dotted: quartiles)")

        first = stats[names[0]].category_counts
        categories = list(first)[:top][::-1]
        y = np.arange(len(categories))
        height = 0.8 / len(names)
        for j, name in enumerate(names):
            counts = stats[name].category_counts
            total = sum(counts.values()) or 1
            share = [counts.get(c, 0) / total for c in categories]
            offset = ((len(names) - 1) / 2 - j) * height
            ax_cat.barh(y + offset, share, height * 0.95, color=colours[name])
        ax_cat.set_yticks(y, categories)
        ax_cat.xaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
        ax_cat.set_xlabel("share of the objects")
        ax_cat.set_title(f"The {len(categories)} commonest categories in {names[0]}")
        fig.suptitle(title)
    return fig
