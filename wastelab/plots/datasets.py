"""Data sets: class balance of the splits."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from .style import _SMALL, PALETTE, _new_figure, book_style


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
