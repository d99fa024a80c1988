"""Masks a project holds that no export can decode, found and cleared undoably.

Since 0.4 every mask passes ``groundlabel.masks.check`` before it is stored, but a project
written by an older version (or edited by hand) may still hold one: counts that do not add up
to the image, a compressed string that does not decode, text that is not JSON. Exports already
leave such masks out (``formats.export_job.drop_bad_masks``); this module lets ``groundlabel
check`` list them and clear them.

Clearing is a ``Command`` (``ClearBadMasks``) run through ``project.execute``, so inside a
session (the desktop, a script) it is one step of ``project.history`` like any other edit. The
history lives in memory, though, and ``groundlabel check`` is a process of its own: so the
exact column values are also saved first to a JSON file in the project's folder, and
``--restore FILE`` reverts the same command from it in a later process. The command writes the
raw column text on purpose: the masks it puts back are the bad ones, which the store's own
door (``masks.check`` in ``ReviewProject.update_box``) would rightly refuse.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from groundlabel import masks
from groundlabel.atomic import write_json_atomic
from groundlabel.errors import GroundlabelError
from groundlabel.project.commands import Command
from groundlabel.project.store import ReviewProject


@dataclass(frozen=True)
class BadMask:
    """One stored mask that cannot be exported, with the raw column values needed to restore it."""

    box_id: int
    image_id: int
    image: str
    class_name: str
    reason: str
    column: str
    mask_score: float | None
    mask_model: str | None


def _reason(column: str, width: int | None, height: int | None) -> str | None:
    try:
        rle: Any = json.loads(column)
    except ValueError:
        return "the stored mask is not JSON"
    return masks.problem(rle, width, height)


def find_bad_masks(project: ReviewProject) -> list[BadMask]:
    """Every box whose stored mask would not decode to its image's size (or, for an image whose
    size is not known yet, to its own), in image then box order."""
    rows = project._read(
        "SELECT boxes.id, images.id, images.path, images.width, images.height, classes.name, "
        "boxes.mask, boxes.mask_score, boxes.mask_model FROM boxes "
        "JOIN images ON images.id = boxes.image_id JOIN classes ON classes.id = boxes.class_id "
        "WHERE boxes.mask IS NOT NULL ORDER BY images.path, boxes.id"
    )
    found = []
    for box_id, image_id, path, width, height, class_name, column, score, model in rows:
        reason = _reason(column, width, height)
        if reason is not None:
            found.append(BadMask(box_id, image_id, path, class_name, reason, column, score, model))
    return found


@dataclass
class ClearBadMasks(Command):
    """Clear these boxes' masks (the boxes stay); revert puts back the exact stored text."""

    bad: list[BadMask]
    description: str = ""
    _image_ids: list[int] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self.description = self.description or f"clear {len(self.bad)} bad mask(s)"
        self._image_ids = sorted({b.image_id for b in self.bad})

    def apply(self, project: ReviewProject) -> None:
        with project._write("boxes", self._image_ids) as connection:
            connection.executemany(
                "UPDATE boxes SET mask = NULL, mask_score = NULL, mask_model = NULL WHERE id = ?",
                [(b.box_id,) for b in self.bad],
            )

    def revert(self, project: ReviewProject) -> None:
        with project._write("boxes", self._image_ids) as connection:
            connection.executemany(
                "UPDATE boxes SET mask = ?, mask_score = ?, mask_model = ? WHERE id = ?",
                [(b.column, b.mask_score, b.mask_model, b.box_id) for b in self.bad],
            )


def clear_bad_masks(project: ReviewProject, bad: list[BadMask]) -> Path:
    """Clear those masks as one undoable step of ``project.history``, after saving what is
    cleared to ``<project>/cleared-masks-<time>.json``, the file ``restore_masks`` takes back."""
    backup = project.db_path.parent / f"cleared-masks-{time.strftime('%Y%m%d-%H%M%S')}.json"
    n = 1
    while backup.exists():
        n += 1
        backup = backup.with_name(f"cleared-masks-{time.strftime('%Y%m%d-%H%M%S')}-{n}.json")
    write_json_atomic(backup, {"cleared": [asdict(b) for b in bad]})
    project.execute(ClearBadMasks(bad))
    return backup


def restore_masks(project: ReviewProject, backup: Path) -> int:
    """Undo a ``clear_bad_masks`` of an earlier process from its file: the masks come back
    exactly as they were stored; returns how many (a box deleted since is skipped)."""
    try:
        entries = json.loads(Path(backup).read_text())["cleared"]
        bad = [BadMask(**entry) for entry in entries]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise GroundlabelError(
            f"{backup}: not a file written by `groundlabel check --clear-bad-masks` ({exc})"
        ) from None
    alive = [b for b in bad if project.has_box(b.box_id)]
    with project.batch():
        ClearBadMasks(alive).revert(project)
    return len(alive)
