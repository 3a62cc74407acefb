"""The book's figure style: Okabe-Ito palette, fonts, sizes, new figures, saved PNGs."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..atomic import atomic_write

# Okabe & Ito (2008): blue, vermillion, bluish green, reddish purple, orange, sky blue,
# black.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
MISTAKE_COLOR = (
    "#D55E00"  # vermillion: reads as red, also to red-green colour-blind readers
)
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
        # the inline backend switches interactive mode on when it loads, which may
        # happen inside this block; rc_context would switch it off again and hide later
        # figures
        interactive = matplotlib.is_interactive()
    matplotlib.interactive(interactive)


def _new_figure(figsize: tuple[float, float] = FIGSIZE) -> Figure:
    return plt.figure(figsize=figsize, layout="constrained")


def _figure_and_axes(
    ax: Axes | None, figsize: tuple[float, float] = FIGSIZE
) -> tuple[Figure, Axes]:
    if ax is not None:
        try:
            return ax.get_figure(root=True), ax  # matplotlib >= 3.10
        except TypeError:
            return ax.figure, ax
    fig = _new_figure(figsize)
    return fig, fig.add_subplot()


def save_figure(fig: Figure, path: str | Path, dpi: int = 100) -> Path:
    """Write ``fig`` as a PNG to ``path`` atomically (a temporary file, renamed)."""
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"save_figure writes PNG files: {path} should end in .png")

    def write(tmp: Path) -> None:
        fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight", facecolor="white")

    return atomic_write(path, write)
