"""The ML protocol endpoints, driven in-process with the tiny random model and local files."""

from __future__ import annotations

import base64
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient
from groundlabel.backend.app import create_app
from groundlabel.backend.predictor import Predictor
from groundlabel.backend.settings import BackendSettings
from groundlabel.backend.task_images import TaskImageFetcher

from groundlabel.detector import DetectionSettings

CONFIG = """
<View>
  <Image name="image" value="$image"/>
  <RectangleLabels name="label" toName="image">
    <Label value="Cat" predicted_values="cat,kitten"/>
    <Label value="remote control"/>
  </RectangleLabels>
  <TextArea name="prompt" toName="image" editable="true"/>
</View>
"""
SIZES = {"chelsea.png": (451, 300), "astronaut.png": (512, 512)}


def local(name: str) -> str:
    return f"/data/local-files/?d=photos/{name}"


@pytest.fixture
def settings(photo_dir: Path) -> BackendSettings:
    return BackendSettings(local_files_root=photo_dir.parent.resolve())


@pytest.fixture
def predictor(tiny_detector, settings) -> Predictor:
    # Thresholds of 0 so the untrained model's boxes all come through: the test is about the protocol.
    return Predictor(tiny_detector, DetectionSettings(0.0, 0.0), TaskImageFetcher(settings))


@pytest.fixture
def client(predictor, settings):
    with TestClient(create_app(predictor, settings)) as test_client:
        yield test_client


def predict(client: TestClient, tasks: list[dict], config: str = CONFIG, context=None):
    body = {"tasks": tasks, "label_config": config, "project": "1.1", "params": {"context": context}}
    response = client.post("/predict", json=body)
    assert response.status_code == 200, response.text
    return response.json()["results"]


def test_health_setup_versions_share_one_model_version(client, predictor):
    version = predictor.model_version
    assert client.get("/health").json()["status"] == "UP"
    setup = client.post(
        "/setup", json={"project": "1.1", "schema": CONFIG, "hostname": "http://x", "access_token": "t"}
    )
    assert setup.json() == {"model_version": version}
    assert client.get("/versions").json()["versions"] == [version]


def test_predict_returns_one_entry_per_task_in_order_with_valid_regions(client, predictor):
    tasks = [
        {"id": 11, "data": {"image": local("chelsea.png")}},
        {"id": 12, "data": {"image": local("missing.png")}},
        {"id": 13, "data": {"image": local("astronaut.png")}},
        {"id": 14, "data": {"text": "no image key"}},
    ]
    results = predict(client, tasks)
    assert len(results) == 4
    # Failed tasks get an empty entry: Label Studio stores nothing for them and retries later.
    assert results[1] == [] and results[3] == []
    for entry, name in ((results[0], "chelsea.png"), (results[2], "astronaut.png")):
        assert entry["model_version"] == predictor.model_version
        assert entry["result"], "thresholds of 0 keep the model's boxes"
        for item in entry["result"]:
            assert (item["from_name"], item["to_name"], item["type"]) == ("label", "image", "rectanglelabels")
            assert (item["original_width"], item["original_height"]) == SIZES[name]
            assert item["image_rotation"] == 0
            value = item["value"]
            assert value["rectanglelabels"][0] in ("Cat", "remote control")
            assert value["x"] >= 0 and value["x"] + value["width"] <= 100 + 1e-6
            assert value["y"] >= 0 and value["y"] + value["height"] <= 100 + 1e-6
            assert 0 <= item["score"] <= 1


def test_config_without_rectangles_gives_empty_entries(client):
    config = "<View><Image name='i' value='$image'/><Choices name='c' toName='i'><Choice value='a'/></Choices></View>"
    results = predict(client, [{"id": 1, "data": {"image": local("chelsea.png")}}] * 2, config)
    assert results == [[], []]


def test_control_score_threshold_overrides_the_default(client):
    strict = CONFIG.replace('toName="image">', 'toName="image" model_score_threshold="1.0">', 1)
    (entry,) = predict(client, [{"id": 1, "data": {"image": local("chelsea.png")}}], strict)
    assert entry["result"] == []


def test_local_files_never_escape_the_root(client, photo_dir):
    secret = photo_dir.parent.parent / "secret.png"
    secret.write_bytes((photo_dir / "chelsea.png").read_bytes())
    results = predict(client, [{"id": 1, "data": {"image": "/data/local-files/?d=../secret.png"}}])
    assert results == [[]]


def test_interactive_text_is_the_prompt_and_boxes_carry_the_picked_label(client):
    context = {
        "result": [
            {
                "type": "textarea",
                "from_name": "prompt",
                "to_name": "image",
                "value": {"text": ["striped animal"]},
            },
            {
                "type": "keypointlabels",
                "from_name": "label",
                "to_name": "image",
                "value": {"x": 5, "y": 5, "keypointlabels": ["remote control"]},
            },
        ]
    }
    task = {"id": 1, "data": {"image": local("chelsea.png")}, "predictions": [{"result": []}]}
    (entry,) = predict(client, [task], context=context)
    assert entry["result"]
    assert {r["value"]["rectanglelabels"][0] for r in entry["result"]} == {"remote control"}


