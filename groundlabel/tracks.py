"""Tracks of a batch of videos, as the ``track`` command collects them and the writers take them.

Why a model apart from any format: the same tracks go to COCO-VID, YouTube-VIS and MOT
(and later into a project); each writer reads this, so they agree on frame numbers, ids and
boxes. Frame indices count from 0 here; a format that counts from 1 (MOT) adds one itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePosixPath

from groundlabel.trackers.base import TrackedBox


@dataclass
class VideoTracks:
    """One video's tracks: its geometry, the frames that were processed and the boxes on them.

    ``complete`` is False while the video is being tracked, or when an interruption or a
    damaged stream stopped it early; ``error`` says why in the latter case.
    """

    name: str
    width: int
    height: int
    fps: float
    frame_count: int | None = None
    frames: list[tuple[int, float]] = field(default_factory=list)  # (index, timestamp)
    complete: bool = False
    error: str | None = None
    _boxes: dict[tuple[int, int], TrackedBox] = field(default_factory=dict, repr=False)

    def add_frame(self, index: int, timestamp: float) -> None:
        self.frames.append((index, timestamp))

    def add(self, boxes: list[TrackedBox]) -> None:
        """Record boxes; a detected box wins over an interpolated one for the same track and frame."""
        for box in boxes:
            key = (box.frame_index, box.track_id)
            old = self._boxes.get(key)
            if old is None or (old.interpolated and not box.interpolated):
                self._boxes[key] = box

    def boxes(self) -> list[TrackedBox]:
        """Every box, by frame then track id."""
        return [self._boxes[key] for key in sorted(self._boxes)]

    def tracks(self) -> dict[int, list[TrackedBox]]:
        """Boxes by track id, each track's boxes in frame order."""
        tracks: dict[int, list[TrackedBox]] = {}
        for box in self.boxes():
            tracks.setdefault(box.track_id, []).append(box)
        return dict(sorted(tracks.items()))

    @property
    def sequence(self) -> str:
        """A name safe as one folder (MOT sequences, frame file names): the path without suffix, ``/`` as ``__``."""
        path = PurePosixPath(self.name)
        return str(path.with_suffix("")).replace("/", "__") or "video"

    def frame_file(self, index: int) -> str:
        """The file name a frame gets when frames are exported (``SEQUENCE/000123.jpg``)."""
        return f"{self.sequence}/{index:06d}.jpg"


@dataclass
class TrackSet:
    """Every video of a ``track`` run, the class names (category ids are their positions + 1) and run info."""

    labels: list[str]
    videos: list[VideoTracks] = field(default_factory=list)
    info: dict = field(default_factory=dict)

    def category_id(self, label: str) -> int:
        if label not in self.labels:
            self.labels.append(label)  # a closed-set model may name a class the prompt did not
        return self.labels.index(label) + 1
