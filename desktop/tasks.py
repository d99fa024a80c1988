"""Running one long job (export, import) off the GUI thread with a progress dialog.

The job is a plain function taking a ``tick()`` callback; ``tick`` raises ``Cancelled``
once the user pressed Cancel, so the job stops between two images.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal
from PySide6.QtWidgets import QProgressDialog, QWidget

from groundlabel.errors import GroundlabelError

log = logging.getLogger(__name__)


class Cancelled(Exception):
    """The user cancelled the job."""


_outliving: set[BackgroundTask] = set()  # jobs still running when their window closed


def cancel_running(owner: QObject) -> bool:
    """Cancel ``owner``'s running jobs; True when some still run (quitting must not wait for them).

    Those are unparented and kept here until they end: Qt aborts the process when a running
    QThread is destroyed with its window.
    """
    running = False
    for task in owner.findChildren(BackgroundTask):
        task.cancel()
        if task.isRunning():
            running = True
            task.setParent(None)
            _outliving.add(task)
            task.finished.connect(lambda done=task: _outliving.discard(done))
    return running


class BackgroundTask(QThread):
    ticked = Signal(int)
    succeeded = Signal(object)
    failed = Signal(str)
    cancelled = Signal()

    def __init__(self, job: Callable[[Callable[[], None]], Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.job = job
        self._cancel = threading.Event()
        self._done = 0

    def cancel(self) -> None:
        self._cancel.set()

    def _tick(self) -> None:
        if self._cancel.is_set():
            raise Cancelled
        self._done += 1
        self.ticked.emit(self._done)

    def run(self) -> None:
        try:
            result = self.job(self._tick)
        except Cancelled:
            self.cancelled.emit()
        except GroundlabelError as exc:
            self.failed.emit(str(exc))
        except Exception as exc:  # a bug: report it instead of losing the window
            log.error("background job failed:\n%s", traceback.format_exc())
            self.failed.emit(f"{type(exc).__name__}: {exc}")
        else:
            self.succeeded.emit(result)


def run_with_progress(
    parent: QWidget,
    title: str,
    total: int,
    job: Callable[[Callable[[], None]], Any],
    on_success: Callable[[Any], None],
    on_failure: Callable[[str], None],
) -> BackgroundTask:
    """Start ``job`` on a thread; a progress dialog counts its ticks up to ``total``."""
    dialog = QProgressDialog(title, "Cancel", 0, max(total, 1), parent)
    dialog.setWindowTitle(title)
    dialog.setMinimumDuration(300)
    dialog.setAutoClose(False)
    dialog.setAutoReset(False)
    task = BackgroundTask(job, parent)
    task.ticked.connect(lambda n: dialog.setValue(min(n, dialog.maximum())))
    dialog.canceled.connect(task.cancel)

    def finish() -> None:
        dialog.reset()
        dialog.deleteLater()

    # Deleted only once run() has returned: deleting a running QThread aborts the process.
    task.finished.connect(task.deleteLater)
    task.succeeded.connect(lambda result: (finish(), on_success(result)))
    task.failed.connect(lambda reason: (finish(), on_failure(reason)))
    task.cancelled.connect(lambda: (finish(), on_failure(f"{title}: cancelled")))
    task.start()
    return task
