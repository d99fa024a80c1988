"""Trackers: per-frame boxes in, boxes with persistent track ids out.

One module per tracker family; ``make_tracker(name)`` builds one by the name the CLI takes.
Every tracker has the interface of ``base.Tracker``, so the ``track`` command, the benchmark
and the tests drive them the same way.
"""

from __future__ import annotations

from typing import Any

from groundlabel.errors import GroundlabelError
from groundlabel.trackers.base import TrackedBox, Tracker

TRACKERS = ("bytetrack",)

__all__ = ["TRACKERS", "TrackedBox", "Tracker", "make_tracker"]


def make_tracker(name: str, **options: Any) -> Tracker:
    """A fresh tracker (one per video: state never crosses clips)."""
    if name == "bytetrack":
        from groundlabel.trackers.bytetrack import ByteTrack

        return ByteTrack(**options)
    raise GroundlabelError(f"--tracker {name!r}: not one of {', '.join(TRACKERS)}")
