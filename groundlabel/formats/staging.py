"""An export folder appears whole or not at all.

The export is written into a hidden folder beside OUT (``.OUT.partial-<pid>``); only when
every file is written does it get the marker file and take OUT's place by renames on the
same filesystem. An interrupted export leaves OUT as it was (the previous export, or
nothing) and a partial folder whose name says so; the next export removes stale partial
folders. OUT is replaced only when it is empty or marked as an earlier groundlabel export,
so pointing ``-o`` at the wrong folder never deletes anyone's files.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from groundlabel.errors import GroundlabelError
from groundlabel.images import EXPORT_MARKER

MARKER = EXPORT_MARKER
MARKER_NOTE = "Written by groundlabel export; exporting again replaces this whole folder."


def read_manifest(out: Path) -> dict[str, Any] | None:
    """What the export in ``out`` recorded (its split assignment), or None."""
    try:
        document = json.loads((out / MARKER).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return document if isinstance(document, dict) else None


def _replaceable(out: Path) -> bool:
    return not out.exists() or (out.is_dir() and ((out / MARKER).is_file() or not any(out.iterdir())))


def check_output_folder(out: Path) -> None:
    """Refuse an OUT that holds someone else's files, before any work is done."""
    if out.exists() and not out.is_dir():
        raise GroundlabelError(
            f"cannot write {out}: it is a file; give a folder for -o (it will hold the dataset)"
        )
    if not _replaceable(out):
        raise GroundlabelError(
            f"{out} already holds files that are not a groundlabel export; choose a new or empty "
            "folder for -o (an export replaces the whole folder)"
        )


@contextmanager
def staged_folder(out: Path, manifest: dict[str, Any] | None = None) -> Iterator[Path]:
    """Yield an empty folder to write into; on success it gets the marker (``manifest`` as
    JSON) and becomes ``out``; on error it goes."""
    out = out.absolute()
    check_output_folder(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    for stale in out.parent.glob(f".{out.name}.partial-*"):
        shutil.rmtree(stale, ignore_errors=True)
    staging = out.parent / f".{out.name}.partial-{os.getpid()}"
    staging.mkdir()
    try:
        yield staging
        write_json(staging / MARKER, {"note": MARKER_NOTE, **(manifest or {})})
        if out.exists():
            old = out.parent / f".{out.name}.old-{os.getpid()}"
            out.rename(old)
            staging.rename(out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def make_parent(path: Path, _made: set[Path] = set()) -> None:  # noqa: B006 - a cache on purpose
    """``mkdir -p`` of the file's folder, once per folder (10,000 files share a few folders)."""
    parent = path.parent
    if parent not in _made or not parent.is_dir():
        parent.mkdir(parents=True, exist_ok=True)
        _made.add(parent)


def write_text(path: Path, text: str) -> None:
    """A plain write: inside the staging folder atomicity comes from the final rename."""
    make_parent(path)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


def write_bytes(path: Path, data: bytes) -> None:
    """A plain binary write (a label PNG), atomic through the staging folder's rename."""
    make_parent(path)
    with open(path, "wb") as handle:
        handle.write(data)


def write_json(path: Path, document: object) -> None:
    """Indented JSON with a trailing newline, like ``groundlabel.atomic.write_json_atomic``."""
    write_text(path, json.dumps(document, indent=2, ensure_ascii=False) + "\n")
