"""The ablation figure: one row per step, its interval, its verdict, the target."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from wastelab.plots.evaluation import ABLATION_MARKS, plot_ablation  # noqa: E402

NAMES = ["course CNN", "+ class weights", "+ RGB 64x64"]
MEAN, LOW, HIGH = [0.52, 0.50, 0.61], [0.48, 0.44, 0.57], [0.55, 0.56, 0.65]


def test_one_row_per_step_first_on_top_with_intervals_and_target():
    fig = plot_ablation(
        NAMES, MEAN, LOW, HIGH, verdicts=["start", "unclear", "better"], target=0.8
    )
    (ax,) = fig.axes
    labels = [t.get_text() for t in ax.get_yticklabels()]
    ticks = list(ax.get_yticks())
    assert labels == NAMES and ticks == sorted(ticks, reverse=True)
    (bars,) = ax.collections[:1]  # the intervals: one segment per step
    segments = bars.get_segments()
    assert [tuple(s[:, 0]) for s in segments] == list(zip(LOW, HIGH, strict=True))
    shown = {t.get_text() for t in ax.texts}
    assert {"0.52", "0.50", "0.61"} <= shown and any("0.80" in t for t in shown)
    assert ax.get_xlim()[1] >= 0.8  # the target is inside the axes
    legend = {t.get_text() for t in fig.legends[0].get_texts()}
    assert legend == {ABLATION_MARKS[k][2] for k in ("start", "unclear", "better")}
    plt.close(fig)


def test_without_verdicts_every_step_is_unclear_and_no_target_line():
    fig = plot_ablation(NAMES[:1], MEAN[:1], LOW[:1], HIGH[:1])
    (ax,) = fig.axes
    assert not ax.lines  # no target line
    assert [t.get_text() for t in fig.legends[0].get_texts()] == [
        ABLATION_MARKS["unclear"][2]
    ]
    plt.close(fig)


@pytest.mark.parametrize(
    "args, match",
    [
        (([], [], [], []), "one entry per step"),
        ((NAMES, MEAN[:2], LOW, HIGH), "one entry per step"),
        ((NAMES, MEAN, HIGH, LOW), "low <= mean <= high"),
    ],
)
def test_bad_inputs_are_refused(args, match):
    with pytest.raises(ValueError, match=match):
        plot_ablation(*args)


def test_unknown_verdicts_are_refused():
    with pytest.raises(ValueError, match="verdicts"):
        plot_ablation(NAMES, MEAN, LOW, HIGH, verdicts=["start", "meh", "better"])
    with pytest.raises(ValueError, match="verdicts"):
        plot_ablation(NAMES, MEAN, LOW, HIGH, verdicts=["start"])
