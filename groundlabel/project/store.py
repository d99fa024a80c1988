"""``ReviewProject``: the SQLite store behind a review folder (see the package docstring)."""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from groundlabel import masks
from groundlabel.labels import LabelSet
from groundlabel.masks import RLE
from groundlabel.project.class_table import ClassTable
from groundlabel.project.database import ProjectError, StaleEditError
from groundlabel.project.models import BoxRecord, BoxSource, BoxStatus, ImageRecord, ImageState
from groundlabel.project.rows import (
    BOX_COLUMNS,
    BOX_PLACEHOLDERS,
    IMAGE_COLUMN_COUNT,
    IMAGE_COLUMNS,
    box_row,
    check_xyxy,
    image_row,
    mask_to_column,
)
from groundlabel.project.scan import file_digest, file_signature, scan_image_paths
from groundlabel.project.schema import migrate
from groundlabel.project.track_table import TrackTable

if TYPE_CHECKING:
    from groundlabel.detector import DetectionResult, DetectionSettings
    from groundlabel.project.commands import Command, UndoStack

log = logging.getLogger(__name__)

PROJECT_DIR = ".groundlabel"
DB_NAME = "project.db"


def prediction_key(
    model: str, labels: LabelSet, settings: DetectionSettings, class_thresholds: str = ""
) -> str:
    """What makes two predictions the same: model, prompt and thresholds (per-class ones and the
    auto-accept rule as ``project.thresholds.thresholds_fingerprint`` gives them; empty when none
    apply, so keys made before any calibration stay valid)."""
    key = f"{model}\n{labels.fingerprint()}\n{settings.fingerprint()}"
    return f"{key}\n{class_thresholds}" if class_thresholds else key


def _optional_float(value: float | None) -> float | None:
    return None if value is None else float(value)


def _prediction_masks(result: DetectionResult) -> tuple[list[RLE | None], list[float | None]]:
    """One (mask, mask score) per box of a detection result; Nones when it carries no masks."""
    count = len(result.boxes)
    box_masks = list(result.masks) if result.masks else [None] * count
    scores = list(result.mask_scores) if result.mask_scores else [None] * count
    if len(box_masks) != count or len(scores) != count:
        raise ProjectError(
            f"{result.source}: the detection has {count} boxes but {len(box_masks)} masks and "
            f"{len(scores)} mask scores; a segmenter must give one per box"
        )
    width, height = result.image_size
    for mask in box_masks:
        if mask is not None and masks.size(mask) != (width, height):
            raise ProjectError(
                f"{result.source}: a mask is {masks.size(mask)[0]}x{masks.size(mask)[1]} pixels but "
                f"the image is {width}x{height}"
            )
    return box_masks, scores


