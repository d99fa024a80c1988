"""Masks in a real Label Studio 1.23.2: stored, exported, decoded by the SDK's own converter.

``groundlabel serve --masks`` (a subprocess, the whole CLI path) with the tiny random
Grounding DINO and a tiny random SAM. Label Studio asks it for predictions, pre-labels an
import through the webhook queue, and forwards key-point clicks in interactive mode;
``ls-prelabel --masks`` posts through the API. Every mask read back from Label Studio's
export is decoded with ``label_studio_sdk.converter.brush`` and compared with the
transformers reference SAM (``sam_reference``) on the same image, box and points.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from label_studio_sdk.converter.brush import decode_from_annotation
from labelstudio_server import LabelStudio, dump, start_backend
from PIL import Image
from sam_reference import detected_boxes

from groundlabel import masks
from groundlabel.detector import DetectionResult

pytestmark = pytest.mark.labelstudio

PHOTOS = Path(__file__).resolve().parents[1] / "assets" / "reference" / "photos"
LABELS = ("Cat", "Astronaut")
CONFIG = """
<View>
  <Image name="image" value="$image"/>
  <RectangleLabels name="box" toName="image">
    <Label value="Cat"/><Label value="Astronaut"/>
  </RectangleLabels>
  <BrushLabels name="brush" toName="image">
    <Label value="Cat"/><Label value="Astronaut"/>
  </BrushLabels>
  <PolygonLabels name="outline" toName="image">
    <Label value="Cat"/><Label value="Astronaut"/>
  </PolygonLabels>
  <KeyPointLabels name="click" toName="image" smart="true">
    <Label value="Cat" smart="true"/><Label value="Astronaut" smart="true"/>
  </KeyPointLabels>
</View>
"""
THRESHOLDS = ("--box-threshold", "0", "--text-threshold", "0")


def photo(task: dict) -> Image.Image:
    name = next(p for p in PHOTOS.glob("*.png") if task["data"]["image"].endswith(p.name))
    return Image.open(name).convert("RGB")


def export(label_studio: LabelStudio, project_id: int) -> dict[int, dict]:
    """Label Studio's own JSON export of the project (an export snapshot, predictions in full), by task."""
    snapshot = label_studio.api(
        "POST",
        f"/api/projects/{project_id}/exports/",
        json={"title": "masks", "serialization_options": {"predictions": {"only_id": False}}},
    )
    path = f"/api/projects/{project_id}/exports/{snapshot['id']}"
    deadline = time.monotonic() + 60
    while label_studio.api("GET", path)["status"] != "completed":
        assert time.monotonic() < deadline, dump(label_studio.api("GET", path))
        time.sleep(0.5)
    tasks = label_studio.api("GET", f"{path}/download", params={"exportType": "JSON"})
    return {t["id"]: t for t in tasks}


def sdk_masks(results: list[dict]) -> list[np.ndarray]:
    """Brush results decoded by the SDK's converter, in result order (it reads flat results)."""
    flat = [{**r, **r["value"]} for r in results if r["type"] == "brushlabels"]
    layers = [decode_from_annotation("brush", [r]) for r in flat]
    return [next(iter(layer.values())) > 127 for layer in layers]


def percent_points(mask: np.ndarray, width: int, height: int) -> list[np.ndarray]:
    return [
        np.asarray([[p[i] / width * 100, p[i + 1] / height * 100] for i in range(0, len(p), 2)])
        for p in masks.to_polygons(mask)
    ]


def assert_masks_follow_the_boxes(
    prediction: dict, image: Image.Image, found: DetectionResult, sam_reference
) -> None:
    """Every rectangle has its brush mask (and its polygons) nested under it, equal to the reference."""
    width, height = image.size
    result = prediction["result"]
    boxes = [r for r in result if r["type"] == "rectanglelabels"]
    assert len(boxes) == len(found.boxes) > 0, dump(prediction)
    expected = sam_reference.box_masks(image, found.boxes)
    for rectangle, box, label, mask in zip(boxes, found.boxes, found.labels, expected, strict=True):
        value = rectangle["value"]
        assert value["rectanglelabels"] == [label]
        assert value["x"] * width / 100 == pytest.approx(box[0], abs=1e-6)
        assert (value["x"] + value["width"]) * width / 100 == pytest.approx(box[2], abs=1e-6)
        children = [r for r in result if r.get("parentID") == rectangle["id"]]
        brushes = [r for r in children if r["type"] == "brushlabels"]
        assert len(brushes) == 1 and brushes[0]["value"]["brushlabels"] == [label]
        assert (brushes[0]["original_width"], brushes[0]["original_height"]) == (width, height)
        (decoded,) = sdk_masks(brushes)
        assert np.array_equal(decoded, mask), f"box {box}: {np.sum(decoded != mask)} pixels differ"
        polygons = [np.asarray(r["value"]["points"]) for r in children if r["type"] == "polygonlabels"]
        wanted = percent_points(mask, width, height)
        assert len(polygons) == len(wanted) and all(
            np.allclose(a, b, rtol=0, atol=1e-9) for a, b in zip(polygons, wanted, strict=True)
        )
    assert len({m.tobytes() for m in expected}) > 1  # the comparison is not between two blank masks


