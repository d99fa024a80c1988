"""Putting the images beside the annotations, so an export is a dataset readers open as it is.

An image whose file every common reader decodes the way groundlabel shows it (8-bit RGB,
grey, palette or RGBA, no EXIF rotation) keeps its bytes: hard-linked (the default; a copy
where the filesystem cannot link), copied, or symlinked. Any other image is written *as
shown*, because readers disagree on it and the boxes are in the shown frame:

- an EXIF orientation other than 1: OpenCV (Ultralytics, Datumaro) rotates it, Pillow
  (torchvision, HF datasets) does not, so a box would land elsewhere in one of them;
- CMYK JPEGs, which Pillow and OpenCV turn into different colours;
- 16-bit and float images, which Pillow's ``convert("RGB")`` clips to white and OpenCV
  shifts; groundlabel stretches their range to 8 bits, as the review showed it.

Rewritten images are 8-bit RGB with the orientation applied and no metadata, in the
source's format (JPEG at quality ``JPEG_QUALITY``). Formats that demand JPEG (Pascal VOC's
``JPEGImages/``) get every other image converted to JPEG at the same quality. Encoding is
deterministic, so exporting twice gives byte-identical files.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from PIL import Image

from groundlabel.errors import ImageLoadError
from groundlabel.formats.names import DEFAULT_IMAGE_MODE, IMAGE_MODES  # re-exported
from groundlabel.formats.staging import make_parent
from groundlabel.images import load_image

JPEG_QUALITY = 95
# Pixel modes every reader decodes the same way groundlabel shows them.
_PORTABLE_MODES = frozenset({"RGB", "L", "RGBA", "P", "LA"})
_ORIENTATION = 0x0112


@dataclass(frozen=True)
class SourceImage:
    path: Path
    format: str  # Pillow's name: "JPEG", "PNG", ...
    portable: bool  # the bytes can be shared as they are


def inspect_image(path: Path) -> SourceImage:
    """Read the header only: format, pixel mode and EXIF orientation."""
    try:
        with Image.open(path) as opened:
            orientation = opened.getexif().get(_ORIENTATION, 1)
            portable = opened.mode in _PORTABLE_MODES and orientation in (None, 1)
            return SourceImage(path, opened.format or "", portable)
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageLoadError(str(path), f"cannot read the image header ({exc})") from None


class ImagePlacer:
    """Writes each exported image once, by the chosen mode; knows the name it will get."""

    def __init__(
        self, source_root: Path, mode: str = DEFAULT_IMAGE_MODE, files: Mapping[str, Path] | None = None
    ) -> None:
        if mode not in IMAGE_MODES:
            raise ValueError(f"image mode must be one of {', '.join(IMAGE_MODES)}, not {mode!r}")
        self.source_root = source_root
        self.files = dict(files or {})  # images that live elsewhere (a video's decoded frames)
        self.mode = mode
        self._sources: dict[str, SourceImage] = {}
        self.linked = self.copied = self.rewritten = 0

    @property
    def writes(self) -> bool:
        return self.mode != "none"

    def source(self, file_name: str) -> SourceImage:
        if file_name not in self._sources:
            path = self.files.get(file_name, self.source_root / file_name)
            self._sources[file_name] = inspect_image(path)
        return self._sources[file_name]

    def target_name(self, file_name: str, jpeg: bool = False) -> str:
        """The exported file's name: ``file_name``, or with ``.jpg`` when converted to JPEG."""
        if jpeg and self.writes and self.source(file_name).format != "JPEG":
            return PurePosixPath(file_name).with_suffix(".jpg").as_posix()
        return file_name

    def place(self, file_name: str, target: Path, jpeg: bool = False) -> None:
        """Put the image ``file_name`` (relative to the source folder) at ``target``."""
        if not self.writes:
            return
        source = self.source(file_name)
        make_parent(target)
        to_jpeg = jpeg and source.format != "JPEG"
        if not source.portable or to_jpeg:
            self._write_as_shown(source, target, "JPEG" if to_jpeg else source.format)
        elif self.mode == "symlink":
            os.symlink(source.path.resolve(), target)
            self.linked += 1
        elif self.mode == "hardlink" and _try_link(source.path, target):
            self.linked += 1
        else:
            shutil.copyfile(source.path, target)
            self.copied += 1

    def _write_as_shown(self, source: SourceImage, target: Path, image_format: str) -> None:
        shown = load_image(source.path)
        options = {"quality": JPEG_QUALITY} if image_format == "JPEG" else {}
        shown.save(target, format=image_format or "PNG", **options)
        self.rewritten += 1


def _try_link(source: Path, target: Path) -> bool:
    """A hard link, or False where the filesystem refuses (another device, no link support)."""
    try:
        os.link(source, target)
    except OSError:
        return False
    return True
