"""``serve`` with a model ``groundlabel train`` made: Label Studio's label values map to its classes by name."""

from __future__ import annotations

import random

from fastapi.testclient import TestClient
from groundlabel.backend.app import create_app
from groundlabel.backend.predictor import Predictor
from groundlabel.backend.settings import BackendSettings
from groundlabel.backend.task_images import TaskImageFetcher

from groundlabel import Detector
from groundlabel.detector import DetectionSettings
from groundlabel.devtools.synthetic_shapes import shapes_image

CONFIG = """
<View>
  <Image name="image" value="$image"/>
  <RectangleLabels name="label" toName="image">
    <Label value="Disc"/>
    <Label value="triangle"/>
  </RectangleLabels>
</View>
"""


def test_serve_maps_label_values_to_the_model_classes_by_name(closed_set_model, tmp_path):
    detector = Detector.load(str(closed_set_model()), device="cpu")
    root = tmp_path / "files"
    (root / "photos").mkdir(parents=True)
    shapes_image(random.Random(5), 96)[0].save(root / "photos" / "a.png")
    settings = BackendSettings(local_files_root=root.resolve())
    predictor = Predictor(detector, DetectionSettings(0.0, 0.0), TaskImageFetcher(settings))
    body = {
        "tasks": [{"id": 1, "data": {"image": "/data/local-files/?d=photos/a.png"}}],
        "label_config": CONFIG,
        "project": "1.1",
    }
    with TestClient(create_app(predictor, settings)) as client:
        response = client.post("/predict", json=body)
    assert response.status_code == 200, response.text
    (entry,) = response.json()["results"]
    values = {r["value"]["rectanglelabels"][0] for r in entry["result"]}
    assert values and values <= {"Disc", "triangle"}, values  # the config's spelling, never "square"
    assert entry["model_version"].startswith("groundlabel-rt_detr_v2-")
