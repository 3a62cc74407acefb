"""Decoding image files and turning images into fixed-size uint8 arrays."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

COLOR_MODES = ("gray", "rgb")


def channels(color: str) -> int:
    """Number of channels for a color mode: 1 for ``"gray"``, 3 for ``"rgb"``."""
    if color not in COLOR_MODES:
        raise ValueError(f"color must be one of {COLOR_MODES}, got {color!r}")
    return 1 if color == "gray" else 3


def read_image(path: str | Path) -> Image.Image:
    """Open and fully decode an image file, in RGB, turned upright by its EXIF orientation.

    Raises ``FileNotFoundError`` for a missing file and ``ValueError`` naming the file for
    anything that does not decode (corrupt, truncated, not an image).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image file not found: {path}")
    try:
        with Image.open(path) as img:
            img.load()  # forces a full decode: truncated files fail here
            # phone photos are often stored rotated, with an EXIF tag saying how to turn them
            return ImageOps.exif_transpose(img).convert("RGB")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise ValueError(f"{path}: not a readable image ({err})") from err


def to_array(
    image: Image.Image | np.ndarray,
    size: tuple[int, int] = (50, 50),
    color: str = "gray",
) -> np.ndarray:
    """Resize an image with anti-aliasing and return it as ``uint8`` of shape (H, W, C).

    ``size`` is (height, width); ``color`` is ``"gray"`` (C = 1) or ``"rgb"`` (C = 3).
    The whole image is resized: the aspect ratio is not kept, as in the course.
    """
    n_channels = channels(color)
    if isinstance(image, np.ndarray):
        image = _array_to_pil(image)
    height, width = size
    img = image.convert("L" if n_channels == 1 else "RGB")
    # reducing_gap lets Pillow shrink in steps; LANCZOS is an anti-aliasing filter.
    img = img.resize((width, height), Image.Resampling.LANCZOS, reducing_gap=3.0)
    arr = np.asarray(img, dtype=np.uint8)
    return arr.reshape(height, width, n_channels)


def crop(
    image: Image.Image, box: tuple[float, float, float, float], margin: float = 0.1
) -> Image.Image:
    """Crop a COCO box ``(x, y, w, h)`` enlarged by ``margin`` (a fraction of its size)."""
    x, y, w, h = box
    dx, dy = w * margin, h * margin
    left = max(0, int(round(x - dx)))
    top = max(0, int(round(y - dy)))
    right = min(image.width, int(round(x + w + dx)))
    bottom = min(image.height, int(round(y + h + dy)))
    return image.crop((left, top, right, bottom))


def _array_to_pil(arr: np.ndarray) -> Image.Image:
    if arr.dtype != np.uint8:
        if (
            np.issubdtype(arr.dtype, np.floating)
            and arr.size
            and arr.min() >= 0
            and arr.max() <= 1
        ):
            arr = np.round(arr * 255).astype(np.uint8)
        else:
            raise ValueError(
                f"expected uint8 or float in [0, 1], got dtype {arr.dtype}"
            )
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim == 2:
        return Image.fromarray(arr, mode="L")
    if arr.ndim == 3 and arr.shape[-1] == 3:
        return Image.fromarray(arr, mode="RGB")
    raise ValueError(
        f"expected an image of shape (H, W), (H, W, 1) or (H, W, 3), got {arr.shape}"
    )
