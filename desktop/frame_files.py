"""Where the reviewer reads an image's pixels from: a file, or a video frame decoded on demand.

A still image is a file in the folder, so its path is known at once. A video's frame is a row
of the project whose pixels come from ``project.image_file(record)``, which may seek into the
clip and write the frame to the project's cache: that is a decode, so it must not run on the
GUI thread. For a frame the reviewer hands the image loader and the thumbnailer a callable
that they call on their own threads. One lock serialises those decodes: two threads writing
the same cache file at once would race on its temporary name.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from groundlabel.project import ImageRecord, ReviewProject

FRAME_LOCK = threading.Lock()

PathSource = str | Callable[[], str]


def file_source(project: ReviewProject, record: ImageRecord) -> PathSource:
    """The image's path, or for a frame a function that decodes it (call it off the GUI thread)."""
    if not record.is_frame:
        return str(project.root / record.path)

    def frame() -> str:
        with FRAME_LOCK:
            return str(project.image_file(record))

    return frame


def resolve(source: PathSource) -> str:
    """The file a ``file_source`` names, decoding a frame now if need be."""
    return source() if callable(source) else source


def decode_frames_locked(project: ReviewProject, records: Iterable[ImageRecord]) -> dict[int, Path]:
    """``video_frames.decode_frames`` under the reviewer's frame lock (one pass per clip)."""
    from groundlabel.project.video_frames import decode_frames

    with FRAME_LOCK:
        return decode_frames(project, list(records))
