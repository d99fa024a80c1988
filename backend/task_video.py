"""Opening the video a task points at, under the same rules as task images.

A video task's ``data.video`` is untrusted like an image URL, so it goes through the image
fetcher's resolution (local files under LOCAL_FILES_DOCUMENT_ROOT, Label Studio's own host
with its credentials, the allow-list, cloud URIs through the presign endpoint, redirects
checked hop by hop). What differs is the size: a clip can be gigabytes, so it is streamed
to a temporary file (never held in memory) under GROUNDLABEL_MAX_VIDEO_MB and
GROUNDLABEL_VIDEO_DOWNLOAD_TIMEOUT, opened with ``groundlabel.video.Video`` (the same reader as
``groundlabel track``) and removed when the task is done.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from urllib.parse import parse_qs, unquote, urlsplit

from groundlabel.backend.task_images import TaskImageFetcher

from groundlabel.errors import ImageLoadError
from groundlabel.video import VIDEO_EXTENSIONS, Video, VideoError


def video_name(reference: str) -> str:
    """The clip's file name in its URL (``?d=`` of a local-files URL, else the path's last part)."""
    parts = urlsplit(reference)
    return PurePosixPath(unquote(parse_qs(parts.query).get("d", [""])[0] or parts.path)).name or "video"


def _suffix(reference: str) -> str:
    """The clip's extension, ``.mp4`` if it has none we know: ``Video.open`` wants one (PyAV
    reads the container from the bytes anyway)."""
    suffix = PurePosixPath(video_name(reference)).suffix.lower()
    return suffix if suffix in VIDEO_EXTENSIONS else ".mp4"


@contextmanager
def open_task_video(
    fetcher: TaskImageFetcher, reference: object, task_id: int | None = None
) -> Iterator[Video]:
    """The task's clip, opened; a downloaded copy is deleted on exit.

    Raises ``ImageLoadError`` (refused or failed download) or ``VideoError`` (not a readable clip).
    """
    if not isinstance(reference, str) or not reference.strip():
        raise ImageLoadError(str(reference), "the task has no video URL under this key")
    reference = reference.strip()
    local = fetcher._local_file(reference)
    if local is not None:
        yield Video.open(local)
        return
    url, presigned = fetcher._absolute_url(reference, task_id)
    with tempfile.TemporaryDirectory(prefix="groundlabel-video-") as folder:
        path = Path(folder) / f"task{_suffix(reference)}"
        with path.open("wb") as sink:
            fetcher._download(reference, url, presigned, sink=sink)
        try:
            video = Video.open(path)
        except VideoError as exc:
            raise VideoError(f"{reference}: {str(exc).removeprefix(f'{path}: ')}") from None
        video.info.name = video_name(reference)
        yield video
