"""The HTTP side of the backend: Label Studio's ML protocol on FastAPI.

/health and /webhook are ``async`` and never wait on the model, so they answer within
Label Studio's 1 s timeouts while a prediction runs; /predict is a plain function, which
FastAPI runs in a worker thread, with inference serialised inside the ``Predictor``.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from groundlabel.backend.interactive import interactive_context
from groundlabel.backend.metrics import CONTENT_TYPE
from groundlabel.backend.predictor import Predictor
from groundlabel.backend.settings import BackendSettings
from groundlabel.backend.task_queue import QueueFullError
from groundlabel.backend.webhook_intake import WebhookIntake
from groundlabel.backend.webhook_worker import PrelabelWorker

log = logging.getLogger(__name__)


def _basic_auth_dependency(settings: BackendSettings):
    """A dependency enforcing BASIC_AUTH_USER / BASIC_AUTH_PASS when both are set."""
    if not settings.basic_auth_user:
        return lambda: None
    security = Depends(HTTPBasic(auto_error=False))

    def check(credentials: HTTPBasicCredentials | None = security) -> None:
        expected_user = (settings.basic_auth_user or "").encode()
        expected_pass = (settings.basic_auth_password or "").encode()
        if credentials is None or not (
            secrets.compare_digest(credentials.username.encode(), expected_user)
            & secrets.compare_digest(credentials.password.encode(), expected_pass)
        ):
            raise HTTPException(
                status_code=401,
                detail="wrong or missing basic auth: the model connection in Label Studio needs the same "
                "user and password",
                headers={"WWW-Authenticate": "Basic"},
            )

    return check


def _project_id(body: dict[str, Any], tasks: list[Any]) -> int | None:
    """The project of a /predict request: the tasks' own field, else ``"<id>.<timestamp>"``."""
    for task in tasks:
        if isinstance(task, dict) and isinstance(task.get("project"), int):
            return task["project"]
    head = str(body.get("project") or "").split(".", 1)[0]
    return int(head) if head.isdigit() else None


def create_app(
    predictor: Predictor, settings: BackendSettings, worker: PrelabelWorker | None = None
) -> FastAPI:
    """The backend app; ``worker`` (optional) pre-labels tasks from TASKS_CREATED webhooks."""
    app = FastAPI(title="groundlabel ML backend", docs_url=None, redoc_url=None)
    auth = Depends(_basic_auth_dependency(settings))
    version = predictor.model_version
    app.state.predictor = predictor
    app.state.worker = worker
    metrics = predictor.metrics
    if worker is not None:
        metrics.count_queue(worker.queue.length)
    intake = WebhookIntake(worker, metrics, settings.webhook_max_bytes)
    webhook_turn = asyncio.Semaphore(1)  # one body read and parsed at a time: memory stays bounded

    @app.get("/health")
    async def health() -> dict[str, Any]:
        """Open even with basic auth on, for container health checks; it tells only the version."""
        return {"status": "UP", "model_class": "groundlabel", "model_version": version}

    @app.get("/", dependencies=[auth])
    async def root() -> dict[str, Any]:
        return {"status": "UP", "model_version": version}

    @app.post("/setup", dependencies=[auth])
    async def setup() -> dict[str, Any]:
        """Nothing to set up per project: the model loaded at start, the config comes per request."""
        return {"model_version": version}

    @app.get("/versions", dependencies=[auth])
    async def versions() -> dict[str, Any]:
        return {"versions": [version], "model_version": version}

    @app.post("/predict", dependencies=[auth])
    def predict(body: dict[str, Any]) -> dict[str, Any]:
        tasks = body.get("tasks")
        if not isinstance(tasks, list):
            raise HTTPException(status_code=400, detail="'tasks' must be a list of Label Studio tasks")
        label_config = body.get("label_config") or ""
        context = interactive_context(body.get("params"))
        started = time.monotonic()
        deadline = None if context else started + settings.predict_budget_s
        outcome = predictor.predict_tasks(
            tasks, label_config if isinstance(label_config, str) else "", context, deadline
        )
        results = outcome.results
        log.info(
            "/predict: %d task(s)%s in %.1f s",
            len(tasks),
            " (interactive)" if context else "",
            time.monotonic() - started,
        )
        if outcome.unfinished:
            project_id = _project_id(body, tasks)
            if worker is not None and project_id is not None:
                try:
                    worker.submit(project_id, outcome.unfinished)
                except QueueFullError as exc:
                    log.warning("/predict: %d task(s) left empty: %s", len(outcome.unfinished), exc)
                    return {"results": results, "model_version": version}
                log.warning(
                    "/predict: %d task(s) did not fit in %g s (GROUNDLABEL_PREDICT_BUDGET); "
                    "pre-labelling them in the background",
                    len(outcome.unfinished),
                    settings.predict_budget_s,
                )
            else:
                log.warning(
                    "/predict: %d task(s) did not fit in %g s (GROUNDLABEL_PREDICT_BUDGET) and were left "
                    "empty; retrieve predictions again, or run `groundlabel ls-prelabel`",
                    len(outcome.unfinished),
                    settings.predict_budget_s,
                )
        return {"results": results, "model_version": version}

    @app.post("/webhook")
    async def webhook(request: Request) -> Response:
        """Answers at once; Label Studio sends no auth here, so only ids are taken from the body.

        The ids go to the queue on disk. Bodies over GROUNDLABEL_WEBHOOK_MAX_MB get 413 and
        a full queue 429, each with a log line; parsing runs off the event loop, so /health
        keeps answering during a flood.
        """
        refused = intake.check_declared_size(request.headers.get("content-length"))
        if refused is not None:
            return refused
        async with webhook_turn:
            body = bytearray()
            async for chunk in request.stream():
                body += chunk
                if len(body) > settings.webhook_max_bytes:
                    return intake.too_large(len(body))
            return await asyncio.to_thread(intake.accept, bytes(body))

    @app.get("/metrics", dependencies=[auth])
    def prometheus_metrics() -> Response:
        """Prometheus text format; behind basic auth when it is on (a plain function: counts the queue)."""
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    return app
