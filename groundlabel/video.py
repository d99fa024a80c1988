"""Reading video: a video file (through PyAV) or a folder of frames, one frame at a time.

Why one module: every command that takes a clip (``track`` today, review and export later)
must see the same frames with the same indices and timestamps, or a track written by one
is off by a frame in another. Frames stream: the decoder hands over one frame, the caller
uses it and drops it, so a 10-minute 1080p clip runs in the memory of a few frames.

Indices count decoded frames from 0 in presentation order (what a player shows), not
packets; a selection (``--frames A:B``, ``--every N``) picks among those indices, so frame 10
is frame 10 whatever was skipped. Timestamps are seconds from the stream's ``pts`` and
``time_base`` (variable frame rate keeps its true times); a folder of frames has none, so
its timestamps are ``index / fps`` with the fps the caller gives.

Every failure a user can cause (missing file, not a video, corrupt stream, no frames)
becomes a ``VideoError`` with one line naming the file.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image

from groundlabel.errors import GroundlabelError, ImageLoadError
from groundlabel.images import iter_image_files, load_image

VIDEO_EXTENSIONS = frozenset({".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v"})
# A folder of frames carries no rate; this is the rate its timestamps assume unless told.
DEFAULT_FOLDER_FPS = 30.0


class VideoError(GroundlabelError):
    """A clip cannot be opened or read; the message names it and says why."""


@dataclass(frozen=True)
class VideoFrame:
    """One decoded frame: its index among all frames, its time in seconds and its RGB pixels."""

    index: int
    timestamp: float
    image: Image.Image

    def array(self) -> np.ndarray:
        """The pixels as an (H, W, 3) uint8 array."""
        return np.asarray(self.image)


@dataclass(frozen=True)
class FrameSelection:
    """Which frame indices to use: ``start <= index < stop`` and every ``every``-th from ``start``."""

    start: int = 0
    stop: int | None = None
    every: int = 1

    @classmethod
    def parse(cls, frames: str | None = None, every: int = 1) -> FrameSelection:
        """``"A:B"``, ``"A:"`` or ``":B"`` (Python slice bounds, B excluded) and a step."""
        if every < 1:
            raise GroundlabelError(f"--every {every}: must be at least 1")
        if not frames:
            return cls(0, None, every)
        text = frames.strip()
        if text.count(":") != 1:
            raise GroundlabelError(f"--frames {frames!r}: write START:STOP, e.g. 0:300 (STOP excluded)")
        start_text, stop_text = (part.strip() for part in text.split(":"))
        try:
            start = int(start_text) if start_text else 0
            stop = int(stop_text) if stop_text else None
        except ValueError:
            raise GroundlabelError(f"--frames {frames!r}: START and STOP must be whole numbers") from None
        if start < 0 or (stop is not None and stop <= start):
            raise GroundlabelError(f"--frames {frames!r}: need 0 <= START < STOP")
        return cls(start, stop, every)

    def picks(self, index: int) -> bool:
        return index >= self.start and (index - self.start) % self.every == 0 and not self.past(index)

    def past(self, index: int) -> bool:
        """True once ``index`` is beyond the selection: reading can stop there."""
        return self.stop is not None and index >= self.stop


def is_video_path(path: str | os.PathLike[str]) -> bool:
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS


@dataclass
class VideoInfo:
    """What is known before decoding: size, rate and (an estimate of) the frame count."""

    name: str
    width: int
    height: int
    fps: float
    frame_count: int | None  # from the container's header; None when it does not say


class Video:
    """A clip to read: ``Video.open(path)`` probes it, ``frames()`` streams its frames.

    ``open`` reads only the header, so a batch can report every unreadable clip before it
    decodes any.
    """

    def __init__(self, path: Path, info: VideoInfo, folder_frames: list[Path] | None = None) -> None:
        self.path = path
        self.info = info
        self._folder_frames = folder_frames

    @classmethod
    def open(cls, path: str | os.PathLike[str], folder_fps: float = DEFAULT_FOLDER_FPS) -> Video:
        path = Path(path)
        if not path.exists():
            raise VideoError(f"{path}: no such file or folder")
        if path.is_dir():
            return cls._open_folder(path, folder_fps)
        if not is_video_path(path):
            raise VideoError(
                f"{path}: not a video file (expected {', '.join(sorted(VIDEO_EXTENSIONS))} or a folder of frames)"
            )
        if path.stat().st_size == 0:
            raise VideoError(f"{path}: the file is empty")
        with _open_container(path) as container:
            stream = _video_stream(container, path)
            rate = stream.average_rate or stream.guessed_rate or Fraction(DEFAULT_FOLDER_FPS)
            count = int(stream.frames) or None
            # The first frame gives the size as shown (a phone video's rotation swaps it) and
            # proves the stream decodes at all: a zero-frame or garbage clip fails here.
            first = _first_frame(container, stream, path)
        width, height = first.size
        return cls(path, VideoInfo(path.name, width, height, float(rate), count))

    @classmethod
    def _open_folder(cls, path: Path, fps: float) -> Video:
        frames = list(iter_image_files(path))
        if not frames:
            raise VideoError(f"{path}: a folder with no frames (looked for jpg, png, bmp, gif, tif, webp)")
        try:
            width, height = load_image(frames[0]).size
        except ImageLoadError as exc:
            raise VideoError(f"{path}: first frame unreadable: {exc}") from None
        return cls(path, VideoInfo(path.name, width, height, fps, len(frames)), frames)

    @property
    def name(self) -> str:
        return self.info.name

    def frames(self, selection: FrameSelection | None = None) -> Iterator[VideoFrame]:
        """The selected frames in order, decoded one at a time (nothing is kept between them)."""
        selection = selection or FrameSelection()
        if self._folder_frames is not None:
            yield from self._folder(selection)
            return
        yield from self._decode(selection)

    def frame_at(self, index: int, timestamp: float | None = None) -> VideoFrame:
        """One frame by index, as ``frames()`` numbers it.

        With the ``timestamp`` ``frames()`` gave it, a video file seeks to the keyframe before
        it and decodes forward to the frame of that time (a few frames, not the whole clip);
        without one, or when the stream does not seek, it decodes from the start.
        """
        if self._folder_frames is None and timestamp is not None:
            frame = self._seek(index, timestamp)
            if frame is not None:
                return frame
        for frame in self.frames(FrameSelection(index, index + 1)):
            return frame
        raise VideoError(f"{self.path}: has no frame {index}")

    def _seek(self, index: int, timestamp: float) -> VideoFrame | None:
        import av

        half_frame = 0.5 / max(self.info.fps, 1.0)
        with _open_container(self.path) as container:
            stream = _video_stream(container, self.path)
            if stream.time_base is None:
                return None
            try:
                container.seek(int(timestamp / stream.time_base), stream=stream, backward=True)
                for frame in container.decode(stream):
                    time = self._timestamp(frame, index)
                    if abs(time - timestamp) < 1e-6:
                        return VideoFrame(index, time, _upright(frame))
                    if time > timestamp + half_frame:
                        return None
            except av.error.FFmpegError:
                return None
        return None

    def _folder(self, selection: FrameSelection) -> Iterator[VideoFrame]:
        for index, file in enumerate(self._folder_frames or []):
            if selection.past(index):
                return
            if not selection.picks(index):
                continue
            try:
                image = load_image(file)
            except ImageLoadError as exc:
                raise VideoError(f"{self.path}: frame {index} unreadable: {exc}") from None
            if image.size != (self.info.width, self.info.height):
                raise VideoError(
                    f"{file}: frame {index} is {image.size[0]}x{image.size[1]}, the first frame "
                    f"{self.info.width}x{self.info.height}; a folder of frames needs one size"
                )
            yield VideoFrame(index, index / self.info.fps, image)

    def _decode(self, selection: FrameSelection) -> Iterator[VideoFrame]:
        import av

        with _open_container(self.path) as container:
            stream = _video_stream(container, self.path)
            stream.thread_type = "AUTO"  # frame threads: decoding keeps up with tracking
            index = -1
            try:
                for frame in container.decode(stream):
                    index += 1
                    if selection.past(index):
                        return
                    if not selection.picks(index):
                        continue
                    yield VideoFrame(index, self._timestamp(frame, index), _upright(frame))
            except av.error.FFmpegError as exc:
                raise VideoError(
                    f"{self.path}: the stream is corrupt or truncated after frame {index} ({exc}); "
                    "the frames before it were read"
                ) from None
        if index < 0:
            raise VideoError(f"{self.path}: the video has no frames")

    def _timestamp(self, frame: object, index: int) -> float:
        pts, base = getattr(frame, "pts", None), getattr(frame, "time_base", None)
        if pts is None or base is None:
            return index / self.info.fps
        return float(pts * base)


def _upright(frame: object) -> Image.Image:
    """The frame as a player shows it: RGB, turned by the display matrix of a phone video.

    FFmpeg gives the matrix's angle counter-clockwise; a player undoes it, as ``ffplay``'s
    autorotate does, so boxes are drawn on the picture people see.
    """
    pixels = frame.to_ndarray(format="rgb24")  # type: ignore[attr-defined]
    rotation = round(float(getattr(frame, "rotation", 0) or 0)) % 360
    if rotation in (90, 180, 270):
        pixels = np.ascontiguousarray(np.rot90(pixels, k=rotation // 90))
    return Image.fromarray(pixels, "RGB")


def _first_frame(container: object, stream: object, path: Path) -> Image.Image:
    import av

    try:
        for frame in container.decode(stream):  # type: ignore[attr-defined]
            return _upright(frame)
    except av.error.FFmpegError as exc:
        raise VideoError(f"{path}: the stream cannot be decoded ({exc})") from None
    raise VideoError(f"{path}: the video has no frames")


def _open_container(path: Path):
    import av

    try:
        return av.open(str(path), mode="r", timeout=30.0)
    except av.error.FFmpegError as exc:
        raise VideoError(f"{path}: not a video PyAV/FFmpeg can read ({exc})") from None


def _video_stream(container: object, path: Path) -> object:
    streams = container.streams.video  # type: ignore[attr-defined]
    if not streams:
        raise VideoError(f"{path}: the file has no video stream")
    return streams[0]


def open_videos(paths: list[str], folder_fps: float = DEFAULT_FOLDER_FPS) -> list[Video]:
    """Every clip probed first, so a bad one is reported before any work starts."""
    return [Video.open(path, folder_fps) for path in paths]
