"""The background queue of tasks to pre-label, persisted in SQLite in the state directory.

Why: tasks queued by ``TASKS_CREATED`` webhooks, or left over by /predict's time budget,
used to live in memory, so a restart or a crash lost them silently. Here a task is a
row (project, task id, model version) on disk from the moment it is accepted until its
prediction is posted, so it survives ``kill -9``, and memory stays flat whatever the
queue length: a million ids take a few tens of MB of disk, not RAM.

Several ``groundlabel serve`` replicas may share one state directory (one host, or a
volume with working file locks): a worker claims a batch of rows in one ``BEGIN
IMMEDIATE`` transaction, and refreshes a heartbeat while it works; rows claimed by a
worker whose heartbeat has stopped (killed, crashed) are claimed again by the next one,
after ``STALE_AFTER_S``. Rows are keyed by model version, so a task is queued at most
once per version, and only one replica predicts it.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path

from groundlabel.errors import GroundlabelError

log = logging.getLogger(__name__)

DB_NAME = "queue.db"
HEARTBEAT_S = 5.0
STALE_AFTER_S = 20.0  # four missed heartbeats: the worker is gone
_CHUNK = 20_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS queue (
    model_version TEXT NOT NULL,
    task_id INTEGER NOT NULL,
    project_id INTEGER NOT NULL,
    enqueued REAL NOT NULL,
    owner TEXT,
    PRIMARY KEY (model_version, task_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS queue_order ON queue (model_version, enqueued);
CREATE TABLE IF NOT EXISTS workers (owner TEXT PRIMARY KEY, heartbeat REAL NOT NULL);
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


class QueueFullError(GroundlabelError):
    """The queue holds its maximum number of tasks; the caller should refuse (HTTP 429)."""


class TaskQueue:
    """Tasks waiting for one model version, shared by every process opening the same file."""

    def __init__(self, state_dir: Path, model_version: str, max_tasks: int = 1_000_000) -> None:
        try:
            state_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise GroundlabelError(
                f"cannot create the state directory {state_dir} ({exc.strerror}): pass a writable "
                "--state-dir (or GROUNDLABEL_STATE_DIR)"
            ) from None
        self.path = state_dir / DB_NAME
        self.model_version = model_version
        self.max_tasks = max_tasks
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(self.path, timeout=30, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise GroundlabelError(
                f"cannot open the task queue {self.path} ({exc}): check --state-dir"
            ) from None
        self.heartbeat()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _write(self, sql_batches: Iterable[tuple[str, Sequence]]) -> list[sqlite3.Cursor]:
        """Run statements in one ``BEGIN IMMEDIATE`` transaction (one writer at a time)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                cursors = [self._db.execute(sql, args) for sql, args in sql_batches]
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            return cursors

    def add(self, project_id: int, task_ids: Sequence[int]) -> int:
        """Queue tasks (duplicates ignored); returns how many are new. Raises ``QueueFullError``.

        Stored in transactions of ``_CHUNK`` rows, so a million ids never hold the database
        (and other replicas' heartbeats) for more than a moment.
        """
        length = self.length()
        if length + len(task_ids) > self.max_tasks:
            raise QueueFullError(
                f"the background queue holds {length} task(s) and {len(task_ids)} more would pass "
                f"its limit of {self.max_tasks} (GROUNDLABEL_QUEUE_MAX)"
            )
        now = time.time()
        added = 0
        for start in range(0, len(task_ids), _CHUNK):
            chunk = json.dumps([int(t) for t in task_ids[start : start + _CHUNK]])
            (cursor,) = self._write(
                [
                    (
                        "INSERT OR IGNORE INTO queue (model_version, task_id, project_id, enqueued) "
                        "SELECT ?, value, ?, ? FROM json_each(?)",
                        (self.model_version, project_id, now, chunk),
                    )
                ]
            )
            added += cursor.rowcount
        return added

    def length(self) -> int:
        with self._lock:
            (count,) = self._db.execute(
                "SELECT count(*) FROM queue WHERE model_version = ?", (self.model_version,)
            ).fetchone()
        return int(count)

    def heartbeat(self) -> None:
        """Tell other replicas this worker is alive, so its claims are left to it."""
        self._write(
            [("INSERT OR REPLACE INTO workers (owner, heartbeat) VALUES (?, ?)", (self.owner, time.time()))]
        )

    def _gone_here(self) -> list[tuple[str]]:
        """Workers of this host whose process has exited (a restart after ``kill -9``)."""
        host = socket.gethostname()
        gone = []
        for (owner,) in self._db.execute("SELECT owner FROM workers WHERE owner != ?", (self.owner,)):
            parts = owner.rsplit(":", 2)  # host:pid:random
            if len(parts) == 3 and parts[0] == host and parts[1].isdigit() and not _alive(int(parts[1])):
                gone.append((owner,))
        return gone

    def claim(self, limit: int = 20) -> tuple[int, list[int]] | None:
        """Claim up to ``limit`` of the oldest free tasks of one project; None when none is free.

        Tasks of a worker that stopped beating (``STALE_AFTER_S``), or whose process on
        this host has exited, are free again.
        """
        stale = time.time() - STALE_AFTER_S
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute("DELETE FROM workers WHERE heartbeat < ?", (stale,))
                self._db.executemany("DELETE FROM workers WHERE owner = ?", self._gone_here())
                free = "model_version = ? AND (owner IS NULL OR owner NOT IN (SELECT owner FROM workers))"
                first = self._db.execute(
                    f"SELECT project_id FROM queue WHERE {free} ORDER BY enqueued LIMIT 1",
                    (self.model_version,),
                ).fetchone()
                if first is None:
                    self._db.execute("COMMIT")
                    return None
                ids = [
                    row[0]
                    for row in self._db.execute(
                        f"SELECT task_id FROM queue WHERE {free} AND project_id = ? ORDER BY enqueued, task_id "
                        "LIMIT ?",
                        (self.model_version, first[0], limit),
                    )
                ]
                self._db.executemany(
                    "UPDATE queue SET owner = ? WHERE model_version = ? AND task_id = ?",
                    [(self.owner, self.model_version, i) for i in ids],
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return first[0], ids

    def done(self, task_ids: Iterable[int]) -> None:
        """Remove tasks whose prediction is posted (or that cannot be predicted)."""
        self._write(
            [
                ("DELETE FROM queue WHERE model_version = ? AND task_id = ?", (self.model_version, int(i)))
                for i in task_ids
            ]
        )

    def release(self, task_ids: Iterable[int] | None = None) -> None:
        """Give claimed tasks back (all of this worker's when None), e.g. at shutdown."""
        if task_ids is None:
            self._write(
                [
                    ("UPDATE queue SET owner = NULL WHERE owner = ?", (self.owner,)),
                    ("DELETE FROM workers WHERE owner = ?", (self.owner,)),
                ]
            )
            return
        self._write(
            [
                (
                    "UPDATE queue SET owner = NULL WHERE model_version = ? AND task_id = ? AND owner = ?",
                    (self.model_version, int(i), self.owner),
                )
                for i in task_ids
            ]
        )
