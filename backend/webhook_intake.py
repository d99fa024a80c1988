"""Turning a ``TASKS_CREATED`` webhook body into queued task ids, with bounded memory.

Why: Label Studio sends an import's tasks (with their data) in one webhook, and nothing
stops a client from sending a million ids or a flood of them. The body is capped
(GROUNDLABEL_WEBHOOK_MAX_MB, 413 beyond), parsed one at a time with each task's data
dropped as soon as it is read, and only the ids are kept, on disk (``TaskQueue``). A
full queue (GROUNDLABEL_QUEUE_MAX) refuses with 429: those tasks can be pre-labelled
later with ``groundlabel ls-prelabel``, which the log line says.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi.responses import JSONResponse
from groundlabel.backend.metrics import BackendMetrics
from groundlabel.backend.task_queue import QueueFullError
from groundlabel.backend.webhook_worker import PrelabelWorker, tasks_created_ids

log = logging.getLogger(__name__)


def _compact(obj: dict[str, Any]) -> Any:
    """``json`` object hook: any object with an integer id (a task, the project) becomes that id.

    Called as each object is parsed, so a million tasks cost a million small ints, not a
    million dicts with their data; only the body itself (it has ``action``) stays a dict.
    """
    value = obj.get("id")
    if "action" not in obj and isinstance(value, int) and not isinstance(value, bool):
        return value
    return obj


class WebhookIntake:
    """Parses webhook bodies and queues their ids; every refusal is a response and a log line."""

    def __init__(self, worker: PrelabelWorker | None, metrics: BackendMetrics, max_bytes: int) -> None:
        self.worker = worker
        self.metrics = metrics
        self.max_bytes = max_bytes

    def check_declared_size(self, content_length: str | None) -> JSONResponse | None:
        if content_length and content_length.isdigit() and int(content_length) > self.max_bytes:
            return self.too_large(int(content_length))
        return None

    def too_large(self, size: int) -> JSONResponse:
        self.metrics.webhooks_refused.labels("too_large").inc()
        log.warning(
            "webhook refused (413): its body passes %d bytes (GROUNDLABEL_WEBHOOK_MAX_MB); pre-label those "
            "tasks with `groundlabel ls-prelabel`",
            self.max_bytes,
        )
        return JSONResponse(
            {"status": "refused", "detail": f"body over {self.max_bytes} bytes (GROUNDLABEL_WEBHOOK_MAX_MB)"},
            status_code=413,
        )

    def accept(self, body: bytes) -> JSONResponse | dict[str, Any]:
        """Queue a TASKS_CREATED body's ids (runs on a worker thread, off the event loop)."""
        try:
            parsed = json.loads(body, object_hook=_compact) if body else None
        except ValueError:
            parsed = None
        job = tasks_created_ids(parsed)
        del parsed, body
        if job is None or self.worker is None:
            return {"status": "ok"}
        project_id, task_ids = job
        try:
            added = self.worker.submit(project_id, task_ids)
        except QueueFullError as exc:
            self.metrics.webhooks_refused.labels("queue_full").inc()
            log.warning(
                "webhook TASKS_CREATED refused (429): project %d, %d task(s): %s; pre-label them later "
                "with `groundlabel ls-prelabel --project %d`",
                project_id,
                len(task_ids),
                exc,
                project_id,
            )
            return JSONResponse({"status": "refused", "detail": str(exc)}, status_code=429)
        log.info("webhook TASKS_CREATED: project %d, %d task(s) queued", project_id, added)
        return {"status": "queued", "tasks": added}