def test_interactive_text_naming_a_label_selects_it(client):
    context = {"result": [{"type": "textarea", "to_name": "image", "value": {"text": ["kitten"]}}]}
    (entry,) = predict(client, [{"id": 1, "data": {"image": local("chelsea.png")}}], context=context)
    assert entry["result"]
    assert {r["value"]["rectanglelabels"][0] for r in entry["result"]} == {"Cat"}


def test_health_answers_while_inference_runs(client, predictor):
    """Label Studio marks a backend disconnected when /health takes over 1 s."""
    gate = threading.Event()
    predictor.inference._executor.submit(gate.wait, 30)  # a long prediction holds the model thread
    try:
        outcome = {}
        worker = threading.Thread(
            target=lambda: outcome.update(
                results=predict(client, [{"id": 1, "data": {"image": local("chelsea.png")}}])
            )
        )
        worker.start()
        response = client.get("/health")
        assert response.status_code == 200
        assert client.post("/webhook", json={"action": "START_TRAINING"}).status_code == 200
        assert worker.is_alive(), "the prediction is still waiting for the model"
    finally:
        gate.set()
    worker.join(30)
    assert len(outcome["results"]) == 1


def test_webhook_without_api_key_answers_and_queues_nothing(client):
    body = {"action": "TASKS_CREATED", "tasks": [{"id": 3}], "project": {"id": 1}}
    assert client.post("/webhook", json=body).json() == {"status": "ok"}
    assert client.post("/webhook", content=b"not json").status_code == 200


def test_basic_auth_guards_everything_but_health_and_the_webhook(predictor):
    settings = BackendSettings(basic_auth_user="ls", basic_auth_password="s3cret")
    with TestClient(create_app(predictor, settings)) as guarded:
        assert guarded.post("/predict", json={"tasks": []}).status_code == 401
        assert guarded.post("/setup", json={}).status_code == 401
        assert guarded.get("/versions", auth=("ls", "wrong")).status_code == 401
        assert guarded.get("/versions", auth=("ls", "s3cret")).status_code == 200
        token = base64.b64encode(b"ls:s3cret").decode()
        assert guarded.post("/setup", json={}, headers={"Authorization": f"Basic {token}"}).status_code == 200
        # Label Studio sends webhooks without auth; container health checks have none either.
        assert guarded.post("/webhook", json={"action": "PROJECT_UPDATED"}).status_code == 200
        assert guarded.get("/health").status_code == 200


def test_relative_image_without_label_studio_url_is_a_per_task_failure(client):
    results = predict(
        client,
        [
            {"id": 1, "data": {"image": "/data/upload/1/a.png"}},
            {"id": 2, "data": {"image": local("chelsea.png")}},
        ],
    )
    assert results[0] == []
    assert results[1]["result"]


class RecordingWorker:
    """Stands in for the background worker's queue: records what /predict hands over."""

    def __init__(self) -> None:
        self.jobs: list[tuple[int, list[int]]] = []
        self.queue = SimpleNamespace(length=lambda: sum(len(ids) for _, ids in self.jobs))

    def submit(self, project_id: int, task_ids: list[int]) -> int:
        self.jobs.append((project_id, task_ids))
        return len(task_ids)


def test_predict_answers_within_its_budget_and_hands_the_rest_to_the_background(predictor, photo_dir):
    settings = BackendSettings(local_files_root=photo_dir.parent.resolve(), predict_budget_s=1e-9)
    worker = RecordingWorker()
    tasks = [{"id": i, "project": 7, "data": {"image": local("chelsea.png")}} for i in (1, 2, 3)]
    with TestClient(create_app(predictor, settings, worker)) as budgeted:
        results = predict(budgeted, tasks)
    assert results[0]["result"], "the first task is always done"
    assert results[1:] == [[], []]
    assert worker.jobs == [(7, [2, 3])]


def test_tasks_created_webhook_queues_only_ids(predictor, settings):
    worker = RecordingWorker()
    body = {
        "action": "TASKS_CREATED",
        "tasks": [{"id": 5, "data": {"image": "http://169.254.169.254/"}}, {"id": 6}],
        "project": {"id": 3, "label_config": "<View/>"},
    }
    with TestClient(create_app(predictor, settings, worker)) as hooked:
        assert hooked.post("/webhook", json=body).json() == {"status": "queued", "tasks": 2}
        assert (
            hooked.post("/webhook", json={"action": "ANNOTATION_CREATED", "project": {"id": 3}}).status_code
            == 200
        )
    assert worker.jobs == [(3, [5, 6])]


def test_predict_and_background_never_predict_one_task_twice(client, predictor):
    tasks = [{"id": i, "data": {"image": local("chelsea.png")}} for i in (1, 2)]
    assert predictor.claims.claim([2], "background") == {2}  # the background is on task 2
    results = predict(client, tasks)
    assert results[0]["result"] and results[1] == []
    # Label Studio stores task 1's prediction after the answer: the background keeps off it...
    assert predictor.claims.claim([1], "background") == set()
    # ...while asking again through /predict is always answered.
    assert predict(client, tasks[:1])[0]["result"]
    predictor.claims.release([2])
    assert predictor.claims.claim([2], "background") == {2}
