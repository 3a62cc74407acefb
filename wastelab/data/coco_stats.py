"""Describe a COCO annotation file: what a data set holds before any photo is loaded.

The statistics chapter 2 shows for TACO and for the synthetic stand-in: how many photos
hold a bottle, how many objects a photo holds, how large the objects are, which
categories are common, how large the photos are.
"""

from __future__ import annotations

import textwrap
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .taco import ParseReport, TacoIndex, parse_annotations

# The book's definition of "bottle" (TACO's supercategory "Bottle"); caps and lids are
# categories of their own and do not count.
BOTTLE_CATEGORIES = ("Clear plastic bottle", "Glass bottle", "Other plastic bottle")


@dataclass(frozen=True)
class CocoStats:
    """Statistics of one annotation file; arrays are in image id and file order.

    ``has_bottle``, ``objects_per_image`` and ``image_sizes`` (width, height) have one
    row per image; ``relative_sizes`` (sqrt(box area / image area)) and ``is_bottle``
    one per kept annotation. ``category_counts`` maps every category name to its number
    of annotations, most frequent first.
    """

    name: str
    n_categories: int
    category_counts: dict[str, int]
    bottle_categories: tuple[str, ...]
    has_bottle: np.ndarray
    objects_per_image: np.ndarray
    relative_sizes: np.ndarray
    is_bottle: np.ndarray
    image_sizes: np.ndarray
    report: ParseReport

    @property
    def n_images(self) -> int:
        """Number of images."""
        return len(self.has_bottle)

    @property
    def n_annotations(self) -> int:
        """Number of annotations kept (see ``report`` for those skipped)."""
        return len(self.relative_sizes)

    @property
    def n_bottle_images(self) -> int:
        """Number of images with at least one bottle."""
        return int(self.has_bottle.sum())

    @property
    def bottle_share(self) -> float:
        """Share of the images that hold at least one bottle."""
        return self.n_bottle_images / self.n_images if self.n_images else 0.0

    def summary(self, top: int = 6) -> str:
        """Some lines of text, none wider than 88 characters; ``top`` categories."""
        n = self.objects_per_image
        q = np.percentile(n, [25, 50, 75]) if n.size else np.zeros(3)
        s = np.percentile(self.relative_sizes, [25, 50, 75]) if n.sum() else q * 0
        mpixel = self.image_sizes.prod(axis=1) / 1e6
        longer = self.image_sizes.max(axis=1)
        common = list(self.category_counts.items())[:top]
        lines = [
            f"images {self.n_images:,}, annotations {self.n_annotations:,}, "
            f"categories {self.n_categories:,}",
            f"images with a bottle: {self.n_bottle_images:,} of {self.n_images:,} "
            f"({self.bottle_share:.1%}); bottle = {', '.join(self.bottle_categories)} "
            "(caps and lids are not bottles)",
            f"objects per image: mean {n.mean() if n.size else 0:.2f}, "
            f"median {q[1]:g}, quartiles {q[0]:g} to {q[2]:g}, "
            f"most {n.max() if n.size else 0:,}",
            "object size, sqrt(box area / image area): "
            f"median {s[1]:.3f}, quartiles {s[0]:.3f} to {s[2]:.3f}",
        ]
        if self.n_images:
            lines.append(
                f"image sizes: median {np.median(mpixel):.1f} Mpixel, longer side "
                f"{longer.min():,} to {longer.max():,} px "
                f"(median {np.median(longer):g})"
            )
        lines.append("most annotated: " + ", ".join(f"{k} {v:,}" for k, v in common))
        return "\n".join(
            textwrap.fill(line, 88, subsequent_indent="  ") for line in lines
        )


