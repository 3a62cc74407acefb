"""Self-checks for chapter 1, images as numbers: grayscale by hand, counting numbers.

Also the references ``grayscale`` and ``numbers_in_image`` that the solutions show.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .core import Case, run_checks, self_check

# ITU-R BT.601 luma weights for R, G and B, as Pillow's convert("L") uses them
LUMA_WEIGHTS = (0.299, 0.587, 0.114)


def grayscale(rgb: np.ndarray) -> np.ndarray:
    """Luma of an RGB image, ``0.299 R + 0.587 G + 0.114 B``, rounded to whole numbers.

    ``rgb`` is uint8 of shape (H, W, 3); returns uint8 of shape (H, W).
    """
    rgb = _as_rgb(rgb)
    luma = rgb.astype(np.float64) @ np.array(LUMA_WEIGHTS)  # (H, W, 3) @ (3,): (H, W)
    return np.clip(np.round(luma), 0, 255).astype(np.uint8)


def _as_rgb(rgb: np.ndarray) -> np.ndarray:
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[-1] != 3:
        raise ValueError(f"expected an RGB image of shape (H, W, 3), got {rgb.shape}")
    return rgb


# red, green, blue, white and black: one pixel each, in one row
PURE_COLOURS = np.array(
    [[[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255], [0, 0, 0]]],
    dtype=np.uint8,
)

_WEIGHTS_HINT = (
    "weigh the channels: gray = 0.299 R + 0.587 G + 0.114 B (pure red -> 76, "
    "pure green -> 150, pure blue -> 29)"
)


def _grayscale_hint(answer: Callable) -> str:
    """A hint for the pure-colour case: the mistake the answer seems to make."""
    try:
        got = np.asarray(answer(PURE_COLOURS.copy()), dtype=float)
    except NotImplementedError:
        raise
    except Exception:  # the case itself reports the crash
        return _WEIGHTS_HINT
    expected = grayscale(PURE_COLOURS).astype(float)
    if got.shape != expected.shape:
        if got.shape == (*expected.shape, 1):
            return (
                "return an array of shape (H, W), without a channel axis: "
                "rgb @ weights sums over the last axis and drops it"
            )
        return (
            "return one number per pixel, shape (H, W): combine the three channels "
            "along the last axis (rgb[..., 0] is red, rgb[..., 1] green, "
            "rgb[..., 2] blue)"
        )
    if np.allclose(got[0, :3], 85, atol=1):
        if abs(got[0, 3] - 255) > 1:
            return (
                "uint8 arithmetic wraps around at 256 (255 + 255 + 255 gives 253): "
                "convert to float first with rgb.astype(np.float64); and "
                + _WEIGHTS_HINT
            )
        return (
            "that is the plain average (R + G + B) / 3, which makes pure red, green "
            "and blue equally bright; our eyes see green as far brighter than blue, "
            "so " + _WEIGHTS_HINT
        )
    if np.allclose(got[0, :3], expected[0, 2::-1], atol=1):
        return (
            "the weights are in the wrong order (that is B, G, R, as OpenCV stores "
            "images); channel 0 is red: " + _WEIGHTS_HINT
        )
    if np.allclose(got, expected / 255, atol=0.01):
        return "keep the 0-255 scale of the input: white must stay 255, not 1.0"
    if abs(got[0, 3] - 255) > 1:
        return (
            "white (255, 255, 255) must stay 255: the weights add up to 1, and uint8 "
            "arithmetic wraps around at 256, so convert to float first; "
            + _WEIGHTS_HINT
        )
    return _WEIGHTS_HINT


@self_check
def check_grayscale(my_grayscale: Callable, verbose: bool = True) -> int:
    """Check ``my_grayscale(rgb)``: uint8 (H, W, 3) in, the luma as uint8 (H, W) out.

    Values may differ from the reference by 1 (rounding down instead of to nearest is
    fine).
    """
    rng = np.random.default_rng(1)
    noise = rng.integers(0, 256, size=(4, 6, 3), dtype=np.uint8)
    bright = rng.integers(200, 256, size=(3, 5, 3), dtype=np.uint8)

    def dtype_of(rgb: np.ndarray) -> Any:
        return str(np.asarray(my_grayscale(rgb)).dtype)

    cases = [
        Case(
            (PURE_COLOURS.copy(),),
            grayscale(PURE_COLOURS),
            hint=_grayscale_hint(my_grayscale),
            atol=1.0,
        ),
        Case(
            (noise.copy(),),
            grayscale(noise),
            atol=1.0,
            hint="work on every pixel at once: rgb.astype(np.float64) @ "
            "np.array([0.299, 0.587, 0.114]) gives one value per pixel, shape (H, W)",
        ),
        Case(
            (bright.copy(),),
            grayscale(bright),
            atol=1.0,
            hint="bright pixels must stay bright: convert to float before adding the "
            "channels, or uint8 arithmetic wraps around at 256",
        ),
    ]
    passed = run_checks("my_grayscale", my_grayscale, cases, verbose=False)
    passed += run_checks(
        "my_grayscale",
        dtype_of,
        [
            Case(
                (noise.copy(),),
                "uint8",
                hint="images are stored as whole numbers 0-255 of dtype uint8: round "
                "and convert, np.round(gray).astype(np.uint8)",
            )
        ],
        verbose=False,
    )
    if verbose:
        print(f"✓ my_grayscale: all {passed} checks passed")
    return passed


def numbers_in_image(height: int, width: int, channels: int) -> int:
    """How many numbers an image of shape (height, width, channels) holds."""
    return height * width * channels  # every pixel holds one number per channel


# (height, width, channels, what the image is)
IMAGES: tuple[tuple[int, int, int, str], ...] = (
    (64, 64, 3, "a 64 x 64 colour image"),
    (50, 50, 1, "the book's 50 x 50 grayscale image"),
    (100, 100, 3, "the chapter's 100 x 100 colour photo"),
    (1000, 1000, 1, "the course's 1000 x 1000 grayscale example"),
    (480, 640, 3, "a 640 x 480 colour photo (480 rows of 640 pixels)"),
)


def _count_hint(answer: Callable, height: int, width: int, channels: int) -> str:
    """A hint that names the slip the reader's count seems to make."""
    try:
        got = answer(height, width, channels)
    except NotImplementedError:
        raise
    except Exception:  # the case itself reports the crash
        got = None
    if got == height * width and channels > 1:
        return "that is the number of pixels; each pixel holds one number per channel"
    if got in (height + width + channels, height * channels, width * channels):
        return "multiply the sizes of all three axes: height x width x channels"
    if got == 8 * np.zeros((height, width, channels), dtype=np.uint8).size:
        return "count numbers, not bits: each uint8 number is one byte (8 bits)"
    return (
        "multiply height x width x channels: every pixel holds one number per channel"
    )


@self_check
def check_count_numbers(my_count_numbers: Callable, verbose: bool = True) -> None:
    """Check ``my_count_numbers(height, width, channels)`` on five image shapes."""
    cases = [
        Case(
            (height, width, channels),
            np.zeros((height, width, channels), dtype=np.uint8).size,  # numpy counts
            hint=f"{what}: " + _count_hint(my_count_numbers, height, width, channels),
        )
        for height, width, channels, what in IMAGES
    ]
    run_checks("my_count_numbers", my_count_numbers, cases, verbose=verbose)
