"""ByteTrack: association of every detection box, the low-scoring ones included, into tracks.

Why our own: Roboflow's ``trackers`` (Apache-2.0) implements ByteTrack, but it requires
``opencv-python`` (the GUI build) and ``supervision``; beside the ``opencv-python-headless``
the core ships, both install a ``cv2`` package and one overwrites the other, breaking the
headless install (and the Docker image) at random. The algorithm is small, so this module
implements it from the paper (Zhang et al., "ByteTrack: Multi-Object Tracking by Associating
Every Detection Box", ECCV 2022), with numpy and scipy's ``linear_sum_assignment`` only.

The algorithm, per frame:
1. every track's Kalman filter predicts its box on this frame;
2. high-score detections are matched to the confirmed tracks (tracked or recently lost)
   by IoU (Hungarian assignment, a minimum IoU);
3. the low-score detections are matched to the confirmed tracks left over: the paper's point,
   a box scored low because it is partly hidden still continues its track instead of being
   thrown away (or starting a false one). The paper offers them to tracks seen on the last
   frame only; here a track missed for a few frames (a dropped detection just before the
   occlusion) takes them too, at the stricter ``low_match_iou``;
4. tracks still unmatched become lost (their size stops changing while they coast), and are
   removed after ``max_lost`` frames;
5. high-score detections left over are matched to the tentative tracks born last frame
   (a track is confirmed only when seen twice, which keeps one-frame false positives out);
6. what is left and scores at least ``new_track_score`` starts a tentative track.

Two choices for labelling, where a person reviews every box:
- association is class-aware: a ``car`` track never takes a ``person`` box;
- a lost track found again gets its gap filled by linear interpolation (as the paper does
  for its MOTChallenge results), marked ``interpolated``, on the frames that were processed.
Ids count 1, 2, 3, ... in the order tracks are confirmed, so no id is burnt by a false positive.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from groundlabel.trackers.base import TrackedBox
from groundlabel.trackers.kalman import BoxKalman


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box of ``a`` (N, 4) with every box of ``b`` (M, 4), xyxy."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    x0 = np.maximum(a[:, None, 0], b[None, :, 0])
    y0 = np.maximum(a[:, None, 1], b[None, :, 1])
    x1 = np.minimum(a[:, None, 2], b[None, :, 2])
    y1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def match(
    track_boxes: np.ndarray,
    track_labels: list[str],
    det_boxes: np.ndarray,
    det_labels: list[str],
    min_iou: float,
) -> tuple[list[tuple[int, int]], list[int], list[int]]:
    """Hungarian assignment on 1 - IoU, same class only: (pairs, unmatched tracks, unmatched detections)."""
    if len(track_boxes) == 0 or len(det_boxes) == 0:
        return [], list(range(len(track_boxes))), list(range(len(det_boxes)))
    iou = iou_matrix(track_boxes, det_boxes)
    same = np.array([[t == d for d in det_labels] for t in track_labels], dtype=bool)
    iou = np.where(same, iou, 0.0)
    rows, cols = linear_sum_assignment(1.0 - iou)
    pairs = [(r, c) for r, c in zip(rows.tolist(), cols.tolist(), strict=True) if iou[r, c] >= min_iou]
    matched_tracks = {r for r, _ in pairs}
    matched_dets = {c for _, c in pairs}
    return (
        pairs,
        [i for i in range(len(track_boxes)) if i not in matched_tracks],
        [j for j in range(len(det_boxes)) if j not in matched_dets],
    )


@dataclass
class _Track:
    label: str
    kalman: BoxKalman
    last_box: np.ndarray
    last_score: float
    last_frame: int
    track_id: int = 0  # 0 while tentative
    first: TrackedBox | None = None  # the tentative track's first box, given out on confirmation
    lost_frames: list[int] = field(default_factory=list)  # processed frames since last seen

    @property
    def confirmed(self) -> bool:
        return self.track_id > 0


class ByteTrack:
    """ByteTrack association (see the module docstring); one instance per video."""

    needs_frames = False

    def __init__(
        self,
        high_score: float = 0.5,
        low_score: float = 0.1,
        new_track_score: float = 0.6,
        match_iou: float = 0.2,
        low_match_iou: float = 0.5,
        tentative_match_iou: float = 0.3,
        max_lost: int = 30,
        interpolate: bool = True,
    ) -> None:
        self.high_score = high_score
        self.low_score = low_score
        self.new_track_score = new_track_score
        self.match_iou = match_iou
        self.low_match_iou = low_match_iou
        self.tentative_match_iou = tentative_match_iou
        self.max_lost = max_lost
        self.interpolate = interpolate
        self._tracks: list[_Track] = []
        self._next_id = 1
        self._last_frame: int | None = None

    def update(
        self,
        frame_index: int,
        boxes: np.ndarray,
        scores: np.ndarray,
        labels: list[str],
        image: object = None,
    ) -> list[TrackedBox]:
        boxes = np.asarray(boxes, dtype=float).reshape(-1, 4)
        scores = np.asarray(scores, dtype=float).reshape(-1)
        if self._last_frame is not None and frame_index <= self._last_frame:
            raise ValueError(f"frames must increase: {frame_index} after {self._last_frame}")
        steps = 1 if self._last_frame is None else frame_index - self._last_frame
        first_frame = self._last_frame is None
        self._last_frame = frame_index
        for track in self._tracks:
            if track.lost_frames:
                track.kalman.hold_size()  # a lost box keeps its size while it coasts
            track.kalman.predict(steps)

        out: list[TrackedBox] = []
        high = [i for i in range(len(boxes)) if scores[i] >= self.high_score]
        low = [i for i in range(len(boxes)) if self.low_score <= scores[i] < self.high_score]
        confirmed = [t for t in self._tracks if t.confirmed]
        tentative = [t for t in self._tracks if not t.confirmed]

        # 2. high-score boxes to confirmed tracks, tracked and lost alike.
        pairs, rest_tracks, rest_high = self._match(confirmed, boxes, labels, high, self.match_iou)
        for track, det in pairs:
            out.extend(self._seen(track, frame_index, boxes[det], scores[det]))
        # 3. low-score boxes to the confirmed tracks still unmatched.
        pairs, _, _ = self._match([confirmed[i] for i in rest_tracks], boxes, labels, low, self.low_match_iou)
        matched = {id(t) for t, _ in pairs}
        for track, det in pairs:
            out.extend(self._seen(track, frame_index, boxes[det], scores[det]))
        # 4. unmatched confirmed tracks are lost for this frame.
        for i in rest_tracks:
            track = confirmed[i]
            if id(track) not in matched:
                track.lost_frames.append(frame_index)
        # 5. leftover high boxes confirm last frame's tentative tracks; the rest of those die.
        leftover = [high[j] for j in rest_high]
        pairs, dead, rest_new = self._match(tentative, boxes, labels, leftover, self.tentative_match_iou)
        for track, det in pairs:
            self._confirm(track)
            out.append(track.first)  # type: ignore[arg-type]
            out.extend(self._seen(track, frame_index, boxes[det], scores[det]))
        dead_ids = {id(tentative[i]) for i in dead}
        # 6. new tentative tracks (confirmed at once on the first frame, as in the paper).
        born = []
        for j in rest_new:
            det = leftover[j]
            if scores[det] < self.new_track_score:
                continue
            track = _Track(
                labels[det], BoxKalman(boxes[det]), boxes[det].copy(), float(scores[det]), frame_index
            )
            track.first = self._box(track, frame_index, boxes[det], float(scores[det]))
            if first_frame:
                self._confirm(track)
                out.append(track.first)
            born.append(track)
        self._tracks = [
            t
            for t in self._tracks
            if id(t) not in dead_ids
            and (t.confirmed or t.last_frame == frame_index)
            and frame_index - t.last_frame <= self.max_lost
        ] + born
        return out

    def finish(self) -> list[TrackedBox]:
        """Nothing is held back at the end: gaps are filled only between two sightings."""
        self._tracks = []
        return []

    def _match(
        self, tracks: list[_Track], boxes: np.ndarray, labels: list[str], dets: list[int], min_iou: float
    ) -> tuple[list[tuple[_Track, int]], list[int], list[int]]:
        predicted = np.array([t.kalman.box() for t in tracks]).reshape(-1, 4)
        pairs, rest_tracks, rest_dets = match(
            predicted, [t.label for t in tracks], boxes[dets], [labels[d] for d in dets], min_iou
        )
        return [(tracks[r], dets[c]) for r, c in pairs], rest_tracks, rest_dets

    def _confirm(self, track: _Track) -> None:
        track.track_id = self._next_id
        self._next_id += 1
        if track.first is not None:
            track.first = TrackedBox(
                track.first.frame_index, track.track_id, track.label, track.first.xyxy, track.first.score
            )

    def _seen(self, track: _Track, frame_index: int, box: np.ndarray, score: float) -> list[TrackedBox]:
        """The track's box on this frame, and its gap filled if it had been lost."""
        filled = []
        if self.interpolate and track.lost_frames:
            span = frame_index - track.last_frame
            for gap_frame in track.lost_frames:
                w = (gap_frame - track.last_frame) / span
                xyxy = (1 - w) * track.last_box + w * box
                filled.append(
                    TrackedBox(
                        gap_frame,
                        track.track_id,
                        track.label,
                        _tuple(xyxy),
                        min(track.last_score, float(score)),
                        interpolated=True,
                    )
                )
        track.kalman.update(box)
        track.last_box, track.last_score, track.last_frame = box.copy(), float(score), frame_index
        track.lost_frames = []
        return [*filled, self._box(track, frame_index, box, float(score))]

    @staticmethod
    def _box(track: _Track, frame_index: int, box: np.ndarray, score: float) -> TrackedBox:
        return TrackedBox(frame_index, track.track_id, track.label, _tuple(box), score)


def _tuple(box: np.ndarray) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = (float(v) for v in box)
    return (x0, y0, x1, y1)
