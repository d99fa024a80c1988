"""Keeping an export folder equal to the project: old per-image files of an earlier export go.

Only folders marked by an earlier groundlabel export are cleaned, and only files of the
kind the export writes there (``.xml`` in ``Annotations/``, ``.txt`` in ``labels/``), so
a folder the user chose by mistake never loses anything.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from groundlabel.atomic import write_text_atomic

MARKER = ".groundlabel-export"


def remove_stale_outputs(out: Path, folder: Path, suffix: str, written: Iterable[Path]) -> None:
    """Delete ``folder``'s ``suffix`` files not in ``written`` if ``out`` is marked as ours.

    An unmarked folder is marked only when it holds nothing but what was just written.
    """
    marker = out / MARKER
    keep = {p.resolve() for p in written}
    others = [c for c in folder.rglob(f"*{suffix}") if c.resolve() not in keep] if folder.is_dir() else []
    if marker.exists():
        for candidate in others:
            candidate.unlink()
    elif not others:
        write_text_atomic(marker, "Written by groundlabel export; exporting again replaces the files here.\n")
