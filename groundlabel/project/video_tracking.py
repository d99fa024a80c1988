"""Tracking one of a project's videos into the project, as the desktop's "Track…" does.

The frame loop is ``groundlabel.tracking.track_video`` (the one ``groundlabel track`` runs),
with the project's classes as labels and the project's detector; nothing here tracks. What
this module adds is the project side: the run's boxes become pending tracks as ONE
reversible command (``RetrackVideo``), so a whole tracking run is one undo.

Re-tracking a video that already has tracks replaces only what nobody touched: the video's
boxes that are still pending and came from a model or an import. Accepted and rejected boxes,
and hand-made ones (keyframes), stay as they are, with their track ids; the new run's boxes
get fresh track ids. Classes a closed-set detector names beyond the project's are added
(and stay on undo, as any class does).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from groundlabel.errors import GroundlabelError
from groundlabel.project.commands import Command
from groundlabel.project.models import BoxSource, BoxStatus, ImageState
from groundlabel.project.track_edits import ReplaceBoxes
from groundlabel.project.video_frames import add_video_frames

if TYPE_CHECKING:
    from groundlabel.project.models import BoxRecord
    from groundlabel.project.store import ReviewProject
    from groundlabel.tracking import TrackJob
    from groundlabel.tracks import VideoTracks


class TrackingCancelled(GroundlabelError):
    """The user stopped the run; the project is unchanged."""


def tracking_job(
    project: ReviewProject, model: str | None, device: str = "auto", tracker: str = "bytetrack"
) -> TrackJob:
    """The ``TrackJob`` for the project: its classes as labels, its detector (or ``model``)."""
    from groundlabel.tracking import TrackJob

    labels = tuple(c.name for c in project.classes())
    if not labels:
        raise GroundlabelError("no classes to track: add the classes to look for first (Classes panel)")
    model = model or project.model
    if not model:
        raise GroundlabelError("no detector chosen for this project: pick a model first")
    return TrackJob(labels=labels, tracker=tracker, model=model, device=device or "auto")


def track_project_video(
    project: ReviewProject,
    video: str,
    job: TrackJob,
    progress: Callable[[int, int | None], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> VideoTracks:
    """Run the tracking loop on ``video`` (a path relative to the project folder); writes nothing.

    ``progress(done, total)`` after each frame; ``should_stop()`` true ends the run with
    ``TrackingCancelled``. A damaged clip, a model that does not load: ``GroundlabelError``.
    """
    from groundlabel.tracking import boxes_source, new_video_tracks, track_video, trackers
    from groundlabel.video import FrameSelection, Video

    clip = Video.open(project.root / video)
    source = boxes_source(job)
    out = new_video_tracks(video, clip)
    total = clip.info.frame_count
    done = 0

    def step(count: int) -> None:
        nonlocal done
        done += count
        if progress is not None:
            progress(done, total)
        if should_stop is not None and should_stop():
            raise TrackingCancelled(f"{video}: tracking stopped after {done} frame(s); nothing was changed")

    track_video(clip, FrameSelection(), source, trackers(job)(), out, job.detect_every, step)
    return out


def replaceable(box: BoxRecord) -> bool:
    """A box a re-run may replace: still pending and made by a model or an import (untouched)."""
    return box.track_id is not None and box.status is BoxStatus.PENDING and box.source is not BoxSource.HAND


@dataclass
class RetrackVideo(Command):
    """Store a tracking run of one video: drop its untouched tracker boxes, add the run's as pending.

    The boxes are swapped by one ``ReplaceBoxes`` (the command re-propagation uses), built on the
    first apply, when the frames exist; redo reuses it, so the boxes get their first ids back."""

    tracks: VideoTracks
    model: str | None = None
    description: str = "track video"
    _replace: ReplaceBoxes | None = field(default=None, repr=False)
    _states: dict[int, ImageState] = field(default_factory=dict, repr=False)

    def apply(self, project: ReviewProject) -> None:
        video = self.tracks
        frame_ids = add_video_frames(
            project, video.name, video.width, video.height, video.frames, video.fps, video.frame_count
        )
        if self._replace is None:
            self._replace = ReplaceBoxes(
                self._untouched(project, frame_ids), self._inserts(project, frame_ids)
            )
        self._replace.apply(project)
        self._states = {}
        for image_id in sorted({box["image_id"] for box in self._replace.boxes}):
            state = project.image(image_id).state
            if state is ImageState.NEW:
                self._states[image_id] = state
                project.set_image_state(image_id, ImageState.PREDICTED)

    def revert(self, project: ReviewProject) -> None:
        if self._replace is not None:
            self._replace.revert(project)
        for image_id, state in self._states.items():
            project.set_image_state(image_id, state)

    @staticmethod
    def _untouched(project: ReviewProject, frame_ids: dict[int, int]) -> list[int]:
        return [b.id for image_id in frame_ids.values() for b in project.boxes(image_id) if replaceable(b)]

    def _inserts(self, project: ReviewProject, frame_ids: dict[int, int]) -> list[dict[str, Any]]:
        """The run's boxes as ``insert_box`` fields, each tracker id mapped to a fresh project track."""
        boxes = self.tracks.boxes()
        class_ids = project.ensure_classes(sorted({b.label for b in boxes}))
        first = project.next_track_id()
        track_ids: dict[int, int] = {}
        return [
            {
                "image_id": frame_ids[box.frame_index],
                "class_id": class_ids[box.label],
                "xyxy": tuple(float(v) for v in box.xyxy),
                "source": BoxSource.MODEL,
                "status": BoxStatus.PENDING,
                "score": box.score,
                "model": self.model,
                "mask": box.mask,
                "track_id": track_ids.setdefault(box.track_id, first + len(track_ids)),
            }
            for box in boxes
        ]
