"""Finding a folder's images cheaply: names only at open, file contents only on demand."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

from groundlabel.images import iter_image_files


def scan_image_paths(root: Path) -> Iterator[str]:
    """Relative '/'-separated paths of the images below ``root`` (hidden folders, and so
    the ``.groundlabel`` project folder, are skipped). Reads directory entries only."""
    for path in iter_image_files(root):
        yield path.relative_to(root).as_posix()


def file_signature(path: Path) -> tuple[int, int]:
    """(size, mtime in ns): cheap evidence that a file is unchanged since it was hashed."""
    stat = os.stat(path)
    return stat.st_size, stat.st_mtime_ns


def file_digest(path: Path) -> str:
    """SHA-256 of the file's bytes, to notice an image replaced under the same name."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()
