"""Reading images the way a viewer shows them.

Every front end decodes through ``load_image`` so the pixels the model sees, the sizes
written to datasets and the boxes drawn on screen agree: EXIF orientation applied, any
mode turned into 8-bit RGB, and unreadable files turned into one ``ImageLoadError``
naming the file and the reason.
"""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from groundlabel.errors import ImageLoadError

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"})

# Pillow's own bomb limit is about 179 Mpx; ours is explicit so the message can say so.
DEFAULT_MAX_PIXELS = 178_956_970


@dataclass(frozen=True)
class EncodedImage:
    """A file's bytes read elsewhere (a Ray Data worker, object storage) and its name for reports.

    Decoded by ``load_image`` exactly like the file itself, so a bulk run reports broken
    files with the same reasons and sees the same pixels as the plain path.
    """

    name: str
    data: bytes


ImageInput = str | os.PathLike[str] | Image.Image | EncodedImage


def _to_rgb(image: Image.Image) -> Image.Image:
    """Convert any Pillow mode to 8-bit RGB; 16-bit and float images are rescaled, not clipped."""
    if image.mode == "RGB":
        return image
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        array = np.asarray(image, dtype=np.float64)
        low, high = float(array.min()), float(array.max())
        scale = 255.0 / (high - low) if high > low else 0.0
        gray = ((array - low) * scale).round().astype(np.uint8)
        return Image.fromarray(gray, mode="L").convert("RGB")
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    return image.convert("RGB")


def describe_source(source: ImageInput) -> str:
    if isinstance(source, Image.Image):
        return getattr(source, "filename", "") or "<PIL image>"
    if isinstance(source, EncodedImage):
        return source.name
    return str(source)


def load_image(source: ImageInput, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Decode a file or PIL image into an upright RGB image, or raise ``ImageLoadError``."""
    name = describe_source(source)
    if isinstance(source, Image.Image):
        try:
            return _to_rgb(ImageOps.exif_transpose(source))
        except (OSError, ValueError) as exc:
            raise ImageLoadError(name, f"cannot convert this image: {exc}") from None
    if isinstance(source, EncodedImage):
        if not source.data:
            raise ImageLoadError(name, "the file is empty")
        return _decode(io.BytesIO(source.data), name, max_pixels)
    path = Path(source)
    if not path.exists():
        raise ImageLoadError(name, "no such file")
    if path.is_dir():
        raise ImageLoadError(name, "is a folder, not an image")
    if path.stat().st_size == 0:
        raise ImageLoadError(name, "the file is empty")
    return _decode(path, name, max_pixels)


def _decode(file: Path | io.BytesIO, name: str, max_pixels: int) -> Image.Image:
    """Pillow's decode of a file or its bytes, every failure an ``ImageLoadError`` naming ``name``."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(file) as opened:
                width, height = opened.size
                if width * height > max_pixels:
                    raise ImageLoadError(
                        name,
                        f"{width}x{height} is {width * height / 1e6:.0f} Mpx, over the "
                        f"{max_pixels / 1e6:.0f} Mpx limit (a decompression bomb guard); "
                        "raise the limit if the image is genuine",
                    )
                opened.seek(0)  # first frame of animations
                opened.load()
                return _to_rgb(ImageOps.exif_transpose(opened))
    except ImageLoadError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageLoadError(name, f"too large to decode safely ({exc})") from None
    except UnidentifiedImageError:
        raise ImageLoadError(
            name, "not an image file Pillow can read (corrupt or unsupported format)"
        ) from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageLoadError(name, f"corrupt or truncated image ({exc})") from None


def image_size_as_shown(path: str | os.PathLike[str]) -> tuple[int, int]:
    """(width, height) after EXIF rotation, read from the header only (no pixel decode)."""
    name = str(path)
    try:
        with Image.open(path) as opened:
            width, height = opened.size
            orientation = opened.getexif().get(0x0112, 1)
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageLoadError(name, f"cannot read the image header ({exc})") from None
    return (height, width) if orientation in (5, 6, 7, 8) else (width, height)


def is_image_path(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS


# Marks a folder ``groundlabel export`` wrote. Its images are copies or links of a folder's own
# images (the desktop exports into FOLDER/export by default), so scans skip it: reopening a
# project or detecting on the folder must not pick the exported copies up as new images.
EXPORT_MARKER = ".groundlabel-export"


def iter_image_files(root: str | os.PathLike[str]) -> Iterator[Path]:
    """Image files below ``root`` in a stable (sorted) order, skipping hidden and export folders."""
    root = Path(root)
    for dirpath, dirnames, filenames in os.walk(root):
        if EXPORT_MARKER in filenames and Path(dirpath) != root:
            dirnames[:] = []
            continue
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for filename in sorted(filenames):
            candidate = Path(dirpath, filename)
            if is_image_path(candidate) and not filename.startswith("."):
                yield candidate


def expand_inputs(inputs: Iterable[ImageInput]) -> list[ImageInput]:
    """Expand folders into their image files; files and PIL images pass through.

    A path that does not exist passes through too, so the batch reports it in order.
    """
    expanded: list[ImageInput] = []
    for item in inputs:
        if not isinstance(item, Image.Image | EncodedImage) and Path(item).is_dir():
            expanded.extend(iter_image_files(item))
        else:
            expanded.append(item)
    return expanded
