"""Progress bars for long batch work: shown on a terminal, silent in logs and pipes."""

from __future__ import annotations

import sys
from typing import Any

from tqdm import tqdm


def progress_bar(total: int | None, description: str, unit: str = "img", **kwargs: Any) -> tqdm:
    """A tqdm bar on stderr with rate and ETA; disabled when stderr is not a terminal."""
    return tqdm(
        total=total, desc=description, unit=unit, file=sys.stderr, disable=None, dynamic_ncols=True, **kwargs
    )
