"""Undoable edits and the session's undo/redo stack.

A ``Command`` is a small object with ``apply(project)`` and ``revert(project)``; each runs
inside one transaction (``project.batch()``), so a crash never leaves half an edit. A
command remembers what it needs to revert on its first ``apply`` (the old geometry, the
deleted box with its id), so ``apply``/``revert`` can alternate any number of times.

The desktop may wrap commands in its own ``QUndoCommand`` (``redo`` -> ``apply``,
``undo`` -> ``revert``) or use ``project.history`` (an ``UndoStack``) directly. If a box
a command refers to has gone meanwhile (re-predicted by a worker), apply/revert raise
``StaleEditError`` and the stack is left as it was.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from groundlabel.project.models import BoxRecord, BoxSource, BoxStatus, ClassRecord, ImageState, MaskValue

if TYPE_CHECKING:
    from groundlabel.project.store import ReviewProject


class Command(ABC):
    """One reversible edit. ``description`` is what an Edit menu shows ("Undo <description>")."""

    description: str = "edit"

    @abstractmethod
    def apply(self, project: ReviewProject) -> None: ...

    @abstractmethod
    def revert(self, project: ReviewProject) -> None: ...


@dataclass
class AddBox(Command):
    """Draw a box. By default a hand-drawn, accepted box without a score."""

    image_id: int
    class_id: int
    xyxy: Sequence[float]
    source: BoxSource = BoxSource.HAND
    status: BoxStatus = BoxStatus.ACCEPTED
    score: float | None = None
    box_id: int | None = None  # set by the first apply; redo reuses it
    description: str = "add box"
    track_id: int | None = None  # on a video's frame: the track it extends (a human keyframe)

    def apply(self, project: ReviewProject) -> None:
        box = project.insert_box(
            self.image_id,
            self.class_id,
            self.xyxy,
            source=self.source,
            status=self.status,
            score=self.score,
            box_id=self.box_id,
            track_id=self.track_id,
        )
        self.box_id = box.id

    def revert(self, project: ReviewProject) -> None:
        assert self.box_id is not None
        project.delete_box(self.box_id)


@dataclass
class DeleteBoxes(Command):
    box_ids: Sequence[int]
    description: str = "delete box"
    _deleted: list[BoxRecord] = field(default_factory=list, repr=False)

    def apply(self, project: ReviewProject) -> None:
        self._deleted = [project.delete_box(box_id) for box_id in self.box_ids]

    def revert(self, project: ReviewProject) -> None:
        for box in self._deleted:
            project.restore_box(box)


def DeleteBox(box_id: int) -> DeleteBoxes:
    return DeleteBoxes([box_id])


@dataclass
class SetBoxGeometry(Command):
    """Move or resize a box (new xyxy in image pixels)."""

    box_id: int
    xyxy: Sequence[float]
    description: str = "move box"
    _old: tuple[float, float, float, float] | None = field(default=None, repr=False)

    def apply(self, project: ReviewProject) -> None:
        self._old = project.box(self.box_id).xyxy
        project.update_box(self.box_id, xyxy=self.xyxy)

    def revert(self, project: ReviewProject) -> None:
        project.update_box(self.box_id, xyxy=self._old)


@dataclass
class RelabelBoxes(Command):
    box_ids: Sequence[int]
    class_id: int
    description: str = "change class"
    _old: dict[int, int] = field(default_factory=dict, repr=False)

    def apply(self, project: ReviewProject) -> None:
        self._old = {box_id: project.box(box_id).class_id for box_id in self.box_ids}
        for box_id in self.box_ids:
            project.update_box(box_id, class_id=self.class_id)

    def revert(self, project: ReviewProject) -> None:
        for box_id, class_id in self._old.items():
            project.update_box(box_id, class_id=class_id)


@dataclass
class SetBoxStatus(Command):
    """Accept, reject or reset to pending one or more boxes."""

    box_ids: Sequence[int]
    status: BoxStatus
    description: str = ""
    _old: dict[int, BoxStatus] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.status = BoxStatus(self.status)
        if not self.description:
            verb = {"accepted": "accept", "rejected": "reject", "pending": "reset"}[self.status.value]
            self.description = f"{verb} {len(self.box_ids)} box(es)"

    def apply(self, project: ReviewProject) -> None:
        self._old = {box_id: project.box(box_id).status for box_id in self.box_ids}
        for box_id in self.box_ids:
            project.update_box(box_id, status=self.status)

    def revert(self, project: ReviewProject) -> None:
        for box_id, status in self._old.items():
            project.update_box(box_id, status=status)


def AcceptBoxes(box_ids: Iterable[int]) -> SetBoxStatus:
    return SetBoxStatus(list(box_ids), BoxStatus.ACCEPTED)


def RejectBoxes(box_ids: Iterable[int]) -> SetBoxStatus:
    return SetBoxStatus(list(box_ids), BoxStatus.REJECTED)


@dataclass
class SetMasks(Command):
    """Set, clear (``None``) or re-run the masks of several boxes as one undo step.

    ``masks`` maps box id -> the new ``MaskValue`` (RLE, score, model) or ``None`` to clear it.
    The first apply remembers each box's mask, score and model, so undo restores exactly what
    was there (a box that had no mask gets none again) and redo sets the same values again.
    """

    masks: Mapping[int, MaskValue | None]
    description: str = ""
    _old: dict[int, tuple[object, float | None, str | None]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.masks = dict(self.masks)
        if not self.description:
            cleared = sum(value is None for value in self.masks.values())
            verb = "clear" if cleared == len(self.masks) else "set"
            self.description = f"{verb} {len(self.masks)} mask(s)"

    def apply(self, project: ReviewProject) -> None:
        old = {}
        for box_id in self.masks:
            box = project.box(box_id)
            old[box_id] = (box.mask, box.mask_score, box.mask_model)
        self._old = old
        for box_id, value in self.masks.items():
            if value is None:
                project.update_box(box_id, mask=None, mask_score=None, mask_model=None)
            else:
                project.update_box(box_id, mask=value.mask, mask_score=value.score, mask_model=value.model)

    def revert(self, project: ReviewProject) -> None:
        for box_id, (mask, score, model) in self._old.items():
            project.update_box(box_id, mask=mask, mask_score=score, mask_model=model)


@dataclass
class SetImageState(Command):
    image_id: int
    state: ImageState
    description: str = "set image state"
    _old: ImageState | None = field(default=None, repr=False)

    def apply(self, project: ReviewProject) -> None:
        self._old = project.image(self.image_id).state
        project.set_image_state(self.image_id, ImageState(self.state))

    def revert(self, project: ReviewProject) -> None:
        assert self._old is not None
        project.set_image_state(self.image_id, self._old)


@dataclass
class AddClass(Command):
    name: str
    aliases: Sequence[str] = ()
    colour: str | None = None
    class_id: int | None = None  # set by the first apply; redo reuses it
    description: str = "add class"
    _record: ClassRecord | None = field(default=None, repr=False)

    def apply(self, project: ReviewProject) -> None:
        if self._record is None:
            self._record = project.insert_class(self.name, self.aliases, self.colour)
            self.class_id = self._record.id
        else:
            r = self._record
            project.insert_class(r.name, r.aliases, r.colour, r.position, class_id=r.id)

    def revert(self, project: ReviewProject) -> None:
        assert self.class_id is not None
        project.delete_class(self.class_id)


@dataclass
class UpdateClass(Command):
    """Rename, recolour or change the aliases of a class (only the fields given change)."""

    class_id: int
    name: str | None = None
    aliases: Sequence[str] | None = None
    colour: str | None = None
    description: str = "edit class"
    _old: dict[str, object] = field(default_factory=dict, repr=False)

    def _fields(self) -> dict[str, object]:
        values = {"name": self.name, "aliases": self.aliases, "colour": self.colour}
        return {k: v for k, v in values.items() if v is not None}

    def apply(self, project: ReviewProject) -> None:
        old = project.class_record(self.class_id)
        self._old = {k: getattr(old, k) for k in self._fields()}
        project.update_class(self.class_id, **self._fields())

    def revert(self, project: ReviewProject) -> None:
        project.update_class(self.class_id, **self._old)


def RenameClass(class_id: int, name: str) -> UpdateClass:
    return UpdateClass(class_id, name=name, description="rename class")


def RecolourClass(class_id: int, colour: str) -> UpdateClass:
    return UpdateClass(class_id, colour=colour, description="change class colour")


def SetClassAliases(class_id: int, aliases: Sequence[str]) -> UpdateClass:
    return UpdateClass(class_id, aliases=list(aliases), description="change class aliases")


@dataclass
class DeleteClass(Command):
    """Delete a class and its boxes; undo brings both back with their ids."""

    class_id: int
    description: str = "delete class"
    _record: ClassRecord | None = field(default=None, repr=False)
    _boxes: list[BoxRecord] = field(default_factory=list, repr=False)

    def apply(self, project: ReviewProject) -> None:
        self._record = project.class_record(self.class_id)
        self._boxes = project.boxes_of_class(self.class_id)
        project.delete_class(self.class_id)

    def revert(self, project: ReviewProject) -> None:
        r = self._record
        assert r is not None
        project.insert_class(r.name, r.aliases, r.colour, r.position, class_id=r.id)
        for box in self._boxes:
            project.restore_box(box)


@dataclass
class ReorderClasses(Command):
    """Give the classes a new order (all class ids, first to last)."""

    class_ids: Sequence[int]
    description: str = "reorder classes"
    _old: dict[int, int] = field(default_factory=dict, repr=False)

    def apply(self, project: ReviewProject) -> None:
        current = {c.id: c.position for c in project.classes()}
        if sorted(current) != sorted(self.class_ids):
            from groundlabel.project.store import StaleEditError

            raise StaleEditError("the class list changed; reorder again")
        self._old = current
        for position, class_id in enumerate(self.class_ids):
            project.update_class(class_id, position=position)

    def revert(self, project: ReviewProject) -> None:
        for class_id, position in self._old.items():
            project.update_class(class_id, position=position)


@dataclass
class MacroCommand(Command):
    """Several commands as one undo step and one transaction (e.g. "accept all, mark reviewed")."""

    commands: Sequence[Command]
    description: str = "edit"

    def apply(self, project: ReviewProject) -> None:
        for command in self.commands:
            command.apply(project)

    def revert(self, project: ReviewProject) -> None:
        for command in reversed(self.commands):
            command.revert(project)


class UndoStack:
    """Unbounded undo/redo for one session. Not thread-safe: drive it from one thread."""

    def __init__(self, project: ReviewProject) -> None:
        self._project = project
        self._done: list[Command] = []
        self._undone: list[Command] = []

    def push(self, command: Command) -> Command:
        """Apply ``command`` (one transaction) and make it the next to undo; clears redo."""
        with self._project.batch():
            command.apply(self._project)
        self._done.append(command)
        self._undone.clear()
        return command

    def undo(self) -> Command | None:
        if not self._done:
            return None
        command = self._done[-1]
        with self._project.batch():
            command.revert(self._project)
        self._undone.append(self._done.pop())
        return command

    def redo(self) -> Command | None:
        if not self._undone:
            return None
        command = self._undone[-1]
        with self._project.batch():
            command.apply(self._project)
        self._done.append(self._undone.pop())
        return command

    @property
    def can_undo(self) -> bool:
        return bool(self._done)

    @property
    def can_redo(self) -> bool:
        return bool(self._undone)

    @property
    def undo_description(self) -> str | None:
        return self._done[-1].description if self._done else None

    @property
    def redo_description(self) -> str | None:
        return self._undone[-1].description if self._undone else None

    def __len__(self) -> int:
        return len(self._done)

    def clear(self) -> None:
        self._done.clear()
        self._undone.clear()