def coco_statistics(
    source: str | Path | Mapping[str, Any] | TacoIndex,
    bottle_categories: tuple[str, ...] = BOTTLE_CATEGORIES,
    strict: bool = False,
) -> CocoStats:
    """Count what a COCO annotation file holds (see :class:`CocoStats`).

    ``source`` is a file or dict as for :func:`~wastelab.data.taco.parse_annotations`
    (read with ``strict``), or an index it returned. An image holds a bottle when one of
    its annotations has a category named in ``bottle_categories`` (any case).
    """
    index = (
        source
        if isinstance(source, TacoIndex)
        else parse_annotations(source, strict=strict)
    )
    wanted = {name.casefold() for name in bottle_categories}
    bottle_ids = {
        cid
        for cid, c in index.categories.items()
        if str(c["name"]).casefold() in wanted
    }
    image_ids = sorted(index.images)
    anns = [ann for i in image_ids for ann in index.annotations[i]]
    sizes = np.array(
        [(index.images[i]["width"], index.images[i]["height"]) for i in image_ids],
        dtype=np.int64,
    ).reshape(-1, 2)
    area = {i: index.images[i]["width"] * index.images[i]["height"] for i in image_ids}
    relative = np.array(
        [np.sqrt(a["bbox"][2] * a["bbox"][3] / area[a["image_id"]]) for a in anns],
        dtype=np.float64,
    )
    counts = Counter(index.categories[a["category_id"]]["name"] for a in anns)
    for category in index.categories.values():
        counts.setdefault(category["name"], 0)
    return CocoStats(
        name=index.report.name,
        n_categories=len(index.categories),
        category_counts=dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))),
        bottle_categories=tuple(bottle_categories),
        has_bottle=np.array(
            [
                any(a["category_id"] in bottle_ids for a in index.annotations[i])
                for i in image_ids
            ],
            dtype=bool,
        ),
        objects_per_image=np.array(
            [len(index.annotations[i]) for i in image_ids], dtype=np.int64
        ),
        relative_sizes=relative,
        is_bottle=np.array([a["category_id"] in bottle_ids for a in anns], dtype=bool),
        image_sizes=sizes,
        report=index.report,
    )


# How close the synthetic stand-in must stay to TACO (tests/data/test_calibration.py):
# (statistic, how it is compared, allowed difference). "absolute": |a - b|; "relative":
# |b / a - 1|; "factor": max(a / b, b / a) - 1. The lower quartile of object sizes gets
# more room: at the stand-in's 96-pixel render size nothing is drawn under 2 pixels.
TOLERANCES = (
    ("bottle share", "absolute", 0.01),
    ("objects per image, mean", "relative", 0.10),
    ("objects per image, median", "absolute", 0.0),
    ("share of photos with one object", "absolute", 0.05),
    ("object size, lower quartile", "factor", 0.5),
    ("object size, median", "relative", 0.15),
    ("object size, upper quartile", "relative", 0.15),
    ("bottle size, median", "relative", 0.15),
)


def calibration_table(reference: CocoStats, other: CocoStats) -> list[dict[str, Any]]:
    """Compare ``other`` (the stand-in) with ``reference`` (TACO), one statistic a row.

    One dict per row of ``TOLERANCES``: ``statistic``, ``reference``, ``other``,
    ``tolerance`` (as text) and ``ok`` (within it).
    """
    rows = []
    for statistic, how, allowed in TOLERANCES:
        a, b = _statistic(reference, statistic), _statistic(other, statistic)
        if how == "absolute":
            gap, text = abs(a - b), f"± {allowed:g}"
        elif how == "relative":
            gap, text = abs(b / a - 1), f"± {allowed:.0%}"
        else:
            gap, text = max(a / b, b / a) - 1, f"within x{1 + allowed:g}"
        rows.append(
            {
                "statistic": statistic,
                "reference": a,
                "other": b,
                "tolerance": text,
                "ok": bool(gap <= allowed + 1e-12),
            }
        )
    return rows


def _statistic(stats: CocoStats, statistic: str) -> float:
    n, sizes = stats.objects_per_image, stats.relative_sizes
    values = {
        "bottle share": lambda: stats.bottle_share,
        "objects per image, mean": lambda: n.mean(),
        "objects per image, median": lambda: np.median(n),
        "share of photos with one object": lambda: np.mean(n == 1),
        "object size, lower quartile": lambda: np.percentile(sizes, 25),
        "object size, median": lambda: np.median(sizes),
        "object size, upper quartile": lambda: np.percentile(sizes, 75),
        "bottle size, median": lambda: np.median(sizes[stats.is_bottle]),
    }
    return float(values[statistic]())
