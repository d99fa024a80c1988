"""Bulk pre-labelling through Label Studio's API, one task at a time.

Label Studio gives /predict 100 s and stores nothing past it; on a CPU that is a handful
of images. Here each task is fetched from the API, predicted and posted as soon as it is
ready, so any number of tasks works, progress is never lost, and a rerun after an
interruption skips the tasks that already hold this model version.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from groundlabel.backend.label_config import parse_targets
from groundlabel.backend.ls_auth import LabelStudioAuthError
from groundlabel.backend.ls_client import LabelStudioClient
from groundlabel.backend.predictor import Predictor
from groundlabel.backend.video_predictions import FrameProgress, TaskStopped, no_progress

from groundlabel.errors import GroundlabelError

log = logging.getLogger(__name__)


@dataclass
class PrelabelReport:
    """What a run did, task by task."""

    predicted: int = 0
    skipped: int = 0
    failed: list[tuple[int, str]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.predicted + self.skipped + len(self.failed)


def _existing_versions(client: LabelStudioClient, task: dict[str, Any]) -> set[str]:
    predictions = task.get("predictions")
    if isinstance(predictions, list) and all(isinstance(p, dict) for p in predictions):
        return {str(p.get("model_version")) for p in predictions}
    return client.task_model_versions(int(task["id"]))


def prelabel_project(
    client: LabelStudioClient,
    predictor: Predictor,
    project_id: int,
    task_ids: Iterable[int] | None = None,
    on_task_done: Callable[[int, str], None] | None = None,
    stop: threading.Event | None = None,
    frames: FrameProgress = no_progress,
) -> PrelabelReport:
    """Predict and post every task of a project (or only ``task_ids``) lacking this model version.

    Task data always comes from the API, never from a webhook body. A failing task is
    reported and skipped; the run goes on. ``on_task_done(task_id, outcome)`` drives a
    progress bar, and ``frames`` one per video task. A video stopped by ``stop`` between two
    frames posts nothing and ends the run: a rerun (or the queue) tracks it again.
    """
    project = client.get_project(project_id)
    targets = parse_targets(project.get("label_config", ""))
    version = predictor.model_version
    report = PrelabelReport()

    def stopped() -> bool:
        return predictor.stopping.is_set() or (stop is not None and stop.is_set())

    tasks = client.iter_tasks(project_id, task_ids=list(task_ids) if task_ids is not None else None)
    for task in tasks:
        if stop is not None and stop.is_set():
            break
        task_id = int(task["id"])
        outcome = "predicted"
        try:
            if version in _existing_versions(client, task) or not predictor.claims.claim(
                [task_id], "background"
            ):
                report.skipped += 1  # done, or being done by a /predict right now
                predictor.metrics.predictions.labels("skipped").inc()
                outcome = "skipped"
            else:
                try:
                    result = predictor.predict_task(task, targets, stopped=stopped, frames=frames)
                    client.create_prediction(task_id, result)
                except TaskStopped as exc:
                    log.info("task %d: %s; left for the next run", task_id, exc)
                    break
                finally:
                    predictor.claims.release([task_id])
                report.predicted += 1
        except LabelStudioAuthError:
            raise  # every later task would fail the same way
        except GroundlabelError as exc:
            log.warning("task %d: no prediction: %s", task_id, exc)
            report.failed.append((task_id, str(exc)))
            outcome = "failed"
        if on_task_done is not None:
            on_task_done(task_id, outcome)
    return report


def count_tasks(client: LabelStudioClient, project_id: int) -> int | None:
    """The project's task count for a progress bar, or None when Label Studio doesn't say."""
    project = client.get_project(project_id)
    count = project.get("task_number")
    return int(count) if isinstance(count, int) else None
