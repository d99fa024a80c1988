"""Background pre-labelling of newly imported tasks, from the persistent queue.

Label Studio answers an import with a ``TASKS_CREATED`` webhook (1 s timeout) and never
calls /predict for it. The webhook handler only stores the project and task ids in the
``TaskQueue`` (on disk); this worker claims them in small batches, fetches those tasks
from Label Studio's API (the webhook body is unauthenticated and never trusted for data),
predicts and posts them one by one, and removes each from the queue once posted. After a
restart, or a ``kill -9``, it finds the rows still there and goes on by itself; a task
whose prediction was posted just before a crash is skipped, because Label Studio already
holds this model version for it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from groundlabel.backend.ls_client import LabelStudioClient
from groundlabel.backend.predictor import Predictor
from groundlabel.backend.prelabel import prelabel_project
from groundlabel.backend.task_queue import HEARTBEAT_S, TaskQueue
from groundlabel.backend.video_predictions import logged_progress

from groundlabel.errors import GroundlabelError

log = logging.getLogger(__name__)

BATCH = 20
IDLE_POLL_S = 2.0  # other replicas' rows and stale claims are noticed this often
RETRY_AFTER_S = 15.0  # Label Studio unreachable: try the batch again after this


def tasks_created_ids(body: Any) -> tuple[int, list[int]] | None:
    """(project id, task ids) of a TASKS_CREATED webhook body; None for anything else."""
    if not isinstance(body, dict) or body.get("action") != "TASKS_CREATED":
        return None
    project = body.get("project")
    project_id = project.get("id") if isinstance(project, dict) else project
    tasks = body.get("tasks")
    if not isinstance(project_id, int) or isinstance(project_id, bool) or not isinstance(tasks, list):
        return None
    # A task is a dict, or already its id (``webhook_intake`` compacts tasks while parsing).
    ids = [t.get("id") if isinstance(t, dict) else t for t in tasks]
    ids = [i for i in ids if isinstance(i, int) and not isinstance(i, bool)]
    return (project_id, ids) if ids else None


class PrelabelWorker:
    """One daemon thread draining the persistent queue, oldest first, one project batch at a time."""

    def __init__(
        self, client_factory: Callable[[], LabelStudioClient], predictor: Predictor, queue: TaskQueue
    ) -> None:
        self._client_factory = client_factory
        self._predictor = predictor
        self.queue = queue
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._idle = threading.Event()
        self._submitted = 0  # bumped by submit, so a claim that raced it never reports idle
        self._thread = threading.Thread(target=self._run, name="groundlabel-prelabel", daemon=True)
        self._beat = threading.Thread(target=self._heartbeat, name="groundlabel-heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()
        self._beat.start()

    def request_stop(self) -> None:
        """Ask the worker to stop after the task in progress (from a signal handler: no waiting)."""
        self._stop.set()
        self._wake.set()

    def stop(self, timeout_s: float = 60.0) -> None:
        """Finish the task in progress, give the rest of the batch back to the queue, stop."""
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout_s)
        self._beat.join(timeout_s)
        self.queue.release()

    def submit(self, project_id: int, task_ids: list[int]) -> int:
        """Queue tasks on disk; returns how many were new. Raises ``QueueFullError``."""
        added = self.queue.add(project_id, task_ids)
        self._submitted += 1
        self._idle.clear()
        self._wake.set()
        return added

    def wait_idle(self, timeout_s: float | None = None) -> bool:
        """True once the queue is empty and nothing is in progress (for tests)."""
        self._wake.set()
        return self._idle.wait(timeout_s)

    def _heartbeat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            try:
                self.queue.heartbeat()
            except Exception:  # a locked or full disk must not kill the heartbeat for good
                log.exception("task queue heartbeat failed")

    def _run(self) -> None:
        while not self._stop.is_set():
            submitted = self._submitted
            try:
                batch = self.queue.claim(BATCH)
            except Exception:
                log.exception("cannot read the task queue %s", self.queue.path)
                batch = None
            if batch is None:
                if submitted == self._submitted:
                    self._idle.set()
                self._wake.wait(IDLE_POLL_S)
                self._wake.clear()
                continue
            self._idle.clear()
            if not self._work(*batch):
                self._stop.wait(RETRY_AFTER_S)

    def _work(self, project_id: int, task_ids: list[int]) -> bool:
        """Pre-label one claimed batch; False when it must be retried later."""
        finished: list[int] = []

        def task_done(task_id: int, outcome: str) -> None:
            self.queue.done([task_id])
            finished.append(task_id)

        try:
            with self._client_factory() as client:
                report = prelabel_project(
                    client,
                    self._predictor,
                    project_id,
                    task_ids,
                    on_task_done=task_done,
                    stop=self._stop,
                    frames=logged_progress,
                )
        except GroundlabelError as exc:
            log.warning("project %d: background pre-labelling paused, retried later: %s", project_id, exc)
            self.queue.release(set(task_ids) - set(finished))
            return False
        except Exception:  # a bug must not kill the worker thread for every later import
            log.exception("project %d: background pre-labelling failed", project_id)
            self.queue.release(set(task_ids) - set(finished))
            return False
        rest = set(task_ids) - set(finished)
        if self._stop.is_set():
            self.queue.release(rest)
        elif rest:  # not returned by Label Studio: deleted since they were queued
            self.queue.done(rest)
        log.info(
            "project %d: %d task(s) pre-labelled, %d already had %s, %d failed",
            project_id,
            report.predicted,
            report.skipped,
            self._predictor.model_version,
            len(report.failed),
        )
        return True
