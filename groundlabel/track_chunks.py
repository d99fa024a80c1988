"""A long video as chunks that overlap, tracked apart, and the chunks' tracks stitched into one video's.

Why chunks: ``track --ray --chunk-frames N`` spreads one long clip over several workers. Each
chunk is an ordinary ``FrameSelection`` (a range of the selected frames), so a chunk is tracked
by the same ``track_video`` as a whole clip; consecutive chunks share ``overlap`` selected frames.

Stitching two consecutive chunks A and B:

- the frames both hold are the overlap; the cut is its middle frame. A holds the frames before
  the cut, B the cut and after: near its end A has tracked the objects for long, and near its
  start B has not (a tracker starts fresh there);
- a track of A and a track of B are the same object when their boxes agree (same class, IoU at
  least ``MATCH_IOU``) on the overlap frames; the pairs are chosen by a Hungarian assignment on
  the summed IoU of the agreeing frames, so each track joins at most one;
- a joined track takes its boxes from A before the cut and from B after it, and a box the owner
  lacks on a frame from the other (A cannot fill a gap closed only after its end; B can);
- a track only A holds keeps its boxes (B may not have confirmed the object yet); a track only B
  holds keeps its boxes from the cut on (one B began on its first frame only, without history,
  may be a false positive that A had rightly left out);
- ids are then renumbered 1, 2, 3, ... by each track's first frame (then chunk, then the chunk's
  own id), the order ByteTrack gives them, so they are dense and the same on every run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from groundlabel.trackers.base import TrackedBox
from groundlabel.tracks import VideoTracks
from groundlabel.video import FrameSelection

#: IoU at which a box of one chunk and a box of the next are the same object on an overlap frame.
MATCH_IOU = 0.5


def chunk_selections(
    selection: FrameSelection, frame_count: int | None, chunk_frames: int, overlap: int
) -> list[FrameSelection]:
    """``selection`` cut into runs of ``chunk_frames`` selected frames, each sharing ``overlap`` with the next.

    A clip whose frame count is unknown, or no longer than one chunk, is one chunk. The last
    chunk keeps the selection's own end, so a header that undercounts the frames loses none.
    """
    from groundlabel.tracking import selected_count

    if not 0 <= overlap < chunk_frames:
        raise ValueError(f"overlap {overlap} must be at least 0 and below the chunk length {chunk_frames}")
    total = selected_count(frame_count, selection)
    if total is None or total <= chunk_frames:
        return [selection]
    every, step, chunks, start = selection.every, chunk_frames - overlap, [], 0
    while True:
        end = start + chunk_frames
        last = end >= total
        stop = selection.stop if last else selection.start + end * every
        chunks.append(FrameSelection(selection.start + start * every, stop, every))
        if last:
            return chunks
        start += step


@dataclass
class _Track:
    """A stitched track: its boxes by frame, and where it came from (for the final numbering)."""

    chunk: int
    local_id: int
    boxes: dict[int, TrackedBox] = field(default_factory=dict)


def stitch(parts: list[VideoTracks]) -> VideoTracks:
    """One video's tracks from its chunks' (in order), as described in the module docstring.

    A chunk that did not complete (a damaged stream) ends the video there: it is kept, the
    chunks after it are not, and the video carries its error.
    """
    if len(parts) == 1:
        return parts[0]
    first = parts[0]
    out = VideoTracks(first.name, first.width, first.height, first.fps, first.frame_count)
    kept = []
    for part in parts:
        kept.append(part)
        if not part.complete:
            break
    tracks = [
        _Track(0, local_id, {b.frame_index: b for b in boxes}) for local_id, boxes in first.tracks().items()
    ]
    previous = {t.local_id: t for t in tracks}  # the last chunk's ids -> stitched tracks
    previous_frames = {index for index, _ in first.frames}
    for chunk, part in enumerate(kept[1:], start=1):
        frames = {index for index, _ in part.frames}
        shared = sorted(previous_frames & frames)
        cut = shared[len(shared) // 2] if shared else min(frames, default=0)
        current: dict[int, _Track] = {}
        new = part.tracks()
        pairs = _pairs(previous, new, shared)
        for local_id, boxes in new.items():
            own = {b.frame_index: b for b in boxes}
            if local_id in pairs:
                track = pairs[local_id]
                merged = {f: b for f, b in track.boxes.items() if f < cut or f not in own}
                merged.update({f: b for f, b in own.items() if f >= cut or f not in track.boxes})
                track.boxes = merged
            else:
                track = _Track(chunk, local_id, {f: b for f, b in own.items() if f >= cut})
                if track.boxes:
                    tracks.append(track)
            current[local_id] = track
        previous, previous_frames = current, frames
    for index, timestamp in sorted({frame for part in kept for frame in part.frames}):
        out.add_frame(index, timestamp)
    tracks = [t for t in tracks if t.boxes]
    tracks.sort(key=lambda t: (min(t.boxes), t.chunk, t.local_id))
    for track_id, track in enumerate(tracks, start=1):
        out.add([_renumbered(box, track_id) for box in track.boxes.values()])
    out.complete = all(part.complete for part in parts)
    out.error = next((part.error for part in kept if part.error), None)
    return out


def _pairs(
    previous: dict[int, _Track], new: dict[int, list[TrackedBox]], shared: list[int]
) -> dict[int, _Track]:
    """The new chunk's track ids that continue a stitched track, by IoU agreement on the shared frames."""
    from scipy.optimize import linear_sum_assignment

    from groundlabel.trackers.bytetrack import iou_matrix

    if not shared or not previous or not new:
        return {}
    old_tracks, new_ids = list(previous.values()), list(new)
    agreement = np.zeros((len(old_tracks), len(new_ids)))
    new_boxes = [{b.frame_index: b for b in new[i]} for i in new_ids]
    for r, old in enumerate(old_tracks):
        for c, boxes in enumerate(new_boxes):
            for frame in shared:
                a, b = old.boxes.get(frame), boxes.get(frame)
                if a is None or b is None or a.label != b.label:
                    continue
                iou = float(iou_matrix(np.array([a.xyxy]), np.array([b.xyxy]))[0, 0])
                if iou >= MATCH_IOU:
                    agreement[r, c] += iou
    rows, cols = linear_sum_assignment(-agreement)
    return {new_ids[c]: old_tracks[r] for r, c in zip(rows, cols, strict=True) if agreement[r, c] > 0}


def _renumbered(box: TrackedBox, track_id: int) -> TrackedBox:
    return TrackedBox(box.frame_index, track_id, box.label, box.xyxy, box.score, box.interpolated, box.mask)
