"""Chapter 1 self-checks: the reference passes, typical mistakes fail with the right hint."""

import numpy as np
import pytest
from PIL import Image

from wastelab.data.synthetic import render_scene
from wastelab.exercises import CheckFailed
from wastelab.exercises.ch01 import (
    LUMA_WEIGHTS,
    PURE_COLOURS,
    check_count_numbers,
    check_grayscale,
    grayscale,
    numbers_in_image,
)


def _stub(*args):
    raise NotImplementedError("Exercise 1.1: write my_grayscale")


def test_reference_grayscale_matches_pillow_within_one():
    scene = render_scene(3, True, size=64)
    ours = grayscale(scene)
    pillow = np.asarray(Image.fromarray(scene).convert("L"))
    assert ours.dtype == np.uint8 and ours.shape == (64, 64)
    assert np.abs(ours.astype(int) - pillow.astype(int)).max() <= 1
    assert grayscale(PURE_COLOURS).tolist() == [[76, 150, 29, 255, 0]]
    assert sum(LUMA_WEIGHTS) == pytest.approx(1.0)


def test_reference_grayscale_rejects_wrong_shapes():
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        grayscale(np.zeros((4, 4), dtype=np.uint8))


def test_reference_and_other_correct_answers_pass(capsys):
    assert check_grayscale(grayscale) == 4
    assert "✓" in capsys.readouterr().out

    def truncating(rgb):  # rounds down instead of to nearest: off by at most 1
        return (rgb.astype(float) @ np.array(LUMA_WEIGHTS)).astype(np.uint8)

    def pillow(rgb):
        return np.asarray(Image.fromarray(rgb).convert("L"))

    assert check_grayscale(truncating, verbose=False) == 4
    assert check_grayscale(pillow, verbose=False) == 4


def test_stub_is_not_done_yet():
    with pytest.raises(NotImplementedError):
        check_grayscale(_stub)


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda rgb: rgb.mean(axis=-1).round().astype(np.uint8), "plain average"),
        (
            lambda rgb: ((rgb[..., 0] + rgb[..., 1] + rgb[..., 2]) / 3).astype(
                np.uint8
            ),
            "wraps around",
        ),
        (
            lambda rgb: np.round(rgb @ np.array(LUMA_WEIGHTS[::-1])).astype(np.uint8),
            "wrong order",
        ),
        (lambda rgb: rgb @ np.array(LUMA_WEIGHTS), "uint8"),
        (
            lambda rgb: np.round(rgb @ np.array(LUMA_WEIGHTS))[..., None].astype(
                np.uint8
            ),
            "without a channel axis",
        ),
        (lambda rgb: rgb @ np.array(LUMA_WEIGHTS) / 255, "0-255 scale"),
    ],
)
def test_grayscale_mistakes(wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_grayscale(wrong, verbose=False)


def test_numbers_in_image_reference_passes_and_stub_is_not_done_yet(capsys):
    assert numbers_in_image(50, 50, 1) == 2500
    assert numbers_in_image(64, 64, 3) == 12_288
    assert check_count_numbers(numbers_in_image) is None
    assert "✓ my_count_numbers: all 5 checks passed" in capsys.readouterr().out
    with pytest.raises(NotImplementedError):
        check_count_numbers(_stub)


def test_count_numbers_expected_values_come_from_numpy_not_the_reference(monkeypatch):
    import wastelab.exercises.ch01 as ch01

    monkeypatch.setattr(ch01, "numbers_in_image", lambda h, w, c: 0)
    check_count_numbers(lambda h, w, c: h * w * c, verbose=False)


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda h, w, c: h * w, "number of pixels"),
        (lambda h, w, c: h + w + c, "multiply the sizes"),
        (lambda h, w, c: 8 * h * w * c, "not bits"),
        (lambda h, w, c: h * w * 3, "50 x 50 grayscale"),
    ],
)
def test_count_numbers_mistakes(wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        check_count_numbers(wrong, verbose=False)


def test_grayscale_shown_in_the_book_starts_with_its_idea():
    import inspect

    body = inspect.getsource(grayscale).split('"""')[2].strip().splitlines()
    assert "raise" not in body[0] and "if " not in body[0]
