"""One object followed from one prompt, frame after frame: what an interactive tracker needs.

Why beside ``Sam2VideoTracker``: the clip tracker starts objects from a detector's boxes on
every frame. An interactive tool (CVAT's tracking functions) instead gives one object's box or
mask on one frame, then asks where that object is on each next frame, one object at a time and
with no detector. ``SingleObjectTrack`` is that: a ``Sam2VideoTracker`` of its own (its own
streamed session, pruned as the clip tracker prunes it, so it stays bounded however long the
person keeps tracking) holding exactly one object, prompted once. A box prompt goes through
the clip tracker's own prompt code, so every frame's mask is the clip tracker's for the same
prompt and frames; a mask prompt is written into the session as transformers' processor writes
it (``Sam2VideoProcessor.process_new_mask_for_video_frame``: resized to the model's side with
antialiasing, cut at 0.5), the one thing the clip tracker never does.

The object is never dropped: a frame where the model cannot see it gives no box (None), and
its memory carries it to the frames where it shows again.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from groundlabel import masks as mask_codec
from groundlabel.trackers.base import TrackedBox
from groundlabel.trackers.sam2_video import Sam2VideoTracker, Sam2VideoTrackers, _Object

#: The one object's id in its session.
OBJECT_ID = 1
_NO_BOXES = (np.zeros((0, 4)), np.zeros(0), [])


class SingleObjectTrack:
    """One object of one clip, prompted on the first frame given, followed on each next one.

    ``first`` is the object on the prompted frame (the model's own mask for the prompt, None if
    it sees nothing there); ``step(image)`` gives the object on the next frame. Frames are
    counted as they come: the caller gives them in the clip's order, every one it wants
    followed (the memory is of the frames given, not of the clip's frame numbers).
    """

    def __init__(
        self,
        trackers: Sam2VideoTrackers,
        image: Image.Image,
        *,
        box: tuple[float, float, float, float] | None = None,
        mask: np.ndarray | None = None,
        label: str = "object",
    ) -> None:
        if (box is None) == (mask is None):
            raise ValueError("give the object as a box or as a mask (one of them)")
        self.size = image.size
        self.tracker = Sam2VideoTracker(
            trackers.network,
            trackers.preprocessing,
            trackers.device,
            family=trackers.family,
            low_score=0.0,
            new_track_score=0.0,
            max_lost=sys.maxsize,  # never dropped: hidden for a while is not gone
        )
        self.frames = 0
        if box is not None:
            found = self._update(np.array([box], dtype=np.float64), np.array([1.0]), [label], image)
        else:
            prompt_mask(self.tracker, np.asarray(mask, dtype=bool), image.size, label)
            found = self._update(*_NO_BOXES, image)
        self.first: TrackedBox | None = found

    def step(self, image: Image.Image) -> TrackedBox | None:
        """The object on the next frame (same size as the prompted one), or None where it is not seen."""
        if image.size != self.size:
            raise ValueError(
                f"a {image.size[0]}x{image.size[1]} frame after a {self.size[0]}x{self.size[1]} one: "
                "a track follows one clip"
            )
        return self._update(*_NO_BOXES, image)

    def _update(self, boxes: np.ndarray, scores: np.ndarray, labels: list[str], image: Image.Image) -> Any:
        found = self.tracker.update(self.frames, boxes, scores, labels, image=image)
        self.frames += 1
        return found[0] if found else None


def prompt_mask(tracker: Sam2VideoTracker, mask: np.ndarray, size: tuple[int, int], label: str) -> None:
    """Prompt ``tracker``'s session with ``mask`` (H, W) on its next frame, as transformers' processor does."""
    width, height = size
    if mask.shape != (height, width):
        raise ValueError(f"a {mask.shape[1]}x{mask.shape[0]} mask on a {width}x{height} frame")
    if not mask.any():
        raise ValueError("the mask to follow has no pixels")
    session = tracker.session
    session.video_height, session.video_width = height, width
    side = tracker.preprocessing.target_size
    inputs = torch.from_numpy(mask).float()[None, None]
    if (height, width) != (side, side):
        inputs = F.interpolate(
            inputs, size=(side, side), mode="bilinear", align_corners=False, antialias=True
        )
        inputs = (inputs >= 0.5).float()
    obj_idx = session.obj_id_to_idx(OBJECT_ID)
    session.add_mask_inputs(obj_idx, tracker._step, inputs)
    session.remove_point_inputs(obj_idx, tracker._step)
    session.obj_with_new_inputs = [OBJECT_ID]
    tracker.objects[OBJECT_ID] = _Object(OBJECT_ID, label, 1.0, mask_codec.bbox(mask_codec.encode(mask)))
