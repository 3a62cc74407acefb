"""Training curves: histories, optimizers, learning rates."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .style import PALETTE, _figure_and_axes, _new_figure, book_style

_LOWER_IS_BETTER = ("loss", "error", "mse", "mae", "crossentropy")
_PRETTY = {
    "accuracy": "accuracy",
    "acc": "accuracy",
    "f1": "F1",
    "f1_score": "F1",
    "auc": "AUC",
    "precision": "precision",
    "recall": "recall",
    "loss": "loss",
}


def _series(values: Any, key: str) -> tuple[np.ndarray, str]:
    """A history entry as (epochs,) floats; per-class vectors keep the last class."""
    arr = np.asarray(values, dtype=float)
    if arr.ndim == 2:
        return arr[:, -1], f" (class {arr.shape[1] - 1})"
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(
            f"history[{key!r}] must be a non-empty list of numbers, got {arr.shape}"
        )
    return arr, ""


def plot_history(
    history: Mapping[str, Sequence[float]] | Any,
    metrics: Sequence[str] | None = ("loss", "accuracy"),
    title: str = "Training history",
) -> Figure:
    """One panel per metric: training and validation (``val_`` prefix) per epoch.

    ``history`` is a dict of per-epoch lists (or a Keras ``History``; its ``.history``
    is used). A metric may be present for training, validation or both (e.g. only
    ``val_f1``). The best validation epoch (lowest for losses, highest otherwise) is
    starred. ``metrics=None`` plots every metric found.
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
        for ax in axes.flat[len(metrics) :]:
            ax.set_axis_off()
        for ax, m in zip(axes.flat, metrics, strict=False):
            pretty = _PRETTY.get(m, m.replace("_", " "))
            lower_better = any(tag in m.lower() for tag in _LOWER_IS_BETTER)
            n_epochs = 0
            if m in hist:
                y, note = _series(hist[m], m)
                ep = np.arange(1, y.size + 1)
                ax.plot(
                    ep,
                    y,
                    color=PALETTE[0],
                    marker="o",
                    markersize=3,
                    label="training" + note,
                )
                n_epochs = y.size
            if f"val_{m}" in hist:
                y, note = _series(hist[f"val_{m}"], f"val_{m}")
                ep = np.arange(1, y.size + 1)
                ax.plot(
                    ep,
                    y,
                    color=PALETTE[1],
                    linestyle="--",
                    marker="s",
                    markersize=3,
                    label="validation" + note,
                )
                n_epochs = max(n_epochs, y.size)
                if np.isfinite(y).any():
                    best = int(np.nanargmin(y) if lower_better else np.nanargmax(y))
                    ax.plot(
                        ep[best],
                        y[best],
                        marker="*",
                        markersize=16,
                        color=PALETTE[1],
                        markeredgecolor="black",
                        linestyle="none",
                        label=f"best: {y[best]:.3g} (epoch {best + 1})",
                    )
            ax.set_title(pretty + (" (lower is better)" if lower_better else ""))
            ax.set_xlabel("epoch")
            ax.set_ylabel(pretty)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=6))
            ax.set_xlim(0.5, n_epochs + 0.5)
            ax.grid(True)
            ax.legend(frameon=True, framealpha=0.85)
        fig.suptitle(title)
    return fig


def plot_loss_curves(
    curves: Mapping[str, Sequence[float]],
    title: str = "Training loss",
    legend_title: str | None = None,
    log: bool = False,
    xlabel: str = "epoch",
    ax: Axes | None = None,
    baselines: Mapping[str, float] | None = None,
) -> Figure:
    """Several loss curves ``{name: losses}`` on one axes, each from x = 1.

    ``baselines`` (``{label: loss}``) are drawn as dotted horizontal lines, e.g. the
    loss of a guess to beat. A curve that reaches ``inf`` or ``nan`` ends in an "X"
    marked "diverged". ``log`` uses a log scale when every value is positive.
    """
    data = _check_curves(curves)
    styles = ("-", "--", "-.", ":")
    with book_style():
        fig, ax = _figure_and_axes(ax)
        for i, (name, y) in enumerate(data.items()):
            color = PALETTE[i % len(PALETTE)]
            x = np.arange(1, y.size + 1)
            ax.plot(x, y, color=color, linestyle=styles[i % 4], label=str(name))
            _mark_divergence(ax, x, y, color)
        for i, (label, value) in enumerate((baselines or {}).items()):
            gray = ("gray", "black", "silver")[i % 3]
            ax.axhline(value, color=gray, linestyle=":", label=str(label))
        finite = np.concatenate([y[np.isfinite(y)] for y in data.values()])
        use_log = log and finite.size > 0 and bool(np.all(finite > 0))
        if use_log:
            ax.set_yscale("log")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel(xlabel)
        ax.set_ylabel("loss" + (" (log scale)" if use_log else ""))
        ax.set_title(title)
        ax.grid(True)
        ax.legend(title=legend_title, frameon=False)
    return fig


def _check_curves(curves: Mapping[str, Sequence[float]]) -> dict[str, np.ndarray]:
    if not curves:
        raise ValueError("need at least one curve to plot")
    data = {}
    for name, values in curves.items():
        y = np.asarray(values, dtype=float)
        if y.ndim != 1 or y.size == 0:
            raise ValueError(
                f"curve {name!r} must be a non-empty 1-D sequence, got {y.shape}"
            )
        data[name] = y
    return data


def _mark_divergence(ax: Axes, x: np.ndarray, y: np.ndarray, color: str) -> None:
    """An "X" and the word "diverged" at the last finite point before inf or nan."""
    bad = ~np.isfinite(y)
    last = int(np.argmax(bad)) - 1 if bad.any() else -1
    if last >= 0:
        ax.plot(x[last], y[last], marker="X", markersize=11, color=color, mec="black")
        ax.annotate(
            "diverged",
            xy=(x[last], y[last]),
            xytext=(6, 6),
            textcoords="offset points",
            color=color,
        )


def plot_optimizer_comparison(
    histories: Mapping[str, Sequence[float]],
    title: str = "Optimizers compared",
    log: bool = True,
    xlabel: str = "epoch",
    ax: Axes | None = None,
    baselines: Mapping[str, float] | None = None,
) -> Figure:
    """Loss per epoch (or step) for several optimizers, ``{name: losses}``."""
    return plot_loss_curves(histories, title, "optimizer", log, xlabel, ax, baselines)


def plot_learning_rates(
    histories: Mapping[float | str, Sequence[float]],
    title: str = "Learning rate: too low, about right, too high",
    log: bool = True,
    xlabel: str = "epoch",
    ax: Axes | None = None,
    baselines: Mapping[str, float] | None = None,
) -> Figure:
    """Loss per epoch (or step) for several learning rates, ``{lr: losses}``."""

    def key(lr: float | str) -> float:
        try:
            return float(lr)
        except ValueError:
            return math.inf

    ordered = {
        f"{lr:g}" if isinstance(lr, int | float) else str(lr): histories[lr]
        for lr in sorted(histories, key=key)
    }
    return plot_loss_curves(ordered, title, "learning rate", log, xlabel, ax, baselines)
