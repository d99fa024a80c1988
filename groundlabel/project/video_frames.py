"""A video's frames as images of the project: their keys, names and pixels.

Why frames are rows and not files: a 10-minute clip is 18,000 frames; exploding it into
images before review would cost gigabytes and hours, and most frames are never looked at
one by one. So a frame is a row of ``images`` keyed by (video, frame index), with the size
and timestamp the tracker saw, and its pixels are decoded from the video when something
needs them as a file (an export with images, training, a segmenter, the reviewer). Those
decoded frames are a cache under ``.groundlabel/frames/`` (lossless PNG, so they are the
pixels the tracker saw), made only for the frames asked for; deleting it loses nothing.

A folder of frames added as a video needs no cache: its frames are already files.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from groundlabel.errors import GroundlabelError
from groundlabel.project.database import ProjectError
from groundlabel.project.models import ImageRecord

if TYPE_CHECKING:
    from PIL import Image

    from groundlabel.project.store import ReviewProject

FRAME_CACHE = "frames"  # under the project's .groundlabel folder
PNG_LEVEL = 1  # zlib level of cached frames: lossless at any level, level 1 is the fastest to write


def frame_key(video: str, index: int) -> str:
    """The ``images.path`` of a frame: ``clip.mp4#000123`` (a key, not a file; sorts in frame order)."""
    return f"{video}#{index:06d}"


def video_sequence(video: str) -> str:
    """A name safe as one folder: the video's path without its suffix, ``/`` as ``__``."""
    return str(PurePosixPath(video).with_suffix("")).replace("/", "__") or "video"


def frame_file_name(video: str, index: int) -> str:
    """The file a frame becomes in an export: ``clip/000123.png`` (lossless, as decoded)."""
    return f"{video_sequence(video)}/{index:06d}.png"


def add_video_frames(
    project: ReviewProject,
    video: str,
    width: int,
    height: int,
    frames: Iterable[tuple[int, float]],
    fps: float,
    frame_count: int | None = None,
) -> dict[int, int]:
    """Make (or find) the rows of a video's frames; returns frame index -> image id.

    ``video`` is the clip's path relative to the project folder. A frame already in the
    project keeps its row (and its boxes); its size must agree.
    """
    frames = list(frames)
    with project._write("images") as connection:
        connection.execute(
            "INSERT OR IGNORE INTO videos(path, width, height, fps, frame_count) VALUES (?, ?, ?, ?, ?)",
            (video, width, height, float(fps), frame_count),
        )
        rows = connection.execute(
            "SELECT DISTINCT width, height FROM images WHERE video = ?", (video,)
        ).fetchall()
        if rows and any(tuple(r) != (width, height) for r in rows):
            raise ProjectError(
                f"{video}: the project holds its frames at {rows[0][0]}x{rows[0][1]} but these are "
                f"{width}x{height}; is it another clip under the same name?"
            )
        connection.executemany(
            "INSERT OR IGNORE INTO images(path, width, height, video, frame, timestamp) VALUES (?, ?, ?, ?, ?, ?)",
            [(frame_key(video, i), width, height, video, i, float(t)) for i, t in frames],
        )
        ids = dict(connection.execute("SELECT frame, id FROM images WHERE video = ?", (video,)).fetchall())
    return {index: ids[index] for index, _ in frames}


@dataclass(frozen=True)
class VideoRecord:
    path: str  # relative to the project folder
    width: int
    height: int
    fps: float
    frame_count: int | None


def videos(project: ReviewProject) -> list[VideoRecord]:
    """The videos of the project, by path."""
    rows = project._read("SELECT path, width, height, fps, frame_count FROM videos ORDER BY path")
    return [VideoRecord(*row) for row in rows]


def _cache_file(project: ReviewProject, record: ImageRecord) -> Path:
    assert record.video is not None and record.frame is not None
    return project.db_path.parent / FRAME_CACHE / frame_file_name(record.video, record.frame)


def frame_file(project: ReviewProject, record: ImageRecord) -> Path:
    """A file holding the frame's pixels: the frame itself for a folder of frames, else the cache
    (decoded now if it is not there yet). Raises ``ImageLoadError`` when the video cannot give it."""
    from groundlabel.errors import ImageLoadError
    from groundlabel.video import Video, VideoError

    source = project.root / str(record.video)
    if source.is_dir():
        files = _folder_frames(source)
        if record.frame is None or record.frame >= len(files):
            raise ImageLoadError(str(source), f"has no frame {record.frame} any more")
        return files[record.frame]
    target = _cache_file(project, record)
    if target.is_file():
        return target
    try:
        frame = Video.open(source).frame_at(int(record.frame or 0), record.timestamp)
    except VideoError as exc:
        raise ImageLoadError(str(source), str(exc)) from None
    _save(frame.image, target)
    return target


def decode_frames(
    project: ReviewProject, records: Iterable[ImageRecord], progress: Callable[[], None] | None = None
) -> dict[int, Path]:
    """Files for many frames at once, one pass through each video (an export, training).

    Returns image id -> file; a frame the video cannot give is left out (the caller reports it)."""
    from groundlabel.video import FrameSelection, Video, VideoError

    by_video: dict[str, list[ImageRecord]] = defaultdict(list)
    for record in records:
        if record.video is not None:
            by_video[record.video].append(record)
    files: dict[int, Path] = {}
    for video, frames in by_video.items():
        source = project.root / video
        if source.is_dir():
            for record in frames:
                try:
                    files[record.id] = frame_file(project, record)
                except GroundlabelError:  # the caller reports the frame as missing
                    continue
            continue
        todo = {}
        for record in frames:
            target = _cache_file(project, record)
            if target.is_file():
                files[record.id] = target
            else:
                todo[int(record.frame or 0)] = (record, target)
        if not todo:
            continue
        selection = FrameSelection(min(todo), max(todo) + 1)
        try:
            for frame in Video.open(source).frames(selection):
                entry = todo.get(frame.index)
                if entry is not None:
                    _save(frame.image, entry[1])
                    files[entry[0].id] = entry[1]
                    if progress is not None:
                        progress()
        except VideoError:
            continue  # the frames decoded so far are kept; the rest are reported missing
    return files


def _folder_frames(folder: Path) -> list[Path]:
    from groundlabel.images import iter_image_files

    return list(iter_image_files(folder))


def _save(image: Image.Image, target: Path) -> None:
    """Write atomically: an interrupted decode never leaves half a PNG in the cache, and two
    threads or processes decoding the same frame each write their own partial file."""
    import os
    import threading

    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}-{threading.get_ident()}.partial")
    image.save(partial, format="PNG", compress_level=PNG_LEVEL)
    partial.replace(target)


def check_inside(project: ReviewProject, video_path: Path) -> str:
    """The video's path relative to the project folder; a clip outside it is refused."""
    try:
        return video_path.resolve().relative_to(project.root).as_posix()
    except ValueError:
        raise ProjectError(
            f"{video_path}: the video is not inside the project folder {project.root}; "
            "put it there (or a link to it) so its frames can be read back"
        ) from None
