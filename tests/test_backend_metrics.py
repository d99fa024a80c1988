"""/metrics in Prometheus text format, behind basic auth; the webhook's bounds (413, 429)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from groundlabel.backend.app import create_app
from groundlabel.backend.ls_client import LabelStudioClient
from groundlabel.backend.predictor import Predictor
from groundlabel.backend.settings import BackendSettings
from groundlabel.backend.task_images import TaskImageFetcher
from groundlabel.backend.task_queue import TaskQueue
from groundlabel.backend.webhook_worker import PrelabelWorker
from prometheus_client.parser import text_string_to_metric_families

from groundlabel.detector import DetectionSettings

CONFIG = """
<View>
  <Image name="image" value="$image"/>
  <RectangleLabels name="label" toName="image"><Label value="Cat"/></RectangleLabels>
</View>
"""


@pytest.fixture
def settings(photo_dir: Path) -> BackendSettings:
    return BackendSettings(
        local_files_root=photo_dir.parent.resolve(),
        basic_auth_user="ls",
        basic_auth_password="pw",
        predict_budget_s=600,  # the first pass may build the native kernel
    )


@pytest.fixture
def predictor(tiny_detector, settings) -> Predictor:
    return Predictor(tiny_detector, DetectionSettings(0.0, 0.0), TaskImageFetcher(settings))


def samples(text: str) -> dict[tuple[str, tuple], float]:
    """Every sample as (name, sorted labels) -> value, read with prometheus_client's own parser."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_metrics_count_outcomes_and_are_guarded_by_basic_auth(predictor, settings, tmp_path):
    queue = TaskQueue(tmp_path, predictor.model_version)
    queue.add(9, [1, 2, 3])
    # Never started: the queue only fills, so its length is known.
    worker = PrelabelWorker(lambda: LabelStudioClient("http://127.0.0.1:9", None), predictor, queue)
    tasks = [
        {"id": 1, "data": {"image": "/data/local-files/?d=photos/chelsea.png"}},
        {"id": 2, "data": {"image": "/data/local-files/?d=photos/missing.png"}},
    ]
    with TestClient(create_app(predictor, settings, worker)) as client:
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", auth=("ls", "wrong")).status_code == 401
        answer = client.post("/predict", json={"tasks": tasks, "label_config": CONFIG}, auth=("ls", "pw"))
        assert answer.status_code == 200
        response = client.get("/metrics", auth=("ls", "pw"))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    found = samples(response.text)
    assert found[("groundlabel_predictions_total", (("outcome", "predicted"),))] == 1
    assert found[("groundlabel_predictions_total", (("outcome", "failed"),))] == 1
    assert found[("groundlabel_prediction_failures_total", (("reason", "image"),))] == 1
    assert found[("groundlabel_inference_seconds_count", ())] == 1
    assert found[("groundlabel_inference_seconds_sum", ())] > 0
    assert found[("groundlabel_queue_length", ())] == 3
    assert found[("process_resident_memory_bytes", ())] > 50e6


def test_webhook_refuses_oversized_bodies_and_a_full_queue(predictor, photo_dir, tmp_path):
    settings = BackendSettings(
        local_files_root=photo_dir.parent.resolve(), queue_max=5, webhook_max_bytes=2000
    )
    queue = TaskQueue(tmp_path, predictor.model_version, settings.queue_max)
    worker = PrelabelWorker(lambda: LabelStudioClient("http://127.0.0.1:9", None), predictor, queue)

    def hook(ids: list[int]) -> dict:
        data = {"image": "/data/upload/1/a.png"}
        return {
            "action": "TASKS_CREATED",
            "project": {"id": 4},
            "tasks": [{"id": i, "data": data} for i in ids],
        }

    with TestClient(create_app(predictor, settings, worker)) as client:
        assert client.post("/webhook", json=hook([1, 2, 3])).json() == {"status": "queued", "tasks": 3}
        full = client.post("/webhook", json=hook([4, 5, 6]))
        assert full.status_code == 429 and "GROUNDLABEL_QUEUE_MAX" in full.json()["detail"]
        big = client.post("/webhook", content=json.dumps(hook(list(range(100, 200)))))
        assert big.status_code == 413
        found = samples(client.get("/metrics").text)
    assert queue.length() == 3
    assert found[("groundlabel_webhooks_refused_total", (("reason", "queue_full"),))] == 1
    assert found[("groundlabel_webhooks_refused_total", (("reason", "too_large"),))] == 1
