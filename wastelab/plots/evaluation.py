"""Evaluation: confusion matrix, precision-recall, model comparison."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .style import (
    _SMALL,
    NEUTRAL_COLOR,
    PALETTE,
    _figure_and_axes,
    _new_figure,
    book_style,
)


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
    Drawn by scikit-learn's ``ConfusionMatrixDisplay`` in the book's style.
    """
    from sklearn.metrics import ConfusionMatrixDisplay

    m, share = _counts_and_shares(cm, class_names)
    k = len(class_names)
    side = min(4.5, 1.6 + 1.1 * k)
    fontsize = 13 if k <= 3 else (11 if k <= 6 else _SMALL)
    with book_style():
        fig, ax = _figure_and_axes(ax, (side + 1.4, side))
        display = ConfusionMatrixDisplay(
            share if normalize else m.astype(float), display_labels=list(class_names)
        )
        display.plot(
            ax=ax,
            cmap="Blues",
            colorbar=False,
            im_kw={"vmin": 0, "vmax": 1.0 if normalize else max(float(m.max()), 1.0)},
            text_kw={"fontsize": fontsize},
        )
        for (r, c), text in np.ndenumerate(display.text_):
            number, percent = _count_text(m[r, c]), f"{share[r, c]:.1%}"
            both = (percent, number) if normalize else (number, percent)
            text.set_text(f"{both[0]}\n({both[1]})")
            text.set_fontweight("bold" if r == c else "normal")
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(title)
        for spine in ax.spines.values():
            spine.set_visible(False)
        cbar = fig.colorbar(display.im_, ax=ax, shrink=0.85)
        cbar.set_label("share of the true class" if normalize else "images")
    return fig


