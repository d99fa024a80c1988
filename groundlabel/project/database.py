"""The SQLite side of a project: one connection per thread, write lock, transactions, listeners."""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from groundlabel.errors import GroundlabelError
from groundlabel.project.models import ProjectChange

if TYPE_CHECKING:
    from groundlabel.project.commands import UndoStack

log = logging.getLogger(__name__)


class ProjectError(GroundlabelError):
    """A project operation the user asked for cannot be done (unknown class, duplicate name...)."""


class StaleEditError(ProjectError):
    """An edit refers to a box, image or class that no longer exists (e.g. re-predicted meanwhile)."""


class ProjectDatabase:
    """Connections and transactions; ``ReviewProject`` adds the project's tables on top."""

    # How long a write waits for another process's write to finish before giving up.
    busy_timeout_s = 30.0

    def __init__(self, root: Path, db_path: Path) -> None:
        self.root = root
        self.db_path = db_path
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        self._write_lock = threading.RLock()
        self._depth = 0  # nesting of write transactions, guarded by _write_lock
        self._pending_change: tuple[set[str], set[int]] = (set(), set())
        self._listeners: list[Callable[[ProjectChange], None]] = []
        self._history: UndoStack | None = None
        self._closed = False

    def close(self) -> None:
        """Close every thread's connection. Call from the thread that owns the project."""
        self._closed = True
        with self._connections_lock:
            for connection in self._connections:
                with suppress(sqlite3.Error):
                    connection.close()
            self._connections.clear()
        self._local = threading.local()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _connection(self) -> sqlite3.Connection:
        """This thread's connection (sqlite3 connections must not be shared across threads)."""
        if self._closed:
            raise ProjectError(f"{self.root}: the project is closed")
        connection = getattr(self._local, "connection", None)
        if connection is None:
            try:
                connection = sqlite3.connect(
                    self.db_path, timeout=self.busy_timeout_s, isolation_level=None, check_same_thread=False
                )
            except sqlite3.Error as exc:
                raise ProjectError(f"{self.db_path}: cannot open the project database ({exc})") from None
            connection.execute("PRAGMA journal_mode=WAL")
            # FULL: a committed change survives power loss too, not only a killed process.
            connection.execute("PRAGMA synchronous=FULL")
            connection.execute("PRAGMA foreign_keys=ON")
            self._local.connection = connection
            with self._connections_lock:
                self._connections.append(connection)
        return connection

    # ------------------------------------------------------------ transactions

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Group several writes into one transaction: all of them land, or none (imports, commands)."""
        with self._write_lock:
            connection = self._connection()
            outer = self._depth == 0
            if outer:
                self._execute_control(connection, "BEGIN IMMEDIATE")
                self._pending_change = (set(), set())
            self._depth += 1
            try:
                yield
                if outer:
                    self._execute_control(connection, "COMMIT")
            except BaseException:
                if outer and connection.in_transaction:
                    with suppress(sqlite3.Error):
                        connection.execute("ROLLBACK")
                raise
            finally:
                self._depth -= 1
                if outer:
                    kinds, image_ids = self._pending_change
                    self._pending_change = (set(), set())
        if outer:
            self._notify(ProjectChange(frozenset(kinds), frozenset(image_ids)))

    def _execute_control(self, connection: sqlite3.Connection, statement: str) -> None:
        """BEGIN/COMMIT, with SQLite's failures (locked too long, disk full) as one clear error."""
        try:
            connection.execute(statement)
        except sqlite3.OperationalError as exc:
            raise ProjectError(
                f"{self.db_path}: cannot save the change ({exc}); another program may hold the project "
                "open for writing, or the disk may be full"
            ) from None

    @contextmanager
    def _write(self, kind: str, image_ids: Iterable[int] = ()) -> Iterator[sqlite3.Connection]:
        with self.batch():
            self._pending_change[0].add(kind)
            self._pending_change[1].update(image_ids)
            yield self._connection()

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return self._connection().execute(sql, params).fetchall()

    def subscribe(self, listener: Callable[[ProjectChange], None]) -> Callable[[], None]:
        """Call ``listener`` after every committed change, on the thread that made it.

        Returns a function that unsubscribes. A Qt front end re-emits it as a queued signal.
        """
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _notify(self, change: ProjectChange) -> None:
        if not change.kinds:
            return
        for listener in list(self._listeners):
            try:
                listener(change)
            except Exception:
                log.exception("project listener failed")

    # ---------------------------------------------------------------- settings

    def get_setting(self, key: str, default: Any = None) -> Any:
        """A remembered value (JSON) such as ``"model"`` or ``"box_threshold"``."""
        rows = self._read("SELECT value FROM settings WHERE key = ?", (key,))
        return json.loads(rows[0][0]) if rows else default

    def set_setting(self, key: str, value: Any) -> None:
        with self._write("settings") as connection:
            connection.execute(
                "INSERT INTO settings(key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, json.dumps(value)),
            )

    @property
    def model(self) -> str | None:
        """The model chosen for this project, remembered across sessions."""
        return self.get_setting("model")

    @model.setter
    def model(self, value: str | None) -> None:
        self.set_setting("model", value)
