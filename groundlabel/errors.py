"""Errors a user can fix, kept apart from bugs.

Front ends print a ``GroundlabelError`` as one line (no traceback) and exit with
``exit_code``; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class GroundlabelError(Exception):
    """A problem with the user's input or environment, with a message that says what to do."""

    exit_code = 2


class LabelSetError(GroundlabelError):
    """The class list cannot become a prompt (empty name, duplicate, phrase too long)."""


class ModelLoadError(GroundlabelError):
    """The model could not be loaded (not cached and offline, bad directory, bad device)."""


class ImageLoadError(GroundlabelError):
    """One image could not be read; batch callers report it and carry on."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason
