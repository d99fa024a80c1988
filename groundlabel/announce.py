"""The one line a command prints about each model it loaded: "loaded NAME (FAMILY) on DEVICE, DTYPE".

Loading is the slow, surprising part of a first run, so the CLI says in one line what it
loaded and where, in place of transformers' weight bar (hidden for local and cached
checkpoints, ``model_loading.no_loading_bar``). ``groundlabel -q`` silences the line and
``-v`` adds how long loading took, the parameter count and the folder the weights came from.

Library users are not printed to: the line goes to this module's logger at INFO, which
their own logging configuration shows or not. Only ``groundlabel.cli.main`` turns the
terminal line on (``configure``). No torch here, so the CLI's start-up stays light.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

log = logging.getLogger(__name__)

#: "off" (library use: log only), "line" (the CLI's default), "detailed" (``-v``), "quiet" (``-q``).
_mode = "off"

_DTYPE_NAMES = {"float32": "fp32", "bfloat16": "bf16", "float16": "fp16"}


def configure(*, quiet: bool = False, verbose: bool = False) -> None:
    """Called once by the CLI: print the line on stderr, with details under ``-v``, none under ``-q``."""
    global _mode
    _mode = "quiet" if quiet else "detailed" if verbose else "line"


def reset() -> None:
    """Back to library behaviour (log only); for tests that call the CLI in-process."""
    global _mode
    _mode = "off"


def short_name(model: str) -> str:
    """A hub id's repository name or a folder's name: what a person calls the checkpoint."""
    text = str(model).rstrip("/\\")
    return Path(text).name or text


def dtype_name(dtype: object) -> str:
    """``torch.float32`` → ``fp32``; anything else as torch spells it."""
    text = str(dtype).removeprefix("torch.")
    return _DTYPE_NAMES.get(text, text)


def loaded_line(model: str, family: str, device: object, dtype: object, precision: str = "") -> str:
    """The line itself; ``precision`` overrides the dtype's name (e.g. "bf16 autocast")."""
    return f"loaded {short_name(model)} ({family}) on {device}, {precision or dtype_name(dtype)}"


def loaded(
    model: str,
    family: str,
    device: object,
    dtype: object,
    *,
    precision: str = "",
    seconds: float | None = None,
    parameters: int | None = None,
    source: str | None = None,
) -> None:
    """Announce one loaded model (see the module docstring for who sees it)."""
    line = loaded_line(model, family, device, dtype, precision)
    details = []
    if seconds is not None:
        details.append(f"{seconds:.1f} s")
    if parameters is not None:
        details.append(f"{parameters / 1e6:.1f} M parameters")
    if source:
        details.append(f"from {source}")
    if _mode == "off":
        log.info("%s%s", line, f" ({', '.join(details)})" if details else "")
    elif _mode == "line":
        print(f"groundlabel: {line}", file=sys.stderr, flush=True)
    elif _mode == "detailed":
        suffix = f" ({', '.join(details)})" if details else ""
        print(f"groundlabel: {line}{suffix}", file=sys.stderr, flush=True)