class ReviewProject(ClassTable, TrackTable):
    """A folder's review project; see the ``groundlabel.project`` docstring for the API tour."""

    # ---------------------------------------------------------------- lifecycle

    @classmethod
    def open(cls, folder: str | os.PathLike[str], scan: bool = True) -> ReviewProject:
        """Create or reopen ``folder``'s project and (by default) pick up new or vanished images.

        Opening reads only file names: no image is decoded, stat'ed or hashed.
        """
        root = Path(folder).resolve()
        if not root.is_dir():
            raise ProjectError(f"{folder}: not a folder; give the folder of images to review")
        db_dir = root / PROJECT_DIR
        try:
            db_dir.mkdir(exist_ok=True)
        except OSError as exc:
            raise ProjectError(f"{db_dir}: cannot create the project folder ({exc.strerror})") from None
        project = cls(root, db_dir / DB_NAME)
        try:
            migrate(project._connection(), str(project.db_path))
            if scan:
                project.rescan()
        except sqlite3.DatabaseError as exc:
            project.close()
            raise ProjectError(
                f"{project.db_path}: cannot read the project database ({exc}); "
                "restore it from a backup or move it away to start a new project"
            ) from None
        except BaseException:
            project.close()
            raise
        return project

    # ------------------------------------------------------------------ images

    def rescan(self) -> tuple[int, int]:
        """Add images new in the folder; flag vanished ones ``missing`` (their boxes are kept).

        A video's frames are not files: they are missing when the video is (a folder of frames
        added as a video is one video, not loose images). Returns (added, newly missing)."""
        videos = dict(self._read("SELECT DISTINCT video, 1 FROM images WHERE video IS NOT NULL"))
        frame_folders = tuple(f"{v}/" for v in videos)
        on_disk = {p for p in scan_image_paths(self.root) if not p.startswith(frame_folders)}
        known = dict(self._read("SELECT path, missing FROM images WHERE video IS NULL"))
        added = sorted(on_disk - known.keys())
        vanished = [p for p, missing in known.items() if p not in on_disk and not missing]
        returned = [p for p, missing in known.items() if p in on_disk and missing]
        present = {v: (self.root / v).exists() for v in videos}
        flips = self._read("SELECT DISTINCT video, missing FROM images WHERE video IS NOT NULL")
        video_flips = [(int(not present[v]), v) for v, missing in flips if bool(missing) == present[v]]
        if video_flips:
            with self._write("images") as connection:
                connection.executemany("UPDATE images SET missing = ? WHERE video = ?", video_flips)
        if added or vanished or returned:
            with self._write("images") as connection:
                connection.executemany("INSERT OR IGNORE INTO images(path) VALUES (?)", [(p,) for p in added])
                connection.executemany(
                    "UPDATE images SET missing = 1 WHERE path = ?", [(p,) for p in vanished]
                )
                connection.executemany(
                    "UPDATE images SET missing = 0 WHERE path = ?", [(p,) for p in returned]
                )
        return len(added), len(vanished)

    def images(
        self,
        state: ImageState | Iterable[ImageState] | None = None,
        class_id: int | None = None,
        include_missing: bool = False,
        auto_accepted: bool = False,
    ) -> list[ImageRecord]:
        """Images in path order with their box counts; optionally only some states, only
        images holding a (non-rejected) box of ``class_id``, or (``auto_accepted``) only those
        holding a box still accepted by the auto-accept rule."""
        where, params = ["1 = 1"], []
        if not include_missing:
            where.append("i.missing = 0")
        if state is not None:
            states = [ImageState(state)] if isinstance(state, str) else [ImageState(s) for s in state]
            where.append(f"i.state IN ({','.join('?' * len(states))})")
            params.extend(str(s) for s in states)
        if class_id is not None:
            where.append(
                "EXISTS (SELECT 1 FROM boxes f WHERE f.image_id = i.id "
                "AND f.class_id = ? AND f.status != 'rejected')"
            )
            params.append(class_id)
        if auto_accepted:
            where.append(
                "EXISTS (SELECT 1 FROM boxes a WHERE a.image_id = i.id "
                "AND a.auto_accepted = 1 AND a.status = 'accepted')"
            )
        rows = self._read(
            f"""SELECT {", ".join("i." + c.strip() for c in IMAGE_COLUMNS.split(","))},
                   c.pending, c.accepted, c.rejected, c.masked
            FROM images i LEFT JOIN (
                SELECT image_id,
                       SUM(status = 'pending') AS pending,
                       SUM(status = 'accepted') AS accepted,
                       SUM(status = 'rejected') AS rejected,
                       SUM(mask IS NOT NULL) AS masked
                FROM boxes GROUP BY image_id) c ON c.image_id = i.id
            WHERE {" AND ".join(where)} ORDER BY i.path""",
            params,
        )
        return [image_row(r[:IMAGE_COLUMN_COUNT], r[IMAGE_COLUMN_COUNT:]) for r in rows]

    def image(self, image_id: int) -> ImageRecord:
        rows = self._read(
            f"""SELECT {IMAGE_COLUMNS},
                (SELECT COUNT(*) FROM boxes WHERE image_id = images.id AND status = 'pending'),
                (SELECT COUNT(*) FROM boxes WHERE image_id = images.id AND status = 'accepted'),
                (SELECT COUNT(*) FROM boxes WHERE image_id = images.id AND status = 'rejected'),
                (SELECT COUNT(*) FROM boxes WHERE image_id = images.id AND mask IS NOT NULL)
            FROM images WHERE id = ?""",
            (image_id,),
        )
        if not rows:
            raise StaleEditError(f"image #{image_id} is not in the project {self.root}")
        return image_row(rows[0][:IMAGE_COLUMN_COUNT], rows[0][IMAGE_COLUMN_COUNT:])

    def image_by_path(self, path: str | os.PathLike[str]) -> ImageRecord | None:
        """The image for a path relative to the folder, or absolute inside it."""
        relative = self.relative_path(path)
        rows = self._read("SELECT id FROM images WHERE path = ?", (relative,)) if relative else []
        return self.image(rows[0][0]) if rows else None

    def relative_path(self, path: str | os.PathLike[str]) -> str | None:
        candidate = Path(path)
        if not candidate.is_absolute():
            return candidate.as_posix()
        try:
            return candidate.resolve().relative_to(self.root).as_posix()
        except ValueError:
            return None

    def image_file(self, image: ImageRecord | int) -> Path:
        """The image's absolute path on disk; for a video's frame, a file of its pixels
        (``video_frames.frame_file``: decoded into the project's frame cache on first use)."""
        record = self.image(image) if isinstance(image, int) else image
        if record.video is not None:
            from groundlabel.project.video_frames import frame_file

            return frame_file(self, record)
        return self.root / record.path

    def state_counts(self) -> dict[ImageState, int]:
        counts = dict(self._read("SELECT state, COUNT(*) FROM images WHERE missing = 0 GROUP BY state"))
        return {state: counts.get(str(state), 0) for state in ImageState}

    def ensure_image_info(self, image_id: int, with_hash: bool = True) -> ImageRecord:
        """Fill the size as shown and content hash if missing or the file changed on disk.

        Reads the header and hashes the bytes (no pixel decode); ``with_hash=False`` skips
        hashing an image never hashed before (exports and imports need the size only). A changed file is flagged
        ``changed`` and its ``prediction_key`` cleared, so ``detect --into-project`` runs it again.
        Raises ``ImageLoadError`` for an unreadable file. Safe from any thread.
        """
        from groundlabel.images import image_size_as_shown

        record = self.image(image_id)
        if record.video is not None and record.size is not None:
            return record  # a frame's size is the video's, known when it was added
        path = self.root / record.path
        try:
            signature = file_signature(path)
        except OSError as exc:
            from groundlabel.errors import ImageLoadError

            raise ImageLoadError(str(path), f"cannot read the file ({exc.strerror})") from None
        stored = self._read("SELECT file_size, file_mtime_ns FROM images WHERE id = ?", (image_id,))[0]
        hash_needed = with_hash or record.content_hash is not None
        if (
            tuple(stored) == signature
            and record.size is not None
            and (record.content_hash or not hash_needed)
        ):
            return record
        width, height = image_size_as_shown(path)
        digest = file_digest(path) if hash_needed else None
        changed = record.content_hash is not None and record.content_hash != digest
        with self._write("images", [image_id]) as connection:
            connection.execute(
                """UPDATE images SET width = ?, height = ?, file_size = ?, file_mtime_ns = ?,
                   content_hash = COALESCE(?, content_hash), changed = MAX(changed, ?),
                   prediction_key = CASE WHEN ? THEN NULL ELSE prediction_key END WHERE id = ?""",
                (width, height, *signature, digest, int(changed), int(changed), image_id),
            )
        if changed:
            log.warning("%s changed on disk since it was first seen; its boxes may not fit any more", path)
        return self.image(image_id)

    # ------------------------------------------------------------------- boxes

    def boxes(self, image_id: int, include_rejected: bool = True) -> list[BoxRecord]:
        """An image's boxes: by class order, then best score first, then id."""
        condition = "" if include_rejected else " AND b.status != 'rejected'"
        rows = self._read(
            f"""SELECT {", ".join("b." + c.strip() for c in BOX_COLUMNS.split(","))}
            FROM boxes b JOIN classes c ON c.id = b.class_id
            WHERE b.image_id = ?{condition}
            ORDER BY c.position, b.score IS NULL, b.score DESC, b.id""",
            (image_id,),
        )
        return [box_row(r) for r in rows]

    def box(self, box_id: int) -> BoxRecord:
        rows = self._read(f"SELECT {BOX_COLUMNS} FROM boxes WHERE id = ?", (box_id,))
        if not rows:
            raise StaleEditError(f"box #{box_id} no longer exists (deleted or re-predicted)")
        return box_row(rows[0])

    def boxes_of_class(self, class_id: int) -> list[BoxRecord]:
        return [
            box_row(r)
            for r in self._read(
                f"SELECT {BOX_COLUMNS} FROM boxes WHERE class_id = ? ORDER BY id", (class_id,)
            )
        ]

    def has_box(self, box_id: int) -> bool:
        return bool(self._read("SELECT 1 FROM boxes WHERE id = ?", (box_id,)))

    def insert_box(
        self,
        image_id: int,
        class_id: int,
        xyxy: Sequence[float],
        *,
        source: BoxSource = BoxSource.HAND,
        status: BoxStatus = BoxStatus.ACCEPTED,
        score: float | None = None,
        model: str | None = None,
        box_threshold: float | None = None,
        text_threshold: float | None = None,
        box_id: int | None = None,
        auto_accepted: bool = False,
        mask: RLE | None = None,
        mask_score: float | None = None,
        mask_model: str | None = None,
        track_id: int | None = None,
    ) -> BoxRecord:
        """Low level (not undoable; user edits go through ``commands.AddBox``)."""
        image = self.image(image_id)
        self.class_record(class_id)
        coords = check_xyxy(xyxy)
        mask_text = self._mask_column(image, mask)
        with self._write("boxes", [image_id]) as connection:
            cursor = connection.execute(
                f"INSERT INTO boxes({BOX_COLUMNS}) VALUES ({BOX_PLACEHOLDERS})",
                (
                    box_id, image_id, class_id, *coords,
                    None if score is None else float(score),
                    str(BoxSource(source)), str(BoxStatus(status)),
                    model, box_threshold, text_threshold, int(auto_accepted),
                    mask_text, _optional_float(mask_score), mask_model, track_id,
                ),
            )  # fmt: skip
            new_id = cursor.lastrowid if box_id is None else box_id
        return self.box(new_id)

    def insert_boxes(self, image_id: int, boxes: Sequence[dict[str, Any]]) -> int:
        """Low level: many boxes on one image in one statement (an import of 100,000 boxes).

        Each dict holds ``insert_box``'s keyword arguments plus ``class_id`` and ``xyxy``.
        The image is read once, not once per box: ``image()`` counts the image's boxes, so
        reading it per insert made a dense image's import quadratic. Returns how many went in.
        """
        if not boxes:
            return 0
        image = self.image(image_id)
        known_classes = {c.id for c in self.classes()}
        rows = []
        for box in boxes:
            if box["class_id"] not in known_classes:
                self.class_record(box["class_id"])  # raises the usual error
            mask = box.get("mask")
            score = box.get("score")
            rows.append(
                (
                    None, image_id, box["class_id"], *check_xyxy(box["xyxy"]),
                    None if score is None else float(score),
                    str(BoxSource(box.get("source", BoxSource.HAND))),
                    str(BoxStatus(box.get("status", BoxStatus.ACCEPTED))),
                    box.get("model"), box.get("box_threshold"), box.get("text_threshold"),
                    int(box.get("auto_accepted", False)),
                    self._mask_column(image, mask), _optional_float(box.get("mask_score")),
                    box.get("mask_model"), box.get("track_id"),
                )
            )  # fmt: skip
        with self._write("boxes", [image_id]) as connection:
            connection.executemany(f"INSERT INTO boxes({BOX_COLUMNS}) VALUES ({BOX_PLACEHOLDERS})", rows)
        return len(rows)

    def restore_box(self, box: BoxRecord) -> BoxRecord:
        """Put back a deleted box exactly as it was, same id (used by undo)."""
        return self.insert_box(
            box.image_id,
            box.class_id,
            box.xyxy,
            source=box.source,
            status=box.status,
            score=box.score,
            model=box.model,
            box_threshold=box.box_threshold,
            text_threshold=box.text_threshold,
            box_id=box.id,
            auto_accepted=box.auto_accepted,
            mask=box.mask,
            mask_score=box.mask_score,
            mask_model=box.mask_model,
            track_id=box.track_id,
        )

    def _mask_column(self, image: ImageRecord, mask: RLE | None) -> str | None:
        """The ``boxes.mask`` text for a mask of ``image``; a mask of another size is refused."""
        if mask is None:
            return None
        try:
            width, height = masks.size(mask)
        except (KeyError, TypeError, ValueError):
            raise ProjectError(f"{image.path}: a mask must be a COCO RLE with 'size' and 'counts'") from None
        if image.size is not None and (width, height) != image.size:
            raise ProjectError(
                f"{image.path}: the mask is {width}x{height} pixels but the image is "
                f"{image.size[0]}x{image.size[1]}; masks are in pixels of the image as shown"
            )
        # The door (every writer of a mask comes here): a stored mask is one every export decodes.
        try:
            return mask_to_column(masks.check(mask, width, height))
        except masks.MaskError as exc:
            raise ProjectError(f"{image.path}: {exc}") from None

    def update_box(self, box_id: int, **fields: Any) -> BoxRecord:
        """Low level: set ``xyxy``, ``class_id``, ``status``, ``mask``, ``mask_score`` and/or
        ``mask_model`` (``mask=None`` clears the mask; the score and model are set as given), and/or
        ``track_id``."""
        allowed = {"xyxy", "class_id", "status", "mask", "mask_score", "mask_model", "track_id"}
        if not fields.keys() <= allowed:
            raise ValueError(f"unknown box fields {sorted(fields.keys() - allowed)}")
        current = self.box(box_id)
        values: dict[str, Any] = {}
        if "xyxy" in fields:
            values.update(zip(("x0", "y0", "x1", "y1"), check_xyxy(fields["xyxy"]), strict=True))
        if "class_id" in fields:
            values["class_id"] = self.class_record(fields["class_id"]).id
        if "status" in fields:
            values["status"] = str(BoxStatus(fields["status"]))
        if "mask" in fields:
            values["mask"] = self._mask_column(self.image(current.image_id), fields["mask"])
        if "mask_score" in fields:
            values["mask_score"] = _optional_float(fields["mask_score"])
        if "mask_model" in fields:
            values["mask_model"] = fields["mask_model"]
        if "track_id" in fields:
            values["track_id"] = None if fields["track_id"] is None else int(fields["track_id"])
        with self._write("boxes", [current.image_id]) as connection:
            for key, value in values.items():
                connection.execute(f"UPDATE boxes SET {key} = ? WHERE id = ?", (value, box_id))
        return self.box(box_id)

    def delete_box(self, box_id: int) -> BoxRecord:
        """Low level: delete a box and return it as it was."""
        box = self.box(box_id)
        with self._write("boxes", [box.image_id]) as connection:
            connection.execute("DELETE FROM boxes WHERE id = ?", (box_id,))
        return box

    def set_image_state(self, image_id: int, state: ImageState) -> None:
        """Low level (not undoable; user edits go through ``commands.SetImageState``)."""
        self.image(image_id)
        with self._write("images", [image_id]) as connection:
            connection.execute("UPDATE images SET state = ? WHERE id = ?", (str(ImageState(state)), image_id))

    # ------------------------------------------------------------- predictions

    def needs_prediction(self, image_id: int, key: str) -> bool:
        rows = self._read("SELECT prediction_key FROM images WHERE id = ?", (image_id,))
        return not rows or rows[0][0] != key

    def record_prediction(
        self,
        image_id: int,
        result: DetectionResult,
        model: str,
        labels: LabelSet,
        settings: DetectionSettings,
        class_thresholds: str = "",
        auto_accept: Mapping[str, float] | None = None,
        mask_model: str | None = None,
    ) -> list[BoxRecord]:
        """Store one image's detector output in one transaction. Safe from a worker thread.

        Replaces the image's earlier *pending model* boxes and auto-accepted ones still accepted
        (accepted, rejected, hand-drawn and imported boxes stay), adds classes the project lacks,
        records the size as shown and the prediction key (``class_thresholds``: see
        ``prediction_key``), and moves a ``new`` image to ``predicted`` (reviewed images keep
        their state). A box whose class is in ``auto_accept`` with a score at or above its value
        arrives accepted and flagged ``auto_accepted``. Not undoable: an undo of an edit to a
        replaced box raises ``StaleEditError``.

        The result's ``masks``/``mask_scores`` (one per box, when present) are stored with their
        boxes; ``mask_model`` names the segmenter that made them (default: ``model``, as for a
        family such as SAM 3 whose detections carry masks).
        """
        if not result.ok:
            raise ProjectError(f"{result.source}: cannot record a failed detection ({result.error})")
        key = prediction_key(model, labels, settings, class_thresholds)
        auto_accept = auto_accept or {}
        width, height = result.image_size
        with self._write("boxes", [image_id]) as connection:
            self._pending_change[0].add("images")
            self.image(image_id)
            class_ids = self.ensure_classes(labels.names)
            connection.execute(
                "DELETE FROM boxes WHERE image_id = ? AND source = 'model' "
                "AND (status = 'pending' OR (auto_accepted = 1 AND status = 'accepted'))",
                (image_id,),
            )
            box_masks, mask_scores = _prediction_masks(result)
            mask_model = mask_model or model
            rows = zip(result.boxes, result.scores, result.labels, box_masks, mask_scores, strict=True)
            for xyxy, score, name, mask, mask_score in rows:
                auto = name in auto_accept and score >= auto_accept[name]
                mask_text = mask_to_column(mask)
                connection.execute(
                    f"INSERT INTO boxes({BOX_COLUMNS}) VALUES ({BOX_PLACEHOLDERS})",
                    (
                        None, image_id, class_ids[name], *check_xyxy(xyxy), float(score),
                        "model", "accepted" if auto else "pending", model,
                        settings.box_threshold, settings.text_threshold, int(auto),
                        mask_text, _optional_float(mask_score) if mask_text else None,
                        mask_model if mask_text else None, None,
                    ),
                )  # fmt: skip
            connection.execute(
                """UPDATE images SET width = ?, height = ?, prediction_key = ?, changed = 0,
                   state = CASE WHEN state = 'new' THEN 'predicted' ELSE state END WHERE id = ?""",
                (width, height, key, image_id),
            )
        return self.boxes(image_id)

    # ----------------------------------------------------------------- history

    @property
    def history(self) -> UndoStack:
        """This session's undo/redo stack (unbounded). Use from one thread (the UI thread)."""
        if self._history is None:
            from groundlabel.project.commands import UndoStack

            self._history = UndoStack(self)
        return self._history

    def execute(self, command: Command) -> Command:
        """Apply an edit as one transaction and push it on ``history``."""
        return self.history.push(command)

    def dump_state(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every table, sorted; two projects with equal dumps hold the same data."""
        tables = {
            "images": f"SELECT {IMAGE_COLUMNS} FROM images",
            "classes": "SELECT id, name, aliases, colour, position FROM classes",
            "boxes": f"SELECT {BOX_COLUMNS} FROM boxes",
            "settings": "SELECT key, value FROM settings",
            "videos": "SELECT path, width, height, fps, frame_count FROM videos",
        }
        return {name: sorted(tuple(r) for r in self._read(sql)) for name, sql in tables.items()}