def _counts_and_shares(
    cm: np.ndarray, class_names: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """The checked matrix (K, K) and each cell's share of its row (its true class)."""
    m = np.asarray(cm)
    k = len(class_names)
    if m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape[0] != k:
        raise ValueError(
            f"cm must be ({k}, {k}) for classes {list(class_names)}, got {m.shape}"
        )
    if np.any(m < 0):
        raise ValueError("cm must hold non-negative counts")
    rows = m.sum(axis=1, keepdims=True)
    share = np.divide(m, rows, out=np.zeros(m.shape, dtype=float), where=rows > 0)
    return m, share


def _count_text(count: float) -> str:
    return f"{int(count)}" if float(count) == round(float(count)) else f"{count:.3g}"


def plot_precision_recall(
    y_true: Sequence[int] | np.ndarray,
    scores: Sequence[float] | np.ndarray,
    threshold: float | None = None,
    title: str = "Precision and recall for the bottle class",
    ax: Axes | None = None,
) -> Figure:
    """Precision-recall curve of binary labels (N,) against positive-class scores (N,).

    ``scores`` may also be class probabilities (N, 2): column 1 is used. The chance line
    is the positive share; ``threshold`` marks the point ``scores >= threshold``.
    """
    from sklearn.metrics import average_precision_score, precision_recall_curve

    y = np.asarray(y_true)
    s = np.asarray(scores, dtype=float)
    if s.ndim == 2 and s.shape[1] == 2:
        s = s[:, 1]
    if y.ndim != 1 or s.shape != y.shape or y.size == 0:
        raise ValueError(
            f"y_true (N,) and scores (N,) must match, got {y.shape} and {s.shape}"
        )
    if not np.all(np.isin(y, (0, 1))):
        raise ValueError(f"y_true must hold 0/1 labels, found {np.unique(y)[:10]}")
    if y.sum() == 0:
        raise ValueError(
            "y_true has no positive example: precision and recall are undefined"
        )
    precision, recall, _ = precision_recall_curve(y, s)
    ap = average_precision_score(y, s)
    base = float(y.mean())
    with book_style():
        fig, ax = _figure_and_axes(ax, (6.5, 4.8))
        ax.plot(
            recall,
            precision,
            drawstyle="steps-post",
            color=PALETTE[0],
            label=f"model (average precision {ap:.2f})",
        )
        ax.axhline(
            base,
            color="#777777",
            linestyle="--",
            label=f"chance (positive share {base:.2f})",
        )
        if threshold is not None:
            pred = s >= threshold
            tp = int(np.sum(pred & (y == 1)))
            p_at = tp / pred.sum() if pred.sum() else 1.0
            r_at = tp / int(y.sum())
            ax.plot(
                r_at,
                p_at,
                marker="o",
                markersize=11,
                color=PALETTE[1],
                markeredgecolor="black",
                linestyle="none",
                label=f"threshold {threshold:.2f}",
            )
            ax.annotate(
                f"threshold {threshold:.2f}\nprecision {p_at:.2f}\nrecall {r_at:.2f}",
                xy=(r_at, p_at),
                xytext=(-20 if r_at > 0.5 else 20, -40 if p_at > 0.5 else 40),
                textcoords="offset points",
                ha="right" if r_at > 0.5 else "left",
                arrowprops={"arrowstyle": "->", "color": NEUTRAL_COLOR},
                bbox={"boxstyle": "round", "fc": "white", "ec": "#999999"},
            )
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

    ``rows`` maps a model name to ``{"precision", "recall", "f1"}`` (``"f1-score"`` as
    in scikit-learn's report works too). ``reference`` rows (e.g. a published result)
    are hatched, drawn below a line and marked "(reference)".
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
                value = scores.get(
                    metric, scores.get("f1-score") if metric == "f1" else None
                )
                if value is None:
                    raise ValueError(
                        f"model {model!r} lacks {metric!r}: has {sorted(scores)}"
                    )
                if not 0.0 <= float(value) <= 1.0:
                    raise ValueError(
                        f"model {model!r}: {metric} must lie in [0, 1], got {value}"
                    )
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
                ax.barh(
                    yi,
                    vals[j],
                    height=bar_h * 0.92,
                    color=PALETTE[j],
                    hatch="//" if is_ref else None,
                    alpha=0.55 if is_ref else 1.0,
                    edgecolor="black" if is_ref else PALETTE[j],
                    label=("F1" if metric == "f1" else metric)
                    if yi == offsets[0]
                    else None,
                )
                ax.text(
                    vals[j] + 0.01, yi, f"{vals[j]:.2f}", va="center", fontsize=_SMALL
                )
        n_ref = sum(is_ref for *_, is_ref in table)
        if n_ref and n_ref < n:
            ax.axhline(
                y[n - n_ref] + 0.5, color="#777777", linestyle=":", linewidth=1.2
            )
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
        fig.legend(
            *ax.get_legend_handles_labels(),
            loc="outside lower center",
            ncols=3,
            frameon=False,
        )
    return fig


#: How :func:`plot_ablation` marks a step against the one it changes (shape and colour).
ABLATION_MARKS = {
    "start": ("s", "#000000", "starting point"),
    "better": ("^", "#009E73", "clearly better than the step before"),
    "unclear": ("o", "#0072B2", "no clear difference"),
    "worse": ("v", "#D55E00", "clearly worse than the step before"),
}
TARGET_COLOR = "#555555"  # the target line: grey, so it does not read as a step


def plot_ablation(
    names: Sequence[str],
    mean: Sequence[float],
    low: Sequence[float],
    high: Sequence[float],
    verdicts: Sequence[str] | None = None,
    target: float | None = None,
    title: str = "Bottle F1 per step, with its 90 % interval",
    xlabel: str = "mean out-of-fold bottle F1",
    ax: Axes | None = None,
) -> Figure:
    """Each step's mean score (a marker) and interval (a bar), the first step on top.

    ``names`` (S,) and ``mean``, ``low``, ``high`` (S,) in [0, 1], with low <= mean <=
    high. ``verdicts`` (S,): per step ``"start"``, ``"better"``, ``"unclear"`` or
    ``"worse"`` (against the step it changes), drawn by marker shape and colour and
    named in a legend. ``target``: a dashed vertical line at that score.
    """
    m, lo, hi = (np.asarray(v, dtype=float) for v in (mean, low, high))
    n = len(names)
    if n == 0 or not m.shape == lo.shape == hi.shape == (n,):
        raise ValueError(
            f"names, mean, low, high must have one entry per step: got {n} names, "
            f"shapes {m.shape}, {lo.shape}, {hi.shape}"
        )
    if not (np.all(lo <= m + 1e-12) and np.all(m <= hi + 1e-12)):
        raise ValueError("every step needs low <= mean <= high")
    verdicts = list(verdicts) if verdicts is not None else ["unclear"] * n
    unknown = sorted(set(verdicts) - set(ABLATION_MARKS))
    if len(verdicts) != n or unknown:
        raise ValueError(
            f"verdicts: one of {sorted(ABLATION_MARKS)} per step ({n}), got {verdicts}"
        )
    with book_style():
        fig, ax = _figure_and_axes(ax, (8.0, 1.4 + 0.5 * n))
        y = np.arange(n)[::-1].astype(float)
        ax.hlines(y, lo, hi, color=NEUTRAL_COLOR, linewidth=2.5, zorder=2)
        for kind, (marker, color, label) in ABLATION_MARKS.items():
            rows = [i for i, v in enumerate(verdicts) if v == kind]
            if rows:
                ax.scatter(
                    m[rows], y[rows], marker=marker, s=90, color=color,
                    edgecolor="black", linewidth=0.8, zorder=3, label=label,
                )  # fmt: skip
        for yi, mi in zip(y, m, strict=True):
            ax.annotate(
                f"{mi:.2f}", (mi, yi), xytext=(0, 8), textcoords="offset points",
                ha="center", va="bottom", fontsize=_SMALL,
            )  # fmt: skip
        if target is not None:
            ax.axvline(target, color=TARGET_COLOR, linestyle="--", linewidth=1.5)
            ax.text(
                target, y[0] + 0.6, f" target {target:.2f}", fontsize=_SMALL,
                va="bottom", ha="left", color=TARGET_COLOR,
            )  # fmt: skip
        ax.set_yticks(y, list(names))
        ax.set_ylim(-0.7, n - 0.2)
        right = max(float(hi.max()), target or 0.0)
        ax.set_xlim(max(0.0, float(lo.min()) - 0.05), min(1.0, right + 0.1))
        ax.set_xlabel(xlabel)
        ax.set_title(title)
        ax.grid(True, axis="x")
        fig.legend(loc="outside lower center", ncols=2, frameon=False)
    return fig