def test_label_studio_stores_exports_and_decodes_the_masks_and_clicks(
    label_studio, tiny_model_dir, tiny_detector, sam_dir, sam_reference, tmp_path
):
    label_studio.set_legacy_tokens(False)  # 1.23's default: the backend authenticates with a PAT
    project_id = label_studio.create_project("masks", CONFIG)
    for name in ("chelsea.png", "astronaut.png"):
        label_studio.upload(project_id, PHOTOS / name)
    env = {"LABEL_STUDIO_URL": label_studio.url, "LABEL_STUDIO_API_KEY": label_studio.pat}
    backend = start_backend(
        tiny_model_dir, tmp_path / "backend.log", env, *THRESHOLDS, "--masks", str(sam_dir)
    )
    try:
        version = backend.version()
        assert "+sam" in version
        connection = label_studio.connect_backend(project_id, backend.url, is_interactive=True)
        assert connection["readable_state"] == "Connected", dump(connection)
        label_studio.retrieve_predictions(project_id)

        exported = export(label_studio, project_id)
        assert len(exported) == 2
        for task in exported.values():
            (prediction,) = [p for p in task["predictions"] if p["model_version"] == version]
            image = photo(task)
            assert_masks_follow_the_boxes(
                prediction, image, detected_boxes(tiny_detector, image, LABELS), sam_reference
            )

        # Interactive: a click, then an Alt-click outside; Label Studio sends both, one mask comes back.
        task = next(t for t in exported.values() if t["data"]["image"].endswith("chelsea.png"))
        points = [(30.0, 40.0, True), (70.0, 60.0, False)]
        context = {
            "result": [
                {
                    "id": f"p{i}",
                    "type": "keypointlabels",
                    "from_name": "click",
                    "to_name": "image",
                    "origin": "manual",
                    "is_positive": positive,
                    "original_width": 451,
                    "original_height": 300,
                    "image_rotation": 0,
                    "value": {"x": x, "y": y, "width": 0.6, "keypointlabels": ["Cat"], "labels": ["Cat"]},
                }
                for i, (x, y, positive) in enumerate(points)
            ]
        }
        answer = label_studio.api(
            "POST",
            f"/api/ml/{connection['id']}/interactive-annotating",
            json={"task": task["id"], "context": context},
        )
        suggested = answer["data"]["result"]
        assert {r["type"] for r in suggested} <= {"brushlabels", "polygonlabels"}, dump(answer)
        expected = sam_reference.mask(
            photo(task), points=[(x * 451 / 100, y * 300 / 100) for x, y, _ in points], labels=[1, 0]
        )
        assert [np.array_equal(m, expected) for m in sdk_masks(suggested)] == [True]
        # The annotator accepts the suggestion: it is stored as an annotation and exported as such.
        label_studio.api("POST", f"/api/tasks/{task['id']}/annotations/", json={"result": suggested})
        (annotation,) = export(label_studio, project_id)[task["id"]]["annotations"]
        assert [np.array_equal(m, expected) for m in sdk_masks(annotation["result"])] == [True]

        # An import is pre-labelled in the background (TASKS_CREATED webhook), masks included.
        before = set(exported)
        label_studio.api(
            "POST", f"/api/projects/{project_id}/import", json=[{"image": task["data"]["image"]}]
        )
        (new_id,) = set(export(label_studio, project_id)) - before
        wait_for_prediction(label_studio, new_id, version)
        (background,) = export(label_studio, project_id)[new_id]["predictions"]
        image = photo(task)
        assert_masks_follow_the_boxes(
            background, image, detected_boxes(tiny_detector, image, LABELS), sam_reference
        )
    finally:
        backend.close()
    assert "Traceback" not in backend.log.read_text()

    # ls-prelabel --masks: other thresholds, so another model version; masks go through the API.
    command = [sys.executable, "-m", "groundlabel", "ls-prelabel", "--project", str(project_id)]
    command += ["--model", str(tiny_model_dir), "--device", "cpu", "--masks", str(sam_dir)]
    command += ["--box-threshold", "0.5", "--text-threshold", "0"]
    run_env = {**os.environ, "HF_HUB_OFFLINE": "1", **env}
    done = subprocess.run(command, env=run_env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "3 task(s) pre-labelled" in done.stderr
    for task in export(label_studio, project_id).values():
        bulk = [p for p in task["predictions"] if p["model_version"] not in (version,)]
        assert len(bulk) == 1 and "+sam" in bulk[0]["model_version"]
        image = photo(task)
        assert_masks_follow_the_boxes(
            bulk[0], image, detected_boxes(tiny_detector, image, LABELS, 0.5), sam_reference
        )


def wait_for_prediction(label_studio: LabelStudio, task_id: int, version: str, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if any(p["model_version"] == version for p in label_studio.predictions(task_id)):
            return
        time.sleep(0.5)
    raise AssertionError(f"task {task_id}: no background prediction of {version} after {timeout_s} s")
