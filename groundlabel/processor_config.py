"""A checkpoint's saved image-processor settings, read as plain JSON.

SAM 2 and SAM 3 preprocess without transformers' processor classes (those need torchvision),
so both read the settings themselves; one reader keeps the two file names and the
``image_processor`` nesting of transformers 5's ``processor_config.json`` handled alike.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

FILE_NAMES = ("processor_config.json", "preprocessor_config.json")


def read_image_processor_config(
    model: str,
    local_files_only: bool,
    names: Sequence[str] = FILE_NAMES,
    accept: Callable[[dict[str, Any]], bool] = lambda values: True,
) -> dict[str, Any] | None:
    """The first of ``names`` in ``model`` (hub id or folder) whose settings ``accept`` takes; else None.

    A ``processor_config.json`` nests the image processor under ``image_processor``; that part is
    returned. A missing file or no connection is not an error here: the caller falls back to its
    defaults, and loading the weights reports what is really wrong.
    """
    from transformers.utils import cached_file

    for name in names:
        path = cached_file(
            model,
            name,
            local_files_only=local_files_only,
            _raise_exceptions_for_missing_entries=False,
            _raise_exceptions_for_connection_errors=False,
        )
        if not path:
            continue
        values = json.loads(Path(path).read_text(encoding="utf-8"))
        values = values.get("image_processor", values)
        if accept(values):
            return values
    return None
