"""Decoding image files and turning images into fixed-size uint8 arrays."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

COLOR_MODES = ("gray", "rgb")

#: The colour transparent pixels become: an image with transparency is composited onto
#: it (white, like the page a cut-out is shown on) before anything else happens.
BACKGROUND = (255, 255, 255)


def channels(color: str) -> int:
    """Number of channels for a color mode: 1 for ``"gray"``, 3 for ``"rgb"``."""
    if color not in COLOR_MODES:
        raise ValueError(f"color must be one of {COLOR_MODES}, got {color!r}")
    return 1 if color == "gray" else 3


def read_image(
    path: str | Path, background: tuple[int, int, int] = BACKGROUND
) -> Image.Image:
    """Open and fully decode an image file as 8-bit RGB, upright by its EXIF tag.

    16- and 32-bit integer images are scaled to 8 bits (their whole range onto 0-255);
    transparent pixels are composited onto ``background``. Raises ``FileNotFoundError``
    for a missing file and ``ValueError`` naming the file for anything that does not
    decode (corrupt, truncated, not an image, more pixels than Pillow's limit allows).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image file not found: {path}")
    try:
        with Image.open(path) as img:
            _check_pixel_limit(img.width * img.height, path)
            img.load()  # forces a full decode: truncated files fail here
            # phone photos are often stored rotated, with an EXIF tag saying how to turn
            upright = ImageOps.exif_transpose(img)
            return _to_rgb(upright, img.format, background)
    except Image.DecompressionBombError as err:  # twice the limit: Pillow refuses
        raise ValueError(f"{path}: over Pillow's pixel limit ({err})") from err
    except _TooLarge:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise ValueError(f"{path}: not a readable image ({err})") from err


class _TooLarge(ValueError):
    """An image with more pixels than ``PIL.Image.MAX_IMAGE_PIXELS``."""


def _check_pixel_limit(pixels: int, path: Path) -> None:
    limit = Image.MAX_IMAGE_PIXELS
    if limit is not None and pixels > limit:
        raise _TooLarge(
            f"{path}: {pixels:,} pixels is over Pillow's limit of {limit:,} "
            "(PIL.Image.MAX_IMAGE_PIXELS, a guard against decompression bombs); "
            "shrink the image, or raise the limit if you trust the file"
        )


def _to_rgb(
    img: Image.Image, file_format: str | None, background: tuple[int, int, int]
) -> Image.Image:
    """8-bit RGB: deep integer modes scaled down, transparency onto ``background``."""
    if img.mode.startswith("I"):
        img = _scale_to_8_bits(img, file_format)
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        base = Image.new("RGBA", rgba.size, (*background, 255))
        return Image.alpha_composite(base, rgba).convert("RGB")
    return img.convert("RGB")


def _scale_to_8_bits(img: Image.Image, file_format: str | None) -> Image.Image:
    """Gray 8-bit from Pillow's integer modes: "I;16*" (0-65535) and "I" (32-bit
    signed; a PNG opened as "I" holds 16 bits). Negative values become 0."""
    sixteen = img.mode.startswith("I;16") or file_format == "PNG"
    top = 2**16 - 1 if sixteen else 2**31 - 1
    values = np.asarray(img, dtype=np.float64)
    scaled = np.round(np.clip(values, 0, top) * (255 / top)).astype(np.uint8)
    return Image.fromarray(scaled, mode="L")


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
    """Crop a COCO box ``(x, y, w, h)`` enlarged by ``margin`` (a fraction of its
    size)."""
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
