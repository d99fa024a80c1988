"""The database layout and its migrations, versioned with ``PRAGMA user_version``.

Each migration runs as one script inside ``BEGIN``/``COMMIT``, so a crash mid-migration
leaves the previous version intact. Boxes and classes use AUTOINCREMENT: an id is never
reused, so an undone "add box" can be redone with the same id even after other boxes
were added meanwhile.
"""

from __future__ import annotations

import sqlite3

from groundlabel.project.database import ProjectError

_V1 = """
CREATE TABLE images (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    width INTEGER,
    height INTEGER,
    file_size INTEGER,
    file_mtime_ns INTEGER,
    content_hash TEXT,
    state TEXT NOT NULL DEFAULT 'new'
        CHECK (state IN ('new', 'predicted', 'reviewed', 'reviewed-empty')),
    prediction_key TEXT,
    missing INTEGER NOT NULL DEFAULT 0,
    changed INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE classes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    aliases TEXT NOT NULL DEFAULT '[]',
    colour TEXT NOT NULL,
    position INTEGER NOT NULL
);
CREATE TABLE boxes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    class_id INTEGER NOT NULL REFERENCES classes(id),
    x0 REAL NOT NULL, y0 REAL NOT NULL, x1 REAL NOT NULL, y1 REAL NOT NULL,
    score REAL,
    source TEXT NOT NULL CHECK (source IN ('model', 'hand', 'import')),
    status TEXT NOT NULL CHECK (status IN ('pending', 'accepted', 'rejected')),
    model TEXT,
    box_threshold REAL,
    text_threshold REAL
);
CREATE INDEX boxes_by_image ON boxes(image_id);
CREATE INDEX boxes_by_class ON boxes(class_id);
CREATE INDEX images_by_state ON images(state);
CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""

# Version 2: a proposal that arrived accepted because its class's calibrated threshold and
# measured precision allowed it (auto-accept) is flagged, so it can be listed and undone.
_V2 = """
ALTER TABLE boxes ADD COLUMN auto_accepted INTEGER NOT NULL DEFAULT 0
"""

# Version 3: an instance mask per box, in the box's own row so that accepting, rejecting,
# deleting or undoing a box acts on its mask too. ``mask`` is the JSON of the product's COCO
# RLE (``groundlabel.masks``, a few hundred bytes a typical object), NULL when the box has no
# mask; ``mask_score`` is the segmenter's predicted quality, ``mask_model`` what made it.
_V3 = """
ALTER TABLE boxes ADD COLUMN mask TEXT;
ALTER TABLE boxes ADD COLUMN mask_score REAL;
ALTER TABLE boxes ADD COLUMN mask_model TEXT
"""

# Version 4: video. A video's frames are images of the project, keyed by the video's path
# (relative to the folder) and the frame index; their ``path`` is ``VIDEO#000123``, a key and
# not a file (the pixels are decoded from the video when needed). ``timestamp`` is the frame's
# presentation time in seconds. A box on a frame carries the ``track_id`` of its object,
# unique in the project (NULL on still images), so a track edit is one UPDATE over its boxes.
# ``videos`` keeps what a frame row cannot: the clip's rate and length (MOT's seqinfo, Label
# Studio's duration).
_V4 = """
ALTER TABLE images ADD COLUMN video TEXT;
ALTER TABLE images ADD COLUMN frame INTEGER;
ALTER TABLE images ADD COLUMN timestamp REAL;
ALTER TABLE boxes ADD COLUMN track_id INTEGER;
CREATE INDEX images_by_video ON images(video, frame);
CREATE INDEX boxes_by_track ON boxes(track_id);
CREATE TABLE videos (
    path TEXT PRIMARY KEY,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    fps REAL NOT NULL,
    frame_count INTEGER
)
"""

# MIGRATIONS[n] takes the database from version n to n + 1.
MIGRATIONS: list[str] = [_V1, _V2, _V3, _V4]
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(connection: sqlite3.Connection, db_path: str) -> None:
    """Bring the database up to ``SCHEMA_VERSION``; refuse one made by a newer groundlabel."""
    version = connection.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise ProjectError(
            f"{db_path}: project database version {version} is newer than this groundlabel "
            f"understands ({SCHEMA_VERSION}); upgrade groundlabel to open it"
        )
    while version < SCHEMA_VERSION:
        connection.execute("BEGIN IMMEDIATE")
        try:
            # Re-read under the write lock: another process may have migrated meanwhile.
            version = connection.execute("PRAGMA user_version").fetchone()[0]
            if version < SCHEMA_VERSION:
                for statement in MIGRATIONS[version].split(";"):
                    if statement.strip():
                        connection.execute(statement)
                connection.execute(f"PRAGMA user_version = {version + 1}")
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        version = connection.execute("PRAGMA user_version").fetchone()[0]
