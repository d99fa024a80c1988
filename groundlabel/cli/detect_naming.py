"""How ``detect`` names images in its output, shared by the plain path and the bulk one.

Kept apart so that ``detect`` and ``detect_bulk`` both import it and neither imports the
other's internals (they used to import each other, a cycle).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path


def common_root(paths: Sequence[str | os.PathLike[str]]) -> Path:
    """The folder that file names in the output are relative to."""
    folders = [Path(p).resolve() if Path(p).is_dir() else Path(p).resolve().parent for p in paths]
    return Path(os.path.commonpath([str(f) for f in folders]))


def relative_name(path: str, root: Path) -> str:
    """``path`` relative to ``root`` in POSIX form, or as given when it lies outside."""
    try:
        return Path(path).resolve().relative_to(root).as_posix()
    except ValueError:
        return Path(path).as_posix()


def nothing_written(output: str) -> str:
    """What an interrupted run that writes one file at the end has kept."""
    return f"nothing written to {output}: it is written once every image is done (-o DIR/ writes shards as it goes)"
