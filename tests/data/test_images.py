"""Image decoding and preprocessing: real files, real errors."""

import numpy as np
import pytest
from PIL import Image

from wastelab.data import crop, read_image, to_array


def _photo(path, size=(80, 60), mode="RGB", fmt="JPEG"):
    rng = np.random.default_rng(0)
    arr = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(arr).convert(mode).save(path, fmt)
    return path


def test_read_image_decodes_to_rgb(tmp_path):
    img = read_image(_photo(tmp_path / "a.jpg", mode="L"))
    assert img.mode == "RGB" and img.size == (80, 60)


def test_read_image_missing_file_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.jpg"):
        read_image(tmp_path / "nope.jpg")


def test_read_image_corrupt_file_names_it(tmp_path):
    bad = tmp_path / "corrupt.jpg"
    bad.write_bytes(b"\xff\xd8 this is not a jpeg")
    with pytest.raises(ValueError, match="corrupt.jpg"):
        read_image(bad)


def test_read_image_truncated_file_names_it(tmp_path):
    good = _photo(tmp_path / "full.png", size=(200, 200), fmt="PNG")
    cut = tmp_path / "truncated.png"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ValueError, match="truncated.png"):
        read_image(cut)


@pytest.mark.parametrize("color,channels", [("gray", 1), ("rgb", 3)])
def test_to_array_shape_and_dtype(color, channels):
    img = Image.new("RGB", (640, 480), (200, 100, 50))
    arr = to_array(img, size=(50, 40), color=color)
    assert arr.shape == (50, 40, channels) and arr.dtype == np.uint8


def test_to_array_grayscale_uses_luminance():
    arr = to_array(Image.new("RGB", (10, 10), (255, 0, 0)), size=(5, 5))
    # ITU-R 601 luma of pure red is 0.299 * 255
    assert abs(int(arr[0, 0, 0]) - 76) <= 1


def test_to_array_antialiases_fine_stripes():
    """One-pixel stripes must average to grey, not alias into dark or light bands."""
    stripes = np.zeros((500, 500), dtype=np.uint8)
    stripes[:, ::2] = 255
    small = to_array(stripes, size=(50, 50)).astype(float)
    assert abs(small.mean() - 127.5) < 5 and small.std() < 10


def test_to_array_accepts_float_arrays_and_rejects_bad_shapes():
    assert to_array(np.ones((8, 8, 3), dtype=np.float32), size=(4, 4)).max() == 255
    with pytest.raises(ValueError, match="shape"):
        to_array(np.zeros((4, 4, 2), dtype=np.uint8))
    with pytest.raises(ValueError, match="color"):
        to_array(np.zeros((4, 4), dtype=np.uint8), color="cmyk")


def test_crop_adds_margin_and_stays_inside():
    img = Image.new("RGB", (100, 100))
    assert crop(img, (10, 20, 30, 40), margin=0.1).size == (36, 48)
    assert crop(img, (0, 0, 100, 100), margin=0.5).size == (100, 100)


def _gray_ramp(path, dtype, top, mode=None):
    """A horizontal ramp from 0 to ``top`` in an integer image of ``dtype``."""
    ramp = np.tile(np.linspace(0, top, 256).round().astype(dtype), (4, 1))
    Image.fromarray(ramp, mode=mode).save(path)
    return path


def test_16_bit_gray_is_scaled_to_8_bits(tmp_path):
    path = _gray_ramp(tmp_path / "deep.png", np.uint16, 65535)
    assert Image.open(path).mode.startswith("I;16")  # really 16 bits on disk
    gray = np.asarray(read_image(path))[0, :, 0].astype(int)
    assert gray[0] == 0 and gray[-1] == 255
    assert abs(gray[128] - 128) <= 1  # mid-gray stays mid-gray (it was white)
    assert np.all(np.diff(gray) >= 0)  # the ramp survives, not a wall of white
    assert np.mean(gray == 255) < 0.01


def test_32_bit_integer_gray_is_scaled_to_8_bits(tmp_path):
    path = _gray_ramp(tmp_path / "deep.tif", np.int32, 2**31 - 1)
    assert Image.open(path).mode == "I"
    gray = np.asarray(read_image(path))[0, :, 0].astype(int)
    assert gray[0] == 0 and gray[-1] == 255 and abs(gray[128] - 128) <= 1


def test_transparency_is_composited_onto_the_stated_background(tmp_path):
    from wastelab.data.images import BACKGROUND

    rgba = np.zeros((10, 20, 4), np.uint8)
    rgba[..., :3] = (200, 0, 0)  # a hidden red...
    rgba[:, 10:, 3] = 255  # ...shown on the right half only
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "cutout.png")
    img = np.asarray(read_image(tmp_path / "cutout.png"))
    assert tuple(img[5, 2]) == BACKGROUND  # fully transparent: the background
    assert tuple(img[5, 15]) == (200, 0, 0)  # opaque: the pixel itself
    black = np.asarray(read_image(tmp_path / "cutout.png", background=(0, 0, 0)))
    assert tuple(black[5, 2]) == (0, 0, 0)


def test_palette_transparency_is_composited_too(tmp_path):
    img = Image.new("P", (4, 4), 0)
    img.putpalette([10, 20, 30, 250, 250, 250])
    img.putpixel((0, 0), 1)
    img.save(tmp_path / "palette.png", transparency=0)
    pixels = np.asarray(read_image(tmp_path / "palette.png"))
    assert tuple(pixels[1, 1]) == (255, 255, 255) and tuple(pixels[0, 0]) == (
        250,
        250,
        250,
    )


def test_image_over_the_pixel_limit_is_one_line_naming_it(tmp_path, monkeypatch):
    path = _photo(tmp_path / "huge.png", size=(120, 100), fmt="PNG")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 7_000)  # 12,000 px: over it
    with (
        pytest.warns(Image.DecompressionBombWarning),  # Pillow's own, then ours
        pytest.raises(ValueError, match=r"huge\.png: 12,000 pixels is over") as err,
    ):
        read_image(path)
    assert "\n" not in str(err.value)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 3_000)  # over twice: Pillow refuses
    with pytest.raises(ValueError, match=r"huge\.png: over Pillow's pixel limit"):
        read_image(path)
