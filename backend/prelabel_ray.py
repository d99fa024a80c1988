"""``groundlabel ls-prelabel --ray``: a Label Studio project pre-labelled by a pool of Ray actors.

The driver lists the project's tasks through the API and keeps those without this
model version (so a rerun resumes, as without Ray). Each actor builds the same
``Predictor`` as ``serve`` once (detector, and the image fetcher with Label Studio's
credentials, allow-list, size and time limits and local-files root: the SSRF guard of
``task_images.py``), then fetches, predicts and posts its tasks' predictions itself.
Only outcomes travel back to the driver.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from groundlabel.backend.ls_auth import LabelStudioAuthError
from groundlabel.backend.ls_client import LabelStudioClient
from groundlabel.backend.prelabel import PrelabelReport, _existing_versions
from groundlabel.backend.server import ModelOptions
from groundlabel.backend.settings import BackendSettings

from groundlabel.errors import GroundlabelError


@dataclass(frozen=True)
class PrelabelJob:
    """What every actor needs: the model, Label Studio's settings and the project's label config."""

    options: ModelOptions
    settings: BackendSettings
    label_config: str
    threads: int


class PrelabelActor:
    """One worker: a ``Predictor`` and an API client, built once, used for every task it gets."""

    def __init__(self, job: PrelabelJob) -> None:
        import torch
        from groundlabel.backend.label_config import parse_targets
        from groundlabel.backend.server import build_predictor

        from groundlabel.cli import _quiet_libraries

        _quiet_libraries()
        torch.set_num_threads(job.threads)
        self.predictor = build_predictor(job.options, job.settings)
        self.targets = parse_targets(job.label_config)
        self.client = LabelStudioClient(job.settings.label_studio_url or "", job.settings.api_key)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        outcomes = [json.dumps(self._one(json.loads(text))) for text in batch["task"]]
        return {"outcome": np.asarray(outcomes, dtype=object)}

    def _one(self, task: dict[str, Any]) -> dict[str, Any]:
        task_id = int(task["id"])
        try:
            result = self.predictor.predict_task(task, self.targets)
            self.client.create_prediction(task_id, result)
        except LabelStudioAuthError as exc:
            return {"id": task_id, "outcome": "auth", "reason": str(exc)}
        except GroundlabelError as exc:
            return {"id": task_id, "outcome": "failed", "reason": str(exc)}
        return {"id": task_id, "outcome": "predicted", "reason": ""}


def tasks_to_do(
    client: LabelStudioClient, project_id: int, version: str, report: PrelabelReport
) -> list[str]:
    """The project's tasks lacking ``version``, as JSON; the others count as skipped."""
    todo = []
    for task in client.iter_tasks(project_id):
        if version in _existing_versions(client, task):
            report.skipped += 1
        else:
            todo.append(json.dumps(task))
    return todo


def prelabel_on_ray(
    tasks: list[str], job: PrelabelJob, workers: int, gpus_per_worker: float = 0.0
) -> Iterator[dict[str, Any]]:
    """Outcomes (``id``, ``outcome``, ``reason``) of the given tasks, as the actors finish them."""
    import warnings

    import ray.data

    if not tasks:
        return
    dataset = ray.data.from_items([{"task": t} for t in tasks], override_num_blocks=min(len(tasks), 1000))
    options: dict[str, Any] = {"num_gpus": gpus_per_worker} if gpus_per_worker > 0 else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # max_restarts: see detect_pipeline
        dataset = dataset.map_batches(
            PrelabelActor,
            fn_constructor_kwargs={"job": job},
            batch_size=1,
            batch_format="numpy",
            concurrency=workers,
            num_cpus=job.threads,
            max_restarts=0,
            **options,
        )
    for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
        for text in batch["outcome"]:
            yield json.loads(text)


def run_prelabel_on_ray(
    client: LabelStudioClient,
    project_id: int,
    job: PrelabelJob,
    version: str,
    address: str | None,
    workers: int | None,
    gpus_per_worker: float,
    progress: Callable[[], None],
) -> PrelabelReport:
    from groundlabel.distributed.detect_pipeline import default_workers
    from groundlabel.distributed.session import ray_session

    report = PrelabelReport()
    tasks = tasks_to_do(client, project_id, version, report)
    for _ in range(report.skipped):
        progress()
    with ray_session(address):
        count = workers or default_workers(job.threads, gpus_per_worker)
        for outcome in prelabel_on_ray(tasks, job, count, gpus_per_worker):
            if outcome["outcome"] == "auth":
                raise LabelStudioAuthError(outcome["reason"])
            if outcome["outcome"] == "predicted":
                report.predicted += 1
            else:
                report.failed.append((int(outcome["id"]), outcome["reason"]))
            progress()
    return report
