"""The class table of a review project: names, aliases, colours and order.

A mixin of ``ReviewProject`` (``project/store.py``), kept apart so that the store stays one
module per table group. These are the low-level writes; user edits go through the undoable
commands in ``project/commands.py``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from groundlabel.labels import LabelClass, LabelSet
from groundlabel.project.database import ProjectDatabase, ProjectError, StaleEditError
from groundlabel.project.models import ClassRecord
from groundlabel.project.rows import check_colour, class_row

# Distinct, readable on photos; class n gets PALETTE[n % len(PALETTE)] unless chosen.
PALETTE = (
    "#e6194b", "#3cb44b", "#ffe119", "#4363d8", "#f58231", "#911eb4", "#46f0f0", "#f032e6",
    "#bcf60c", "#fabebe", "#008080", "#e6beff", "#9a6324", "#fffac8", "#800000", "#aaffc3",
    "#808000", "#ffd8b1", "#000075", "#808080",
)  # fmt: skip


class ClassTable(ProjectDatabase):
    """Reads and low-level writes of the ``classes`` table."""

    def classes(self) -> list[ClassRecord]:
        """Classes in their order (the order gives export ids)."""
        return [
            class_row(r)
            for r in self._read(
                "SELECT id, name, aliases, colour, position FROM classes ORDER BY position, id"
            )
        ]

    def class_by_name(self, name: str) -> ClassRecord | None:
        rows = self._read("SELECT id, name, aliases, colour, position FROM classes WHERE name = ?", (name,))
        return class_row(rows[0]) if rows else None

    def class_record(self, class_id: int) -> ClassRecord:
        rows = self._read("SELECT id, name, aliases, colour, position FROM classes WHERE id = ?", (class_id,))
        if not rows:
            raise StaleEditError(f"class #{class_id} is not in the project")
        return class_row(rows[0])

    def label_set(self) -> LabelSet:
        """The classes as the detector's ``LabelSet`` (raises ``LabelSetError`` if there are none)."""
        return LabelSet(tuple(LabelClass(c.name, c.aliases) for c in self.classes()))

    def next_colour(self) -> str:
        count = self._read("SELECT COUNT(*) FROM classes")[0][0]
        return PALETTE[count % len(PALETTE)]

    def insert_class(
        self,
        name: str,
        aliases: Sequence[str] = (),
        colour: str | None = None,
        position: int | None = None,
        class_id: int | None = None,
    ) -> ClassRecord:
        """Low level (not undoable; user edits go through ``commands.AddClass``)."""
        name = name.strip() if isinstance(name, str) else name
        if not name:
            raise ProjectError("a class name cannot be empty")
        if self.class_by_name(name) is not None:
            raise ProjectError(f"class {name!r} already exists")
        with self._write("classes") as connection:
            if position is None:
                position = connection.execute(
                    "SELECT COALESCE(MAX(position) + 1, 0) FROM classes"
                ).fetchone()[0]
            cursor = connection.execute(
                "INSERT INTO classes(id, name, aliases, colour, position) VALUES (?, ?, ?, ?, ?)",
                (
                    class_id,
                    name,
                    json.dumps(list(aliases)),
                    check_colour(colour or self.next_colour()),
                    position,
                ),
            )
            new_id = cursor.lastrowid if class_id is None else class_id
        return self.class_record(new_id)

    def ensure_classes(self, names: Iterable[str]) -> dict[str, int]:
        """Class ids by name, adding (at the end, in the given order) the ones not there yet."""
        ids: dict[str, int] = {}
        with self.batch():
            for name in names:
                record = self.class_by_name(name) or self.insert_class(name)
                ids[name] = record.id
        return ids

    def update_class(self, class_id: int, **fields: Any) -> ClassRecord:
        """Low level: set ``name``, ``aliases``, ``colour`` and/or ``position``."""
        allowed = {"name", "aliases", "colour", "position"}
        if not fields.keys() <= allowed:
            raise ValueError(f"unknown class fields {sorted(fields.keys() - allowed)}")
        self.class_record(class_id)
        if "name" in fields:
            fields["name"] = str(fields["name"]).strip()
            if not fields["name"]:
                raise ProjectError("a class name cannot be empty")
            other = self.class_by_name(fields["name"])
            if other is not None and other.id != class_id:
                raise ProjectError(f"class {fields['name']!r} already exists")
        if "colour" in fields:
            fields["colour"] = check_colour(fields["colour"])
        if "aliases" in fields:
            fields["aliases"] = json.dumps([str(a).strip() for a in fields["aliases"]])
        with self._write("classes") as connection:
            for key, value in fields.items():
                connection.execute(f"UPDATE classes SET {key} = ? WHERE id = ?", (value, class_id))
        return self.class_record(class_id)

    def delete_class(self, class_id: int) -> None:
        """Low level: delete a class and all its boxes."""
        self.class_record(class_id)
        image_ids = [
            r[0] for r in self._read("SELECT DISTINCT image_id FROM boxes WHERE class_id = ?", (class_id,))
        ]
        with self._write("classes", image_ids) as connection:
            self._pending_change[0].add("boxes")
            connection.execute("DELETE FROM boxes WHERE class_id = ?", (class_id,))
            connection.execute("DELETE FROM classes WHERE id = ?", (class_id,))
