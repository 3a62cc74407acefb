"""Activations, softmax and training error of the numpy networks."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .style import NEUTRAL_COLOR, PALETTE, _figure_and_axes, _new_figure, book_style


def plot_activations(
    functions: Mapping[
        str,
        tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]],
    ],
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
        raise ValueError(
            f"z must be a 1-D array of at least 2 points, got shape {z.shape}"
        )
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
        fig.legend(
            *axes.flat[0].get_legend_handles_labels(),
            loc="outside lower center",
            ncols=2,
            frameon=False,
        )
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
            raise ValueError(
                f"probs must have the shape of logits {z.shape}, got {p.shape}"
            )
        if np.any(p < 0) or not np.isclose(p.sum(), 1.0, atol=1e-3):
            raise ValueError(
                f"probs must be non-negative and sum to 1, got sum {p.sum():.4f}"
            )
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
            right.annotate(
                f"{pi:.2f}",
                (xi, pi),
                xytext=(0, 3),
                textcoords="offset points",
                ha="center",
                va="bottom",
            )
        for xi, zi in zip(x, z, strict=True):
            left.annotate(
                f"{zi:.2f}",
                (xi, zi),
                xytext=(0, 3 if zi >= 0 else -3),
                textcoords="offset points",
                ha="center",
                va="bottom" if zi >= 0 else "top",
            )
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
    label: str | None = None,
) -> Figure:
    """Plot an error (or loss) per training step (n_steps,), on a log scale by default.

    The log scale is used only when every value is positive. With ``label``, the curve
    joins a legend, in the next colour of the axes: call again with the same ``ax`` to
    compare several runs.
    """
    e = np.asarray(errors, dtype=float)
    if e.ndim != 1 or e.size == 0:
        raise ValueError(
            f"errors must be a non-empty 1-D sequence, got shape {e.shape}"
        )
    steps = np.arange(e.size)
    with book_style():
        fig, ax = _figure_and_axes(ax)
        colour = PALETTE[len(ax.lines) % len(PALETTE)] if label else PALETTE[0]
        width = 2.0 if e.size <= 500 else 1.0
        ax.plot(steps, e, color=colour, linewidth=width, label=label)
        finite = np.isfinite(e)
        if log and finite.any() and np.all(e[finite] > 0):
            ax.set_yscale("log")
        if finite[-1]:
            ax.annotate(
                f"final: {e[-1]:.3g}",
                xy=(steps[-1], e[-1]),
                xytext=(-30, 35),
                textcoords="offset points",
                ha="right",
                arrowprops={"arrowstyle": "->", "color": NEUTRAL_COLOR},
            )
        ax.set_xlabel("step")
        ax.set_ylabel(ylabel + (" (log scale)" if ax.get_yscale() == "log" else ""))
        ax.set_title(title)
        ax.grid(True, which="major")
        if label:
            ax.legend()
    return fig
