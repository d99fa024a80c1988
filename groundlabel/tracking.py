"""One video through a tracker: the loop that the local ``track`` run and every ``track --ray`` task call.

Why one function for both: ``track --ray`` promises the local run's output, byte for byte.
If the Ray worker had its own copy of the frame loop (which frames get boxes with
``--detect-every``, when the tracker's ``finish`` is collected, when a video counts as
complete), the two would drift the first time one of them changed. So the CLI and the Ray
actor build the same ``TrackJob`` (plain values, picklable for the workers), turn it into a
box source and a tracker with the same functions here, and run ``track_video``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # numpy and the trackers only when a run starts: `groundlabel --help` imports this
    import numpy as np

    from groundlabel.trackers.base import Tracker
    from groundlabel.tracks import VideoTracks
    from groundlabel.video import FrameSelection, Video, VideoFrame

FrameBoxes = tuple["np.ndarray", "np.ndarray", list[str]]  # (N, 4) xyxy, (N,) scores, N class names


@dataclass(frozen=True)
class TrackJob:
    """What a run's box source and trackers are built from: the ``track`` options as plain values.

    Frozen and made of strings and numbers so it travels to Ray workers as it is; each worker
    builds the same detector (or reads the same ``--detections`` file) and the same tracker.
    """

    labels: tuple[str, ...]
    tracker: str = "bytetrack"
    model: str | None = None  # None with ``detections``
    device: str = "auto"
    dtype: str = "auto"
    detections: str | None = None
    box_threshold: float = 0.35
    low_threshold: float = 0.1
    text_threshold: float = 0.25
    nms_iou: float | None = None
    max_detections: int | None = None
    max_lost: int = 30
    detect_every: int = 1

    def tracker_options(self) -> dict[str, object]:
        """The keyword arguments of a fresh tracker for one video (``tracker_factory(...)(**these)``)."""
        options: dict[str, object] = {
            "low_score": min(self.low_threshold, self.box_threshold),
            "new_track_score": min(1.0, self.box_threshold + 0.1),
            "max_lost": self.max_lost,
        }
        if self.tracker == "bytetrack":
            options["high_score"] = self.box_threshold
        return options


class BoxSource(Protocol):
    """Where a frame's boxes come from."""

    def of(self, frame: VideoFrame) -> FrameBoxes: ...


class FileBoxes:
    """Boxes read from a MOTChallenge ``det.txt``/``gt.txt`` (``--detections``), by frame index."""

    def __init__(self, path: str, labels: list[str]) -> None:
        from groundlabel.formats.tracks_mot import read_mot_detections

        self.by_frame = read_mot_detections(path, labels)

    def of(self, frame: VideoFrame) -> FrameBoxes:
        import numpy as np

        return self.by_frame.get(frame.index, (np.zeros((0, 4)), np.zeros(0), []))


class DetectorBoxes:
    """A detector of any family run on each frame, at the low threshold (ByteTrack wants the low boxes too)."""

    def __init__(self, job: TrackJob) -> None:
        from groundlabel.detector import DetectionSettings, Detector
        from groundlabel.labels import LabelSet

        self.label_set = LabelSet.parse(", ".join(job.labels)) if job.labels else None
        self.detector = Detector.load(job.model, device=job.device, dtype=job.dtype)
        self.settings = DetectionSettings(
            min(job.low_threshold, job.box_threshold), job.text_threshold, job.nms_iou, job.max_detections
        )

    def of(self, frame: VideoFrame) -> FrameBoxes:
        import numpy as np

        result = self.detector.detect_image(frame.image, self.label_set, self.settings)
        return np.array(result.boxes).reshape(-1, 4), np.array(result.scores), list(result.labels)


def boxes_source(job: TrackJob) -> BoxSource:
    """The job's boxes: its ``--detections`` file, else its detector (loaded here, once)."""
    if job.detections:
        return FileBoxes(job.detections, list(job.labels))
    return DetectorBoxes(job)


def trackers(job: TrackJob) -> Callable[[], Tracker]:
    """A callable giving a fresh tracker per video (a SAM 2.1 checkpoint is loaded here, once)."""
    from groundlabel.trackers import tracker_factory

    factory = tracker_factory(job.tracker, job.device)
    options = job.tracker_options()
    return lambda: factory(**options)


def new_video_tracks(name: str, video: Video) -> VideoTracks:
    """An empty, incomplete ``VideoTracks`` with the clip's geometry, named as the output names it."""
    from groundlabel.tracks import VideoTracks

    info = video.info
    return VideoTracks(name, info.width, info.height, info.fps, info.frame_count)


def selected_count(frame_count: int | None, selection: FrameSelection) -> int | None:
    """How many frames ``selection`` picks among ``frame_count`` (None when the count is unknown)."""
    if frame_count is None:
        return None
    stop = min(frame_count, selection.stop or frame_count)
    return max(0, -(-(stop - selection.start) // selection.every))


def track_video(
    video: Video,
    selection: FrameSelection,
    boxes: BoxSource,
    tracker: Tracker,
    out: VideoTracks,
    detect_every: int = 1,
    progress: Callable[[int], Any] | None = None,
) -> None:
    """Track the selected frames of ``video`` into ``out``, which is marked complete at the end.

    Boxes are asked for on every ``detect_every``-th selected frame (counted from the first
    selected one); the other frames go to the tracker with no boxes. A ``VideoError`` (a damaged
    stream) or an interruption leaves ``out`` incomplete, holding the frames done so far.
    ``progress(1)`` is called after each frame.
    """
    import numpy as np

    nothing: FrameBoxes = (np.zeros((0, 4)), np.zeros(0), [])
    for position, frame in enumerate(video.frames(selection)):
        frame_boxes, scores, labels = boxes.of(frame) if position % detect_every == 0 else nothing
        out.add_frame(frame.index, frame.timestamp)
        image = frame.image if tracker.needs_frames else None
        out.add(tracker.update(frame.index, frame_boxes, scores, labels, image=image))
        if progress is not None:
            progress(1)
    out.add(tracker.finish())
    out.complete = True
