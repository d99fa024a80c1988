"""A Label Studio video task tracked into ``videorectangle`` predictions, one region per track.

The tracking is the core's (``groundlabel.tracking``: ``track_video``, the ``TrackJob``'s
ByteTrack options), the same loop as ``groundlabel track``, so a video predicted through the
backend holds the tracks the command would write for the same thresholds. What differs is
where the boxes come from: the backend's one detector, already loaded, through its inference
owner thread (``DetectorBoxes`` would load a second copy), prompted with the target's label
set (``predicted_values`` aliases included). The regions are the core's Label Studio writer's
(``groundlabel.formats.tracks_labelstudio.track_regions``): frames from 1, ``time`` = index /
fps, percentages of the frame, the last keyframe before an absence not ``enabled``.

A track stops early, and the task is left without a prediction, when ``stopped()`` says so
(shutdown, the /predict budget): the caller hands the task to the background queue, which
tracks it again from the start, as an interrupted image is predicted again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from groundlabel.backend.inference_owner import InferenceOwner
from groundlabel.backend.label_video import VideoTarget

from groundlabel.detector import DetectionSettings
from groundlabel.labels import LabelSet

if TYPE_CHECKING:
    import numpy as np

    from groundlabel.video import Video, VideoFrame

log = logging.getLogger(__name__)

#: ``frames(name, total)``: a context giving ``update(n)`` for a per-video progress bar.
FrameProgress = Callable[[str, "int | None"], AbstractContextManager[Callable[[int], Any]]]


class TaskStopped(Exception):  # a stop, not an error: never a failed task
    """Tracking stopped between two frames (shutdown or out of time); nothing is posted for the task."""


@contextmanager
def no_progress(_name: str, _total: int | None) -> Iterator[Callable[[int], Any]]:
    yield lambda _n: None


LOG_EVERY_S = 30.0


@contextmanager
def logged_progress(name: str, total: int | None) -> Iterator[Callable[[int], Any]]:
    """The background worker's per-video progress: a log line every ``LOG_EVERY_S`` seconds."""
    done, last = [0], [time.monotonic()]
    of = f"/{total}" if total else ""

    def update(count: int) -> None:
        done[0] += count
        if time.monotonic() - last[0] >= LOG_EVERY_S:
            last[0] = time.monotonic()
            log.info("%s: %d%s frame(s) tracked", name, done[0], of)

    yield update


@dataclass(frozen=True)
class VideoTracking:
    """How the backend tracks: ByteTrack on the detector's boxes (``groundlabel track``'s defaults)."""

    tracker: str = "bytetrack"
    low_threshold: float = 0.1
    max_lost: int = 30


class SharedDetectorBoxes:
    """A ``BoxSource`` on the backend's detector: each frame's boxes, labels as the config names them."""

    def __init__(self, inference: InferenceOwner, labels: LabelSet, settings: DetectionSettings) -> None:
        self.inference = inference
        self.labels = labels
        self.settings = settings
        by_lower = {name.lower(): name for name in labels.names}
        self._value_of = {**by_lower, **{name: name for name in labels.names}}
        self.dropped: set[str] = set()

    def value_of(self, label: str) -> str | None:
        """The config's label value for a detected class name (exact, else ignoring case)."""
        return self._value_of.get(label) or self._value_of.get(label.lower())

    def of(self, frame: VideoFrame) -> tuple[np.ndarray, np.ndarray, list[str]]:
        import numpy as np

        result = self.inference.detect(frame.image, self.labels, self.settings)
        keep, labels = [], []
        for index, label in enumerate(result.labels):
            value = self.value_of(label)
            if value is None:
                self.dropped.add(label)
                continue
            keep.append(index)
            labels.append(value)
        boxes = np.array(result.boxes, dtype=float).reshape(-1, 4)[keep]
        return boxes, np.array(result.scores, dtype=float).reshape(-1)[keep], labels


def track_target(
    video: Video,
    target: VideoTarget,
    inference: InferenceOwner,
    settings: DetectionSettings,
    *,
    region_prefix: str,
    tracking: VideoTracking = VideoTracking(),
    video_trackers: Callable[..., Any] | None = None,
    frames: FrameProgress = no_progress,
    stopped: Callable[[], bool] = lambda: False,
) -> list[dict[str, Any]]:
    """Track every frame of ``video`` for ``target``; one ``videorectangle`` region per track.

    ``video_trackers`` (``Sam2VideoTrackers``, the backend's ``--tracker``, loaded once) follows
    each detected object through the clip, as ``groundlabel track --tracker CHECKPOINT`` does;
    without it the boxes are linked by ``tracking.tracker`` (ByteTrack).
    Raises ``VideoError`` for a damaged stream (no partial prediction is stored) and
    ``TaskStopped`` when ``stopped()`` turns true between frames.
    """
    from groundlabel.formats.tracks_labelstudio import track_regions
    from groundlabel.tracking import TrackJob, new_video_tracks, selected_count, track_video, trackers
    from groundlabel.video import FrameSelection

    box_threshold = target.score_threshold if target.score_threshold is not None else settings.box_threshold
    job = TrackJob(
        tuple(target.labels.names),
        tracker=tracking.tracker if video_trackers is None else "video",
        device=str(getattr(inference.detector, "device", "auto")),
        box_threshold=box_threshold,
        low_threshold=tracking.low_threshold,
        text_threshold=settings.text_threshold,
        nms_iou=settings.nms_iou,
        max_detections=settings.max_detections,
        max_lost=tracking.max_lost,
    )
    # The detector runs at the low threshold: ByteTrack's second association wants the low boxes.
    run = replace(settings, box_threshold=min(job.low_threshold, job.box_threshold))
    boxes = SharedDetectorBoxes(inference, target.labels, run)
    tracker = trackers(job)() if video_trackers is None else video_trackers(**job.tracker_options())
    selection = FrameSelection()
    out = new_video_tracks(video.name, video)
    _warn_framerate(video, target)
    started = time.monotonic()
    total = selected_count(video.info.frame_count, selection)
    with frames(video.name, total) as update:

        def progress(count: int) -> None:
            update(count)
            if stopped():
                raise TaskStopped(f"{video.name}: stopped after {len(out.frames)} frame(s)")

        track_video(video, selection, boxes, tracker, out, 1, progress)
    out.frame_count = len(out.frames)  # what was decoded, whatever the header said
    if boxes.dropped:
        log.info(
            "%s: classes %s are not labels of %s; their boxes were left out",
            video.name,
            sorted(boxes.dropped),
            target.from_name,
        )
    regions = track_regions(out, from_name=target.from_name, to_name=target.to_name, id_prefix=region_prefix)
    log.info(
        "%s: %d track(s) on %d frame(s) in %.1f s",
        video.name,
        len(regions),
        out.frame_count,
        time.monotonic() - started,
    )
    return regions


def _warn_framerate(video: Video, target: VideoTarget) -> None:
    """Label Studio places keyframe N at time (N-1)/framerate: a config rate unlike the clip's shifts boxes."""
    fps = video.info.fps
    if target.framerate and fps and abs(target.framerate - fps) > 0.01 * fps:
        log.warning(
            "%s: the clip runs at %g fps but <Video name=%r framerate=%g>; Label Studio will show the "
            'tracks at the wrong frames: set framerate="%g" in the labeling config',
            video.name,
            fps,
            target.to_name,
            target.framerate,
            fps,
        )
