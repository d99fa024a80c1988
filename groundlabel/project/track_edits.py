"""Undoable edits of whole tracks: accept, reject, relabel, delete, merge, split, replace a span.

Each is built from the box commands (``groundlabel.project.commands``) over the track's
boxes, plus ``SetTrackIds`` for the edits that move boxes between tracks, so one undo step
restores exactly what was there and the stack needs nothing new. Build them on the thread
that owns ``project.history`` (they read the track's boxes when made).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from groundlabel.project.commands import (
    Command,
    DeleteBoxes,
    MacroCommand,
    RelabelBoxes,
    SetBoxStatus,
)
from groundlabel.project.database import ProjectError
from groundlabel.project.models import BoxRecord, BoxStatus

if TYPE_CHECKING:
    from groundlabel.project.store import ReviewProject


def _box_ids(project: ReviewProject, track_id: int) -> list[int]:
    boxes = project.track_boxes(track_id)
    if not boxes:
        raise ProjectError(f"track #{track_id} has no boxes (deleted or merged)")
    return [box.id for _, box in boxes]


def AcceptTrack(project: ReviewProject, track_id: int) -> SetBoxStatus:
    return SetBoxStatus(_box_ids(project, track_id), BoxStatus.ACCEPTED, f"accept track {track_id}")


def RejectTrack(project: ReviewProject, track_id: int) -> SetBoxStatus:
    return SetBoxStatus(_box_ids(project, track_id), BoxStatus.REJECTED, f"reject track {track_id}")


def RelabelTrack(project: ReviewProject, track_id: int, class_id: int) -> RelabelBoxes:
    project.class_record(class_id)
    return RelabelBoxes(_box_ids(project, track_id), class_id, f"relabel track {track_id}")


def DeleteTrack(project: ReviewProject, track_id: int) -> DeleteBoxes:
    return DeleteBoxes(_box_ids(project, track_id), f"delete track {track_id}")


@dataclass
class SetTrackIds(Command):
    """Move boxes to other tracks (box id -> new track id); undo puts each back."""

    track_ids: Mapping[int, int | None]
    description: str = "change tracks"
    _old: dict[int, int | None] = field(default_factory=dict, repr=False)

    def apply(self, project: ReviewProject) -> None:
        self._old = {box_id: project.box(box_id).track_id for box_id in self.track_ids}
        for box_id, track_id in self.track_ids.items():
            project.update_box(box_id, track_id=track_id)

    def revert(self, project: ReviewProject) -> None:
        for box_id, track_id in self._old.items():
            project.update_box(box_id, track_id=track_id)


def MergeTracks(project: ReviewProject, keep: int, other: int) -> MacroCommand:
    """``other``'s boxes join ``keep``. On a frame where both have a box, ``keep``'s stays and
    ``other``'s is deleted (a track has one box a frame); both must be in the same video."""
    if keep == other:
        raise ProjectError(f"track #{keep} cannot be merged with itself")
    kept = project.track(keep)
    merged = project.track(other)
    if kept.video != merged.video:
        raise ProjectError(
            f"track #{other} is in {merged.video} and track #{keep} in {kept.video}: "
            "only tracks of one video can be merged"
        )
    kept_frames = {frame for frame, _ in project.track_boxes(keep)}
    clash, move = [], {}
    for frame, box in project.track_boxes(other):
        if frame in kept_frames:
            clash.append(box.id)
        else:
            move[box.id] = keep
    commands: list[Command] = [SetTrackIds(move)]
    if clash:
        commands.insert(0, DeleteBoxes(clash))
    return MacroCommand(commands, f"merge track {other} into {keep}")


def SplitTrack(project: ReviewProject, track_id: int, frame: int) -> SetTrackIds:
    """The track's boxes from ``frame`` on become a new track (the next free id)."""
    _box_ids(project, track_id)  # the track exists
    boxes = project.track_boxes(track_id)
    later = {box.id for f, box in boxes if f >= frame}
    if not later or len(later) == len(boxes):
        first, last = boxes[0][0], boxes[-1][0]
        raise ProjectError(
            f"track #{track_id} spans frames {first}-{last}: split it at a frame after its first"
        )
    new_id = project.next_track_id()
    return SetTrackIds(
        {box_id: new_id for box_id in sorted(later)}, f"split track {track_id} at frame {frame}"
    )


@dataclass
class ReplaceBoxes(Command):
    """Delete some boxes and add others in one step (re-propagation, interpolation, a tracking run).

    ``boxes`` are ``insert_box`` keyword dicts with ``image_id``, ``class_id`` and ``xyxy`` (and
    a ``track_id`` each, for tracks); the first apply records the ids they got so redo gives the
    same ids back, and whatever points at them (a selection, a later command) stays valid."""

    delete_ids: Sequence[int]
    boxes: Sequence[dict[str, Any]]
    description: str = "replace boxes"
    _deleted: list[BoxRecord] = field(default_factory=list, repr=False)
    _ids: list[int | None] = field(default_factory=list, repr=False)

    def apply(self, project: ReviewProject) -> None:
        self._deleted = [project.delete_box(box_id) for box_id in self.delete_ids]
        ids = self._ids or [None] * len(self.boxes)
        added = []
        for box, box_id in zip(self.boxes, ids, strict=True):
            fields = dict(box)
            image_id, class_id, xyxy = fields.pop("image_id"), fields.pop("class_id"), fields.pop("xyxy")
            added.append(project.insert_box(image_id, class_id, xyxy, box_id=box_id, **fields).id)
        self._ids = added

    def revert(self, project: ReviewProject) -> None:
        for box_id in self._ids:
            project.delete_box(box_id)
        for box in self._deleted:
            project.restore_box(box)


def ReplaceTrackSpan(
    track_id: int,
    delete_ids: Sequence[int],
    boxes: Sequence[Mapping[str, Any]],
    description: str = "propagate track",
) -> ReplaceBoxes:
    """Replace part of one track: ``boxes`` (``insert_box`` keyword dicts) all join ``track_id``."""
    return ReplaceBoxes(delete_ids, [{**box, "track_id": track_id} for box in boxes], description)


def SetKeyframe(project: ReviewProject, track_id: int, image_id: int, xyxy: Sequence[float]) -> MacroCommand:
    """A person sets the track's box on a frame: it becomes a keyframe (drawn by hand, accepted),
    which re-propagation starts from and stops at. Replaces the track's box there, if any."""
    from groundlabel.project.commands import AddBox

    summary = project.track(track_id)
    old = [box for _, box in project.track_boxes(track_id) if box.image_id == image_id]
    commands: list[Command] = [DeleteBoxes([box.id for box in old])] if old else []
    class_id = old[0].class_id if old else summary.class_id
    commands.append(AddBox(image_id, class_id, tuple(xyxy), track_id=track_id))
    return MacroCommand(commands, f"set track {track_id} here")
