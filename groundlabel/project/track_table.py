"""Reading a project's tracks: which exist, where they are, what a person has decided on them.

A track is not a row of its own: it is the boxes that share a ``track_id`` (schema v4), so
an edit on a track is an edit on its boxes and undo, export and accept/reject need nothing
new. This mixin gives ``ReviewProject`` the questions a reviewer asks of tracks.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from groundlabel.project.database import StaleEditError
from groundlabel.project.models import BoxRecord
from groundlabel.project.rows import BOX_COLUMNS, box_row


@dataclass(frozen=True)
class TrackSummary:
    """One track: its video, class (the most common of its boxes'), span and review counts."""

    track_id: int
    video: str
    class_id: int
    first_frame: int
    last_frame: int
    box_count: int
    pending_count: int
    accepted_count: int
    rejected_count: int
    keyframes: tuple[int, ...]  # frames where a person drew or moved its box (source "hand")

    @property
    def reviewed(self) -> bool:
        return self.pending_count == 0


class TrackTable:
    """Track queries of ``ReviewProject`` (it provides ``_read``)."""

    def tracks(self, video: str | None = None) -> list[TrackSummary]:
        """Every track (or a video's), by video then first frame."""
        where, params = "b.track_id IS NOT NULL", []
        if video is not None:
            where += " AND i.video = ?"
            params.append(video)
        rows = self._read(  # type: ignore[attr-defined]
            f"""SELECT b.track_id, i.video, b.class_id, i.frame, b.status, b.source
            FROM boxes b JOIN images i ON i.id = b.image_id WHERE {where}
            ORDER BY b.track_id, i.frame""",
            params,
        )
        grouped: dict[int, list[tuple]] = {}
        for row in rows:
            grouped.setdefault(row[0], []).append(row)
        summaries = []
        for track_id, boxes in grouped.items():
            statuses = Counter(r[4] for r in boxes)
            summaries.append(
                TrackSummary(
                    track_id=track_id,
                    video=boxes[0][1],
                    class_id=Counter(r[2] for r in boxes).most_common(1)[0][0],
                    first_frame=boxes[0][3],
                    last_frame=boxes[-1][3],
                    box_count=len(boxes),
                    pending_count=statuses["pending"],
                    accepted_count=statuses["accepted"],
                    rejected_count=statuses["rejected"],
                    keyframes=tuple(r[3] for r in boxes if r[5] == "hand"),
                )
            )
        return sorted(summaries, key=lambda t: (t.video, t.first_frame, t.track_id))

    def track(self, track_id: int) -> TrackSummary:
        for summary in self.tracks_with_id(track_id):
            return summary
        raise StaleEditError(f"track #{track_id} no longer exists (deleted or merged)")

    def tracks_with_id(self, track_id: int) -> list[TrackSummary]:
        rows = self._read(  # type: ignore[attr-defined]
            "SELECT DISTINCT i.video FROM boxes b JOIN images i ON i.id = b.image_id WHERE b.track_id = ?",
            (track_id,),
        )
        return [t for (video,) in rows for t in self.tracks(video) if t.track_id == track_id]

    def track_boxes(self, track_id: int) -> list[tuple[int, BoxRecord]]:
        """(frame index, box) of a track, in frame order."""
        columns = ", ".join("b." + c.strip() for c in BOX_COLUMNS.split(","))
        rows = self._read(  # type: ignore[attr-defined]
            f"""SELECT i.frame, {columns} FROM boxes b JOIN images i ON i.id = b.image_id
            WHERE b.track_id = ? ORDER BY i.frame, b.id""",
            (track_id,),
        )
        return [(row[0], box_row(row[1:])) for row in rows]

    def next_track_id(self) -> int:
        """A fresh track id: one past the largest in use (undo history is linear, so a redo
        that re-creates an id finds it free again)."""
        rows = self._read("SELECT COALESCE(MAX(track_id), 0) FROM boxes")  # type: ignore[attr-defined]
        return int(rows[0][0]) + 1

    def frame_ids(self, video: str) -> dict[int, int]:
        """Frame index -> image id of a video's frames in the project."""
        rows = self._read("SELECT frame, id FROM images WHERE video = ? ORDER BY frame", (video,))  # type: ignore[attr-defined]
        return {int(frame): int(image_id) for frame, image_id in rows}
