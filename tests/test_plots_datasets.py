"""The side-by-side figure of data-set statistics: four panels that draw what the data say."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from wastelab.data.coco_stats import coco_statistics  # noqa: E402
from wastelab.plots import save_figure  # noqa: E402
from wastelab.plots.datasets import plot_dataset_statistics  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _coco(objects_per_image, size, bottle_every):
    """A COCO dict: 100x100 images, square boxes of side ``size``, a bottle every few."""
    images, annotations = [], []
    for i, n in enumerate(objects_per_image):
        images.append({"id": i, "file_name": f"{i}.jpg", "width": 100, "height": 100})
        for k in range(n):
            bottle = k == 0 and i % bottle_every == 0
            annotations.append(
                {
                    "id": len(annotations),
                    "image_id": i,
                    "category_id": 0 if bottle else 1,
                    "bbox": [0, 0, size, size],
                }
            )
    categories = [
        {"id": 0, "name": "Glass bottle", "supercategory": "Bottle"},
        {"id": 1, "name": "Cigarette", "supercategory": "Cigarette"},
    ]
    return {"images": images, "annotations": annotations, "categories": categories}


def test_four_panels_show_the_statistics(tmp_path):
    a = coco_statistics(_coco([1, 1, 2, 3], size=10, bottle_every=2))
    b = coco_statistics(_coco([1] * 4 + [9], size=40, bottle_every=5))
    fig = plot_dataset_statistics({"A": a, "B": b}, title="A vs B", max_objects=4)
    path = save_figure(fig, tmp_path / "stats.png")
    with Image.open(path) as img:
        assert img.width > 500 and np.asarray(img.convert("L")).std() > 0
    assert fig.get_suptitle() == "A vs B"
    share, count, size, category = fig.axes
    assert [bar.get_height() for bar in share.patches] == pytest.approx([0.5, 0.2])
    assert [t.get_text() for t in share.texts] == ["50.0%", "20.0%"]
    heights = [bar.get_height() for bar in count.patches]
    assert heights[:4] == pytest.approx([0.5, 0.25, 0.25, 0])  # A: 1, 1, 2, 3 objects
    assert heights[4:] == pytest.approx([0.8, 0, 0, 0.2])  # B: 9 shows as "4+"
    assert [t.get_text() for t in count.get_xticklabels()] == ["1", "2", "3", "4+"]
    steps = [line for line in size.lines if line.get_label() in ("A", "B")]
    assert [line.get_xdata()[0] for line in steps] == pytest.approx([0.1, 0.4])
    assert size.get_xscale() == "log"
    widths = [bar.get_width() for bar in category.patches]
    assert sorted(widths) == pytest.approx(sorted([5 / 7, 2 / 7, 12 / 13, 1 / 13]))
    labels = [t.get_text() for t in category.get_yticklabels()]
    assert set(labels) == {"Cigarette", "Glass bottle"}


def test_rejects_empty_input():
    with pytest.raises(ValueError, match="non-empty"):
        plot_dataset_statistics({})
