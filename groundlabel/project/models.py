"""Plain records the project hands out: frozen snapshots, safe to pass between threads."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from groundlabel.masks import RLE


class ImageState(StrEnum):
    """Where an image is in review. Only the two reviewed states are exported by default."""

    NEW = "new"
    PREDICTED = "predicted"
    REVIEWED = "reviewed"
    REVIEWED_EMPTY = "reviewed-empty"  # a person checked it: no object here (a negative)


class BoxSource(StrEnum):
    MODEL = "model"
    HAND = "hand"
    IMPORT = "import"


class BoxStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


@dataclass(frozen=True)
class ImageRecord:
    """One image of the folder. ``width``/``height``/``content_hash`` are None until filled
    lazily (``ReviewProject.ensure_image_info``) or by a prediction; sizes are as shown (EXIF)."""

    id: int
    path: str  # relative to the project folder, '/'-separated
    state: ImageState
    width: int | None = None
    height: int | None = None
    content_hash: str | None = None
    prediction_key: str | None = None  # model + prompt + thresholds of the last prediction
    missing: bool = False  # the file was not found at the last scan; its boxes are kept
    changed: bool = False  # the file's content changed since it was hashed; cleared by a new prediction
    pending_count: int = 0
    accepted_count: int = 0
    rejected_count: int = 0
    mask_count: int = 0  # boxes of the image (any status) that carry a mask
    video: str | None = None  # a video's frame: the video's path relative to the folder
    frame: int | None = None  # ... and the frame's index in it (from 0)
    timestamp: float | None = None  # ... and its presentation time in seconds

    @property
    def is_frame(self) -> bool:
        return self.video is not None

    @property
    def size(self) -> tuple[int, int] | None:
        return None if self.width is None or self.height is None else (self.width, self.height)

    @property
    def box_count(self) -> int:
        return self.pending_count + self.accepted_count + self.rejected_count


@dataclass(frozen=True)
class ClassRecord:
    id: int
    name: str
    aliases: tuple[str, ...]
    colour: str  # "#rrggbb"
    position: int  # sort key; class order gives export ids (COCO 1.., YOLO 0..)


@dataclass(frozen=True)
class BoxRecord:
    """A box in pixels of the image as shown (x0, y0, x1, y1)."""

    id: int
    image_id: int
    class_id: int
    xyxy: tuple[float, float, float, float]
    score: float | None  # None when drawn by hand
    source: BoxSource
    status: BoxStatus
    model: str | None = None  # model that proposed it (source model/import with a model)
    box_threshold: float | None = None
    text_threshold: float | None = None
    auto_accepted: bool = False  # arrived accepted by the calibrated auto-accept rule
    # The box's instance mask (``groundlabel.masks`` RLE, pixels of the image as shown), kept in
    # the box's row so accept/reject/delete/undo move box and mask together. Not hashed: a dict.
    mask: RLE | None = field(default=None, hash=False)
    mask_score: float | None = None  # the segmenter's predicted quality of the mask
    mask_model: str | None = None  # the model that made the mask (None when drawn or imported)
    track_id: int | None = None  # the object it belongs to on a video's frames (None on still images)

    @property
    def has_mask(self) -> bool:
        return self.mask is not None

    @property
    def exported(self) -> bool:
        """Whether a dataset export includes it: accepted, or drawn by hand and not rejected."""
        return self.status is BoxStatus.ACCEPTED or (
            self.source is BoxSource.HAND and self.status is not BoxStatus.REJECTED
        )


@dataclass(frozen=True)
class MaskValue:
    """A mask to give a box (``commands.SetMasks``): the RLE, its score and the model that made it."""

    mask: RLE = field(hash=False)
    score: float | None = None
    model: str | None = None


@dataclass(frozen=True)
class ProjectChange:
    """What a committed change touched; listeners refresh just that.

    ``kind`` is one of "images", "boxes", "classes", "settings"; ``image_ids`` is empty
    when the change is not tied to images (classes, settings) or touched many (a rescan).
    """

    kinds: frozenset[str]
    image_ids: frozenset[int]
