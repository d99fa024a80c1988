"""Mask edits as undoable project commands: point prompts and brush strokes (no Qt).

Where the points live: the project stores a box's mask (``boxes.mask``), not the clicks that
made it; the schema has no place for prompts yet. So a box's points are kept in memory for
the session, in ``PromptPoints``, and each ``PointEdit`` carries the points before and after
its click together with the mask computed for them. Undo puts back the old mask *and* the
old points; redo the new ones; nothing is recomputed, so undo/redo reproduce exactly. After
the window is closed the masks stay (in the project) and the next click starts a new prompt
from the box alone.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import cv2
import numpy as np

from groundlabel.project.commands import Command, SetMasks
from groundlabel.project.models import MaskValue

if TYPE_CHECKING:
    from groundlabel.project.store import ReviewProject

BRUSH_MODEL = "brush"  # mask_model of a mask painted by hand from nothing


@dataclass(frozen=True)
class PromptPoint:
    """A click in image pixels; ``positive`` False is a "not this" point."""

    x: float
    y: float
    positive: bool = True

    @property
    def label(self) -> int:
        """SAM's point label: 1 positive, 0 negative."""
        return 1 if self.positive else 0


Points = tuple[PromptPoint, ...]


class PromptPoints:
    """The session's point prompts, per box id. Changed only by ``PointEdit`` apply/revert."""

    def __init__(self) -> None:
        self._points: dict[int, Points] = {}

    def get(self, box_id: int) -> Points:
        return self._points.get(box_id, ())

    def set(self, box_id: int, points: Sequence[PromptPoint]) -> None:
        if points:
            self._points[box_id] = tuple(points)
        else:
            self._points.pop(box_id, None)

    def boxes(self) -> list[int]:
        return list(self._points)

    def clear(self) -> None:
        self._points.clear()


@dataclass
class PointEdit(Command):
    """One click: the box's mask becomes ``mask`` (computed for ``after``), its points ``after``."""

    box_id: int
    mask: MaskValue
    store: PromptPoints
    before: Points
    after: Points
    description: str = ""
    _set: SetMasks | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not self.description:
            kind = "positive" if self.after and self.after[-1].positive else "negative"
            self.description = f"{kind} point on the mask"

    def apply(self, project: ReviewProject) -> None:
        if self._set is None:
            self._set = SetMasks({self.box_id: self.mask})
        self._set.apply(project)
        self.store.set(self.box_id, self.after)

    def revert(self, project: ReviewProject) -> None:
        assert self._set is not None
        self._set.revert(project)
        self.store.set(self.box_id, self.before)


def stroke_mask(shape: tuple[int, int], points: Sequence[tuple[float, float]], radius: float) -> np.ndarray:
    """The pixels a round brush of ``radius`` covers along ``points``: bool (height, width)."""
    height, width = shape
    canvas = np.zeros((height, width), dtype=np.uint8)
    r = max(round(radius), 1)
    pixels = [(round(x), round(y)) for x, y in points]
    for point in pixels:
        cv2.circle(canvas, point, r, 1, thickness=-1)
    for a, b in itertools.pairwise(pixels):
        cv2.line(canvas, a, b, 1, thickness=2 * r + 1)
    return canvas.astype(bool)


def apply_stroke(mask: np.ndarray | None, stroke: np.ndarray, erase: bool) -> np.ndarray:
    """``mask`` with ``stroke`` painted in (brush) or cleared (eraser); a missing mask is empty."""
    base = np.zeros_like(stroke) if mask is None else mask.astype(bool)
    return base & ~stroke if erase else base | stroke
