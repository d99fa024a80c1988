"""The format-neutral dataset every reader returns and every writer takes.

Readers check the file's shape and its internal consistency (a box's class must be one the
file defines) and report problems as ``FormatError`` naming the file and the entry; they
know nothing about projects. Matching images to a project folder happens on import.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from groundlabel.errors import GroundlabelError
from groundlabel.masks import RLE

# Called once per image written or read; the CLI advances a progress bar with it.
Progress = Callable[[], None]


class FormatError(GroundlabelError):
    """A dataset file that cannot be read or imported, with the file and the entry at fault."""

    def __init__(self, file: str, entry: str, reason: str) -> None:
        super().__init__(f"{file}: {entry}: {reason}" if entry else f"{file}: {reason}")
        self.file = file
        self.entry = entry
        self.reason = reason


def read_json_file(path: Path) -> Any:
    """A JSON document, or a ``FormatError`` that names the file (missing, unreadable, not JSON)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FormatError(str(path), "", "no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FormatError(str(path), "", f"not readable JSON ({exc})") from None


@dataclass(frozen=True)
class DatasetBox:
    """xyxy pixels of the image as shown; ``score`` only for predictions.

    ``mask`` is the box's instance mask (``groundlabel.masks`` RLE, pixels of the image as
    shown), None when it has none. A reader that cannot know the image's size in pixels
    (YOLO segmentation rows, Label Studio polygons without ``original_width``) gives
    ``polygons`` instead, as fractions of the size (0..1), and import turns them into
    ``mask`` once the project image's size is known.
    """

    xyxy: tuple[float, float, float, float]
    class_name: str
    score: float | None = None
    entry: str = ""  # where it was read from, for messages ("annotations[4]")
    mask: RLE | None = field(default=None, hash=False, compare=True)
    mask_score: float | None = None
    polygons: tuple[tuple[float, ...], ...] | None = None  # normalised; see the docstring
    # The format has no box, only the outline (a YOLO seg row, a lone Label Studio polygon):
    # import makes the box the mask's pixel bounds.
    box_from_mask: bool = False


@dataclass
class DatasetImage:
    file_name: str  # relative to the image folder, '/'-separated
    width: int | None
    height: int | None
    boxes: list[DatasetBox] = field(default_factory=list)
    entry: str = ""  # where in ``file`` it was read from, for messages ("images[3]")
    file: str = ""  # the file it was read from, when not the dataset's ``source`` (VOC, YOLO)
    # Whether a person labelled it (ground truth, Label Studio annotations) rather than a model.
    labelled: bool = True
    # Box coordinates are fractions of the image size (0..1), as YOLO stores them; the
    # importer scales them by the project image's size. (YOLO file names also lack the
    # extension; the importer matches a name with or without one.)
    normalised: bool = False
    split: str = "train"  # the split an export puts it in (see ``groundlabel.formats.splits``)
    # What moves between splits as one: a video's frames go together (or by chunks of frames),
    # so a val frame is never the neighbour of a train frame. Empty: the image alone.
    group: str = ""


@dataclass
class Dataset:
    class_names: list[str]
    images: list[DatasetImage] = field(default_factory=list)
    source: str = ""  # file or folder it was read from
    model: str | None = None  # model that made the boxes, when the file says so
    box_threshold: float | None = None
    text_threshold: float | None = None
    # Label colours by class name, used by formats that carry them (Label Studio).
    colours: dict[str, str] = field(default_factory=dict)
    # Split names in the order an export writes them; every image's ``split`` is one of them.
    splits: list[str] = field(default_factory=lambda: ["train"])
    # Where an image's pixels are when not at ``source / file_name``: a video's frames,
    # decoded from the clip (``project.video_frames``). File name -> absolute path.
    files: dict[str, Path] = field(default_factory=dict)

    def split_images(self, split: str) -> list[DatasetImage]:
        return [image for image in self.images if image.split == split]

    @property
    def has_masks(self) -> bool:
        """Whether any box carries a mask: formats then write their segmentation layout."""
        return any(box.mask is not None or box.polygons for image in self.images for box in image.boxes)


def tick(progress: Progress | None) -> None:
    if progress is not None:
        progress()
