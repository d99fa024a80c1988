"""Background pre-labelling of newly imported tasks.

Label Studio answers an import with a ``TASKS_CREATED`` webhook (1 s timeout) and never
calls /predict for it. The webhook handler only queues the project and task ids; this
worker fetches those tasks from Label Studio's API (the webhook body is unauthenticated
and never trusted for data), predicts and posts them one by one.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from groundlabel.backend.ls_client import LabelStudioClient
from groundlabel.backend.predictor import Predictor
from groundlabel.backend.prelabel import prelabel_project

from groundlabel.errors import GroundlabelError

log = logging.getLogger(__name__)


def tasks_created_ids(body: Any) -> tuple[int, list[int]] | None:
    """(project id, task ids) of a TASKS_CREATED webhook body; None for anything else."""
    if not isinstance(body, dict) or body.get("action") != "TASKS_CREATED":
        return None
    project = body.get("project")
    project_id = project.get("id") if isinstance(project, dict) else project
    tasks = body.get("tasks")
    if not isinstance(project_id, int) or isinstance(project_id, bool) or not isinstance(tasks, list):
        return None
    ids = [t.get("id") for t in tasks if isinstance(t, dict)]
    ids = [i for i in ids if isinstance(i, int) and not isinstance(i, bool)]
    return (project_id, ids) if ids else None


class PrelabelWorker:
    """One daemon thread draining a queue of (project, task ids) jobs, in arrival order."""

    def __init__(self, client_factory: Callable[[], LabelStudioClient], predictor: Predictor) -> None:
        self._client_factory = client_factory
        self._predictor = predictor
        self._jobs: queue.Queue[tuple[int, list[int]] | None] = queue.Queue()
        self._stop = threading.Event()
        self._pending = 0
        self._pending_lock = threading.Lock()
        self._idle = threading.Event()
        self._idle.set()
        self._thread = threading.Thread(target=self._run, name="groundlabel-prelabel", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        self._jobs.put(None)
        self._thread.join(timeout_s)

    def submit(self, project_id: int, task_ids: list[int]) -> None:
        with self._pending_lock:
            self._pending += 1
            self._idle.clear()
        self._jobs.put((project_id, task_ids))

    def wait_idle(self, timeout_s: float | None = None) -> bool:
        """True once every submitted job has finished (for tests and orderly shutdown)."""
        return self._idle.wait(timeout_s)

    def _run(self) -> None:
        while not self._stop.is_set():
            job = self._jobs.get()
            if job is None:
                break
            project_id, task_ids = job
            try:
                with self._client_factory() as client:
                    report = prelabel_project(client, self._predictor, project_id, task_ids, stop=self._stop)
                log.info(
                    "project %d: %d task(s) pre-labelled, %d already had %s, %d failed",
                    project_id,
                    report.predicted,
                    report.skipped,
                    self._predictor.model_version,
                    len(report.failed),
                )
            except GroundlabelError as exc:
                log.warning("project %d: background pre-labelling stopped: %s", project_id, exc)
            except Exception:  # a bug must not kill the worker thread for every later import
                log.exception("project %d: background pre-labelling failed", project_id)
            finally:
                with self._pending_lock:
                    self._pending -= 1
                    if self._pending == 0:
                        self._idle.set()
