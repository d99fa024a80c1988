"""What the track list and the timeline show of a video, as plain values (no Qt).

The project answers track questions (``project.tracks``, ``track_boxes``, ``frame_ids``); this
module turns those answers into rows and strips the widgets paint, and knows which frame is
``step`` away, so the panel and the timeline stay drawing code and tests can check the rules
without a window.
"""

from __future__ import annotations

from dataclasses import dataclass

from groundlabel.project import ClassRecord, ImageRecord, ReviewProject
from groundlabel.project.track_table import TrackSummary

LOW_SCORE = 0.5  # a tracker box scored below this is marked on the timeline (where to look first)


@dataclass(frozen=True)
class TrackRow:
    """One line of the track list."""

    summary: TrackSummary
    class_name: str
    colour: str

    @property
    def track_id(self) -> int:
        return self.summary.track_id

    @property
    def state(self) -> str:
        """accepted / rejected when every box is, pending when none is decided, else "in review"."""
        s = self.summary
        if s.accepted_count == s.box_count:
            return "accepted"
        if s.rejected_count == s.box_count:
            return "rejected"
        return "pending" if s.pending_count == s.box_count else "in review"

    def text(self) -> str:
        s = self.summary
        keys = f", {len(s.keyframes)} key" if s.keyframes else ""
        return (
            f"#{s.track_id}  {self.class_name}  {s.first_frame}–{s.last_frame}  "
            f"({s.box_count}{keys})  {self.state}"
        )


@dataclass(frozen=True)
class TrackStrip:
    """One track on the timeline: the frames it has a box on, its keyframes, its low scores."""

    track_id: int
    colour: str
    frames: tuple[int, ...]
    keyframes: tuple[int, ...]
    low: tuple[int, ...]
    rejected: bool

    def runs(self) -> list[tuple[int, int]]:
        """Contiguous spans (first, last) of ``frames``: gaps show where the track is lost."""
        spans: list[tuple[int, int]] = []
        for frame in self.frames:
            if spans and frame == spans[-1][1] + 1:
                spans[-1] = (spans[-1][0], frame)
            else:
                spans.append((frame, frame))
        return spans


def track_rows(project: ReviewProject, video: str, classes: list[ClassRecord]) -> list[TrackRow]:
    """The video's tracks in the project's order (first frame, then id), with class name and colour."""
    by_id = {c.id: c for c in classes}
    rows = []
    for summary in project.tracks(video):
        record = by_id.get(summary.class_id)
        name, colour = (record.name, record.colour) if record else (f"class {summary.class_id}", "#ffffff")
        rows.append(TrackRow(summary, name, colour))
    return rows


def track_strips(
    project: ReviewProject, rows: list[TrackRow], low_score: float = LOW_SCORE
) -> list[TrackStrip]:
    strips = []
    for row in rows:
        boxes = project.track_boxes(row.track_id)
        low = tuple(f for f, b in boxes if b.score is not None and b.score < low_score)
        strips.append(
            TrackStrip(
                row.track_id,
                row.colour,
                tuple(f for f, _ in boxes),
                row.summary.keyframes,
                low,
                row.state == "rejected",
            )
        )
    return strips


@dataclass(frozen=True)
class VideoPosition:
    """The current frame within its video: where a step or a click on the timeline goes."""

    video: str
    frame: int
    frame_ids: dict[int, int]  # frame index -> image id, of the frames in the project
    frame_count: int  # frames the timeline spans (the clip's length when known)
    fps: float | None = None

    @classmethod
    def of(cls, project: ReviewProject, record: ImageRecord) -> VideoPosition | None:
        """The position of ``record``, None for a still image."""
        if not record.is_frame or record.video is None:
            return None
        from groundlabel.project.video_frames import videos

        ids = project.frame_ids(record.video)
        info = next((v for v in videos(project) if v.path == record.video), None)
        last = max(ids) + 1 if ids else 1
        count = max(last, info.frame_count or 0) if info is not None else last
        return cls(record.video, int(record.frame or 0), ids, count, info.fps if info else None)

    def step(self, step: int) -> int | None:
        """The image id ``step`` project frames away (clamped to the ends); None if none."""
        frames = sorted(self.frame_ids)
        if not frames:
            return None
        here = frames.index(self.frame) if self.frame in self.frame_ids else 0
        return self.frame_ids[frames[max(0, min(here + step, len(frames) - 1))]]

    def nearest(self, frame: int) -> int | None:
        """The image id of the project frame closest to ``frame`` (a click between frames)."""
        if not self.frame_ids:
            return None
        return self.frame_ids[min(self.frame_ids, key=lambda f: (abs(f - frame), f))]

    def time_text(self) -> str:
        if not self.fps:
            return f"frame {self.frame} / {self.frame_count - 1}"
        seconds = self.frame / self.fps
        return f"frame {self.frame} / {self.frame_count - 1}  {int(seconds // 60):02d}:{seconds % 60:05.2f}"


def keyframe_step(strip: TrackStrip, frame: int, step: int) -> int | None:
    """The track's next (``step`` > 0) or previous keyframe from ``frame``; None if there is none."""
    if step > 0:
        return min((k for k in strip.keyframes if k > frame), default=None)
    return max((k for k in strip.keyframes if k < frame), default=None)
