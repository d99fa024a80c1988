"""The interface every tracker has, and the box it hands back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # numpy only for the annotations: `groundlabel --help` imports this module
    import numpy as np
    from PIL import Image


@dataclass(frozen=True)
class TrackedBox:
    """One box of one track on one frame: xyxy pixels, the detection's score and class.

    ``interpolated`` marks a box the tracker filled in for a frame where the object was
    missed (not detected, or hidden), between two frames where it was seen. ``mask`` is the
    object's mask on the frame (compressed COCO RLE, ``groundlabel.masks``) from a tracker that
    propagates masks, else None.
    """

    frame_index: int
    track_id: int
    label: str
    xyxy: tuple[float, float, float, float]
    score: float
    interpolated: bool = False
    mask: dict[str, Any] | None = None


class Tracker(Protocol):
    """Association of detections into tracks, one video at a time, frames in increasing order.

    ``update`` takes one frame's detections (``boxes`` (N, 4) xyxy, ``scores`` (N,),
    ``labels`` N class names) and returns the boxes it now knows for that frame and for
    earlier frames it could only decide later (a track's first box once the track is
    confirmed, boxes filled into a gap once the object is found again). ``finish`` returns
    what is still pending at the end of the clip. The caller collects boxes by frame.

    ``needs_frames`` says whether ``update`` needs the frame's pixels (``image``): a tracker
    that propagates masks does, an association tracker does not.
    """

    needs_frames: bool

    def update(
        self,
        frame_index: int,
        boxes: np.ndarray,
        scores: np.ndarray,
        labels: list[str],
        image: Image.Image | None = None,
    ) -> list[TrackedBox]: ...

    def finish(self) -> list[TrackedBox]: ...
