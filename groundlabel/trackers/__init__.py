"""Trackers: per-frame boxes in, boxes with persistent track ids out.

One module per tracker family, as ``families/`` holds one per detector: ``bytetrack``
(association of the detector's boxes, numpy and SciPy only) and ``sam2_video`` (video
propagation, masks included, from a SAM 2.1, SAM 3 tracker or EdgeTAM checkpoint);
``sam3_video`` is SAM 3 video given as ``--model``, which detects and tracks by itself.
``tracker_factory(name)`` turns what ``--tracker`` says into a callable that makes a fresh
tracker per video (state never crosses clips; a checkpoint is loaded once). Every tracker has
the interface of ``base.Tracker``, so the ``track`` command, the benchmarks and the tests drive
them the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from groundlabel.trackers.base import TrackedBox, Tracker

#: Association trackers by name; anything else ``--tracker`` takes is a video tracker checkpoint.
TRACKERS = ("bytetrack",)

__all__ = ["TRACKERS", "TrackedBox", "Tracker", "tracker_factory"]


def tracker_factory(name: str, device: str = "auto") -> Callable[..., Tracker]:
    """``factory(**options)`` -> a fresh tracker for one video.

    ``name`` is ``bytetrack`` or a video tracker checkpoint (SAM 2.1, SAM 3 tracker, EdgeTAM;
    hub id or folder), which is loaded here, once.
    """
    if name == "bytetrack":
        from groundlabel.trackers.bytetrack import ByteTrack

        def bytetrack(**options: Any) -> Tracker:
            return ByteTrack(**options)

        return bytetrack
    from groundlabel.trackers.sam2_video import Sam2VideoTrackers

    return Sam2VideoTrackers(name, device)
