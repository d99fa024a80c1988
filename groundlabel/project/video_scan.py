"""Finding a folder's video files and registering their frames as project rows.

Why a scan of its own: opening a folder for review reads only file names (``scan.py``),
but a video becomes rows only once its frames are counted and time-stamped, which means
one pass through the stream. That pass is done once per clip: a video the project already
lists is skipped, so re-opening the folder adds nothing twice and costs nothing.

The timestamps are those ``groundlabel.video.Video.frames`` gives (the ones the tracker
sees), so a later ``track`` or import of the same clip finds its rows by frame index.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from groundlabel.project.video_frames import add_video_frames, check_inside, videos

if TYPE_CHECKING:
    from groundlabel.project.store import ReviewProject


@dataclass
class VideoScanReport:
    """What a scan did: the videos it added, the ones it already knew, the ones it could not read."""

    added: list[str] = field(default_factory=list)
    known: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # one line per unreadable clip

    def summary(self) -> str:
        """One line for a status bar; empty when nothing happened worth saying."""
        parts = []
        if self.added:
            parts.append(f"added {len(self.added)} video(s): {', '.join(self.added)}")
        if self.problems:
            parts.append(f"could not read {len(self.problems)} video(s): {'; '.join(self.problems)}")
        return "; ".join(parts)


def scan_video_paths(root: Path) -> Iterator[Path]:
    """Video files below ``root`` in name order (hidden folders, so ``.groundlabel``, skipped)."""
    from groundlabel.video import is_video_path

    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith(".") and is_video_path(name):
                yield Path(folder) / name


def add_videos(project: ReviewProject, paths: list[Path] | None = None) -> VideoScanReport:
    """Register the frames of ``paths`` (default: every video in the project folder).

    A clip the project already lists is left alone (its rows, boxes and tracks stay as they
    are); an unreadable one is reported in ``problems`` and the others are still added.
    """
    from groundlabel.errors import GroundlabelError

    report = VideoScanReport()
    listed = {record.path for record in videos(project)}
    for path in scan_video_paths(project.root) if paths is None else paths:
        try:
            name = check_inside(project, Path(path))
        except GroundlabelError as exc:
            report.problems.append(str(exc))
            continue
        if name in listed:
            report.known.append(name)
            continue
        try:
            info, frames = _frame_times(Path(path))
        except GroundlabelError as exc:
            report.problems.append(str(exc))
            continue
        add_video_frames(project, name, info.width, info.height, frames, info.fps, len(frames))
        listed.add(name)
        report.added.append(name)
    return report


def _frame_times(path: Path):  # -> tuple[VideoInfo, list[tuple[int, float]]]
    """The clip's header and (index, timestamp) of every frame, decoding without converting
    pixels (the expensive part of ``Video.frames``); numbered and timed as ``frames()`` does."""
    import av

    from groundlabel.video import Video, VideoError, _open_container, _video_stream

    video = Video.open(path)
    frames: list[tuple[int, float]] = []
    with _open_container(path) as container:
        stream = _video_stream(container, path)
        stream.thread_type = "AUTO"
        try:
            for index, frame in enumerate(container.decode(stream)):
                frames.append((index, video._timestamp(frame, index)))
        except av.error.FFmpegError as exc:
            if not frames:
                raise VideoError(f"{path}: the stream is corrupt ({exc})") from None
            # the frames before the damage are kept, as the tracker would read them
    if not frames:
        raise VideoError(f"{path}: the video has no frames")
    return video.info, frames
