"""Decoding images as a viewer shows them, and reporting the ones that can't be read."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from groundlabel.errors import ImageLoadError
from groundlabel.images import expand_inputs, image_size_as_shown, iter_image_files, load_image


@pytest.mark.parametrize("mode", ["1", "L", "LA", "P", "RGBA", "CMYK", "I;16", "I", "F"])
def test_every_mode_becomes_rgb(tmp_path: Path, mode: str):
    image = Image.new(mode, (20, 10))
    extension = ".tif" if mode in ("CMYK", "I;16", "I", "F") else ".png"
    path = tmp_path / f"x{extension}"
    image.save(path)
    loaded = load_image(path)
    assert loaded.mode == "RGB"
    assert loaded.size == (20, 10)


def test_sixteen_bit_images_are_rescaled_not_clipped(tmp_path: Path):
    data = np.linspace(0, 65535, 100, dtype=np.uint16).reshape(10, 10)
    path = tmp_path / "deep.png"
    Image.fromarray(data).save(path)
    pixels = np.asarray(load_image(path))
    assert pixels.min() == 0 and pixels.max() == 255
    assert len(np.unique(pixels[..., 0])) > 50


def test_exif_orientation_is_applied(tmp_path: Path):
    image = Image.new("RGB", (40, 20), "red")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise when shown
    path = tmp_path / "rotated.jpg"
    image.save(path, exif=exif)
    assert load_image(path).size == (20, 40)
    assert image_size_as_shown(path) == (20, 40)


def test_gif_first_frame(tmp_path: Path):
    frames = [Image.new("RGB", (8, 8), color) for color in ("red", "blue")]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    red, _green, blue = load_image(path).getpixel((0, 0))
    assert red > 200 and blue < 50


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty"),
        (b"this is not an image at all", "not an image"),
    ],
)
def test_unreadable_files_name_the_reason(tmp_path: Path, content: bytes, reason: str):
    path = tmp_path / "bad.jpg"
    path.write_bytes(content)
    with pytest.raises(ImageLoadError, match=reason) as info:
        load_image(path)
    assert info.value.source == str(path)


def test_truncated_file_is_reported(tmp_path: Path):
    path = tmp_path / "cut.png"
    Image.new("RGB", (200, 200), "green").save(path)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ImageLoadError, match="corrupt or truncated"):
        load_image(path)


def test_decompression_bomb_is_refused_before_decoding(tmp_path: Path):
    path = tmp_path / "bomb.png"
    Image.new("1", (3000, 3000)).save(path)
    with pytest.raises(ImageLoadError, match="limit"):
        load_image(path, max_pixels=1_000_000)


def test_missing_file_is_reported(tmp_path: Path):
    with pytest.raises(ImageLoadError, match="no such file"):
        load_image(tmp_path / "nope.png")


def test_folders_expand_recursively_in_order_skipping_hidden_and_non_images(tmp_path: Path):
    for relative in ["b.png", "a.JPG", "sub/c.webp", "sub/d.txt", ".hidden/e.png", "sub/.f.png", "g.tiff"]:
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    found = [p.relative_to(tmp_path).as_posix() for p in iter_image_files(tmp_path)]
    assert found == ["a.JPG", "b.png", "g.tiff", "sub/c.webp"]
    assert len(expand_inputs([tmp_path, tmp_path / "missing.png"])) == 5
