"""``serve`` with every family, and the interactive "more like this rectangle" request."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from groundlabel.backend.app import create_app
from groundlabel.backend.predictor import Predictor
from groundlabel.backend.settings import BackendSettings
from groundlabel.backend.task_images import TaskImageFetcher
from test_exemplars import EXAMPLE, EXPECTED_CENTRES, PATTERN, PLACES, SIDE, scene

from groundlabel import Detector
from groundlabel.detector import DetectionSettings

CONFIG = """
<View>
  <Image name="image" value="$image"/>
  <RectangleLabels name="label" toName="image">
    <Label value="widget"/>
    <Label value="cat"/>
  </RectangleLabels>
</View>
"""


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    root = tmp_path_factory.mktemp("ls-files")
    (root / "photos").mkdir()
    target = scene(PLACES, seed=2)
    # The example pattern is drawn on the target itself too, at a third place.
    target.paste(EXAMPLE.image.crop((16, 16, 48, 48)), (48, 48))
    target.save(root / "photos" / "target.png")
    return root


def client_for(detector: Detector, root) -> TestClient:
    settings = BackendSettings(local_files_root=root.resolve())
    predictor = Predictor(detector, DetectionSettings(0.0, 0.0), TaskImageFetcher(settings))
    return TestClient(create_app(predictor, settings))


def predict(client: TestClient, context=None) -> dict:
    body = {
        "tasks": [{"id": 1, "data": {"image": "/data/local-files/?d=photos/target.png"}}],
        "label_config": CONFIG,
        "project": "1.1",
        "params": {"context": context},
    }
    response = client.post("/predict", json=body)
    assert response.status_code == 200, response.text
    (entry,) = response.json()["results"]
    return entry


@pytest.mark.parametrize("family", ["mm-grounding-dino", "owlv2", "owlvit"])
def test_serve_predicts_with_each_family(family, family_model, scenes):
    detector = Detector.load(str(family_model(family)), device="cpu")
    with client_for(detector, scenes) as client:
        entry = predict(client)
        setup = client.post("/setup", json={"project": "1.1", "schema": CONFIG}).json()
    assert entry["result"] and {r["value"]["rectanglelabels"][0] for r in entry["result"]} <= {
        "widget",
        "cat",
    }
    assert entry["model_version"] == setup["model_version"]
    assert entry["model_version"].startswith(f"groundlabel-{family}-")


@pytest.mark.parametrize("family", ["owlv2", "owlvit"])
def test_a_drawn_rectangle_finds_more_like_it(family, family_model, scenes):
    detector = Detector.load(str(family_model(family)), device="cpu")
    drawn = {"x": 50.0, "y": 50.0, "width": PATTERN / SIDE * 100, "height": PATTERN / SIDE * 100}
    context = {
        "result": [
            {"type": "rectanglelabels", "from_name": "label", "to_name": "image",
             "value": {**drawn, "rotation": 0, "rectanglelabels": ["widget"]},
             "original_width": SIDE, "original_height": SIDE}
        ]
    }  # fmt: skip
    with client_for(detector, scenes) as client:
        entry = predict(client, context)
    regions = sorted(entry["result"], key=lambda r: -r["score"])
    assert all(r["value"]["rectanglelabels"] == ["widget"] for r in regions)
    centres = {
        (round((r["value"]["x"] + r["value"]["width"] / 2) * SIDE / 100),
         round((r["value"]["y"] + r["value"]["height"] / 2) * SIDE / 100))
        for r in regions[:3]
    }  # fmt: skip
    # The drawn copy itself and the two other copies come first.
    assert centres == EXPECTED_CENTRES | {(64, 64)}
