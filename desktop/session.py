"""The open project as the widgets see it: a Qt undo stack over the project's commands,
and the project's change notifications as a Qt signal.

Edits are ``groundlabel.project.commands`` objects; ``ProjectUndoCommand`` runs their
``apply``/``revert`` in one transaction each, so every edit is on disk the moment it is
made and undo/redo are unbounded. Widgets never write the project themselves.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from groundlabel.project import Command, ProjectChange, ProjectError, ReviewProject

log = logging.getLogger(__name__)


class ProjectUndoCommand(QUndoCommand):
    """``redo`` applies the project command, ``undo`` reverts it, each as one transaction.

    If the command can no longer apply (a box it refers to was replaced by a new
    prediction meanwhile), it reports the reason and drops itself from the stack.
    """

    def __init__(self, session: ProjectSession, command: Command) -> None:
        super().__init__(command.description)
        self.session = session
        self.command = command

    def _run(self, method: str) -> None:
        project = self.session.project
        try:
            with project.batch():
                getattr(self.command, method)(project)
        except ProjectError as exc:
            self.session.last_failed = True
            self.setObsolete(True)  # QUndoStack drops it
            self.session.error.emit(
                f"Cannot {(method == 'revert' and 'undo') or 'redo'} “{self.text()}”: {exc}"
            )

    def redo(self) -> None:
        self._run("apply")

    def undo(self) -> None:
        self._run("revert")


class ProjectSession(QObject):
    """Owns the project for the window; ``changed`` fires on the GUI thread after each commit."""

    changed = Signal(object)  # ProjectChange
    error = Signal(str)

    def __init__(self, project: ReviewProject, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.project = project
        self.undo_stack = QUndoStack(self)  # unbounded (undoLimit 0)
        self.last_failed = False
        # Commits from worker threads arrive here queued, on the GUI thread.
        self._unsubscribe = project.subscribe(self._relay)

    def _relay(self, change: ProjectChange) -> None:
        self.changed.emit(change)

    def execute(self, command: Command) -> bool:
        """Apply an edit and make it undoable; False (and ``error``) if the project refused it."""
        self.last_failed = False
        self.undo_stack.push(ProjectUndoCommand(self, command))
        return not self.last_failed

    def close(self) -> None:
        self._unsubscribe()
        self.undo_stack.clear()
        self.project.close()
