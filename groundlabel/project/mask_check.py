"""Masks a project holds that no export can decode, found and cleared undoably.

Since 0.4 every mask passes ``groundlabel.masks.check`` before it is stored, but a project
written by an older version (or edited by hand) may still hold one: counts that do not add up
to the image, a compressed string that does not decode, text that is not JSON. Exports already
leave such masks out (``formats.export_job.drop_bad_masks``); this module lets ``groundlabel
check`` list them and clear them. Clearing writes the exact column values to a JSON file in the
project folder first, so ``--restore FILE`` puts every one back: the clear is undoable across
processes, which an in-memory undo stack is not.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from groundlabel import masks
from groundlabel.atomic import write_json_atomic
from groundlabel.errors import GroundlabelError
from groundlabel.project.store import ReviewProject


@dataclass(frozen=True)
class BadMask:
    """One stored mask that cannot be exported, with the raw column values needed to restore it."""

    box_id: int
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
    if width is None or height is None:
        return None  # the image's size is not known yet: nothing to check it against
    return masks.problem(rle, width, height)


def find_bad_masks(project: ReviewProject) -> list[BadMask]:
    """Every box whose stored mask would not decode to its image's size, in image then box order."""
    rows = project._read(
        "SELECT boxes.id, images.path, images.width, images.height, classes.name, boxes.mask, "
        "boxes.mask_score, boxes.mask_model FROM boxes JOIN images ON images.id = boxes.image_id "
        "JOIN classes ON classes.id = boxes.class_id WHERE boxes.mask IS NOT NULL "
        "ORDER BY images.path, boxes.id"
    )
    found = []
    for box_id, path, width, height, class_name, column, score, model in rows:
        reason = _reason(column, width, height)
        if reason is not None:
            found.append(BadMask(box_id, path, class_name, reason, column, score, model))
    return found


def clear_bad_masks(project: ReviewProject, bad: list[BadMask]) -> Path:
    """Clear those masks (their boxes stay) in one transaction, after saving what is cleared to
    ``<project>/cleared-masks-<time>.json``, the file ``restore_masks`` takes back."""
    backup = project.db_path.parent / f"cleared-masks-{time.strftime('%Y%m%d-%H%M%S')}.json"
    write_json_atomic(backup, {"cleared": [asdict(b) for b in bad]})
    with project._write("boxes") as connection:
        connection.executemany(
            "UPDATE boxes SET mask = NULL, mask_score = NULL, mask_model = NULL WHERE id = ?",
            [(b.box_id,) for b in bad],
        )
    return backup


def restore_masks(project: ReviewProject, backup: Path) -> int:
    """Put back the masks a ``clear_bad_masks`` file holds, exactly as they were; returns how many
    (a box deleted since is skipped)."""
    try:
        entries = json.loads(Path(backup).read_text())["cleared"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise GroundlabelError(
            f"{backup}: not a file written by `groundlabel check --clear-bad-masks` ({exc})"
        ) from None
    restored = 0
    with project._write("boxes") as connection:
        for entry in entries:
            cursor = connection.execute(
                "UPDATE boxes SET mask = ?, mask_score = ?, mask_model = ? WHERE id = ?",
                (entry["column"], entry["mask_score"], entry["mask_model"], entry["box_id"]),
            )
            restored += cursor.rowcount
    return restored
