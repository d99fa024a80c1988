"""Re-propagate a track from a frame a person fixed, up to the next frame a person fixed.

Why: a tracker drifts; the reviewer corrects the box on one frame and wants the frames after
it (or before it) redone from that box, without losing the other corrections. So the span
runs from the fixed frame to the next keyframe of the track (a box drawn or set by hand) in
each direction asked, and only the tracker's boxes inside it are replaced. Going backward
feeds the frames in reverse order: a video tracker's memory only knows "earlier in the
stream", so time reversed is a forward stream to it.

The tracker is any ``groundlabel.trackers`` tracker that propagates (``needs_frames``: SAM 2.1,
SAM 3 tracker, EdgeTAM); the result is one undoable ``ReplaceTrackSpan``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from groundlabel.project.database import ProjectError
from groundlabel.project.models import BoxSource, BoxStatus
from groundlabel.project.track_edits import ReplaceBoxes, ReplaceTrackSpan

if TYPE_CHECKING:
    from groundlabel.project.store import ReviewProject
    from groundlabel.trackers.base import Tracker

DIRECTIONS = ("forward", "backward", "both")


def propagation_span(project: ReviewProject, track_id: int, frame: int, direction: str) -> list[list[int]]:
    """The frame runs to redo, each starting at ``frame``: forward up to the next keyframe of
    the track (excluded), backward down to the previous one (excluded)."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, not {direction!r}")
    summary = project.track(track_id)
    keyframes = [k for k in summary.keyframes if k != frame]
    frames = sorted(project.frame_ids(summary.video))
    runs = []
    if direction in ("forward", "both"):
        stop = min((k for k in keyframes if k > frame), default=None)
        runs.append([frame] + [f for f in frames if f > frame and (stop is None or f < stop)])
    if direction in ("backward", "both"):
        stop = max((k for k in keyframes if k < frame), default=None)
        runs.append([frame] + [f for f in reversed(frames) if f < frame and (stop is None or f > stop)])
    return runs


def propagate_track(
    project: ReviewProject,
    track_id: int,
    frame: int,
    new_tracker: Callable[[], Tracker],
    direction: str = "forward",
    model: str | None = None,
    progress: Callable[[], None] | None = None,
) -> ReplaceBoxes:
    """The edit that redoes ``track_id`` from its box on ``frame``; execute it to apply.

    ``new_tracker`` makes a fresh propagating tracker per run (``tracker_factory(CKPT)``
    with its options). The new boxes are the model's proposals (pending), with masks.
    """
    from groundlabel.images import load_image
    from groundlabel.project.video_frames import decode_frames

    boxes = dict(project.track_boxes(track_id))
    if frame not in boxes:
        raise ProjectError(f"track #{track_id} has no box on frame {frame}: set one there first")
    prompt = boxes[frame]
    label = project.class_record(prompt.class_id).name
    video = project.track(track_id).video
    ids = project.frame_ids(video)
    runs = propagation_span(project, track_id, frame, direction)
    records = {f: project.image(ids[f]) for run in runs for f in run}
    files = decode_frames(project, records.values())
    replaced: dict[int, dict] = {}
    for run in runs:
        tracker = new_tracker()
        if not getattr(tracker, "needs_frames", False):
            raise ProjectError(
                "re-propagation needs a tracker that follows an object by its pixels "
                "(a SAM 2.1, SAM 3 tracker or EdgeTAM video checkpoint), not one that links detections"
            )
        for position, index in enumerate(run):
            if ids[index] not in files:
                break  # the video ends early (damaged): keep what was propagated
            image = load_image(files[ids[index]])
            if position == 0:
                given = (np.array([prompt.xyxy]), np.array([1.0]), [label])
            else:
                given = (np.zeros((0, 4)), np.zeros(0), [])
            found = tracker.update(position, *given, image=image)
            if progress is not None:
                progress()
            if position == 0:
                continue
            for box in found:
                replaced[index] = {
                    "image_id": ids[index],
                    "class_id": prompt.class_id,
                    "xyxy": tuple(float(v) for v in box.xyxy),
                    "score": float(box.score),
                    "source": BoxSource.MODEL,
                    "status": BoxStatus.PENDING,
                    "model": model,
                    "mask": box.mask,
                    "mask_model": model if box.mask is not None else None,
                }
    redone = {f for run in runs for f in run[1:]}
    delete = [b.id for f, b in boxes.items() if f in redone and b.source is not BoxSource.HAND]
    return ReplaceTrackSpan(
        track_id, delete, [replaced[f] for f in sorted(replaced)], f"propagate track {track_id} {direction}"
    )
