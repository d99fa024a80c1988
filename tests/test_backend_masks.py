"""Masks from the backend: brush and polygon regions from the labeling config, SAM clicks.

In-process (FastAPI's TestClient) with the tiny random Grounding DINO and a tiny random
SAM. Every mask is compared with the transformers reference SAM (``sam_reference``) on the
same image, box and points: a random model's masks mean nothing, equality does.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from groundlabel.backend.app import create_app
from groundlabel.backend.interactive import InteractiveContext
from groundlabel.backend.label_config import parse_box_targets
from groundlabel.backend.predictor import Predictor
from groundlabel.backend.settings import BackendSettings
from groundlabel.backend.task_images import TaskImageFetcher
from groundlabel.backend.task_masks import EmbeddingCache
from PIL import Image
from sam_reference import detected_boxes

from groundlabel import masks
from groundlabel.detector import DetectionSettings
from groundlabel.formats.labelstudio_masks import box_id_of
from groundlabel.labels import LabelClass, LabelSet
from groundlabel.segmenters import load_segmenter

PHOTOS = Path(__file__).resolve().parents[1] / "assets" / "reference" / "photos"
LABELS = ("Cat", "remote control")
CONFIG = """
<View>
  <Image name="image" value="$image"/>
  <RectangleLabels name="box" toName="image">
    <Label value="Cat"/><Label value="remote control"/>
  </RectangleLabels>
  <BrushLabels name="brush" toName="image">
    <Label value="Cat"/><Label value="remote control"/>
  </BrushLabels>
  <PolygonLabels name="outline" toName="image">
    <Label value="Cat"/>
  </PolygonLabels>
  <KeyPointLabels name="click" toName="image" smart="true">
    <Label value="Cat" smart="true"/>
  </KeyPointLabels>
  <RectangleLabels name="drawn" toName="image" smart="true">
    <Label value="Cat"/>
  </RectangleLabels>
</View>
"""
BRUSH_ONLY = """
<View>
  <Image name="image" value="$image"/>
  <BrushLabels name="brush" toName="image"><Label value="Cat"/><Label value="remote control"/></BrushLabels>
</View>
"""
BOXES_ONLY = """
<View>
  <Image name="image" value="$image"/>
  <RectangleLabels name="box" toName="image"><Label value="Cat"/><Label value="remote control"/></RectangleLabels>
</View>
"""
TASK = {"id": 7, "data": {"image": "/data/local-files/?d=photos/chelsea.png"}}


@pytest.fixture
def settings(photo_dir: Path) -> BackendSettings:
    return BackendSettings(local_files_root=photo_dir.parent.resolve())


@pytest.fixture
def predictor(tiny_detector, sam_dir, settings) -> Predictor:
    segmenter = load_segmenter(str(sam_dir), device="cpu")
    return Predictor(
        tiny_detector, DetectionSettings(0.0, 0.0), TaskImageFetcher(settings), segmenter=segmenter
    )


@pytest.fixture
def client(predictor, settings):
    with TestClient(create_app(predictor, settings)) as test_client:
        yield test_client


def predict(client: TestClient, config: str, context=None, task=TASK) -> dict:
    body = {"tasks": [task], "label_config": config, "project": "1.1", "params": {"context": context}}
    response = client.post("/predict", json=body)
    assert response.status_code == 200, response.text
    (entry,) = response.json()["results"]
    return entry


def chelsea() -> Image.Image:
    return Image.open(PHOTOS / "chelsea.png").convert("RGB")


def brush_mask(region: dict) -> np.ndarray:
    """A brush region decoded with Label Studio's SDK codec (through ``groundlabel.masks``)."""
    value = region["value"]
    assert value["format"] == "rle"
    rle = masks.from_labelstudio_brush(value["rle"], region["original_width"], region["original_height"])
    return masks.decode(rle)


def percent_points(mask: np.ndarray, width: int, height: int) -> list[list[list[float]]]:
    """The polygons Label Studio should get for a mask: OpenCV contours, in percent."""
    return [
        [[p[i] / width * 100, p[i + 1] / height * 100] for i in range(0, len(p), 2)]
        for p in masks.to_polygons(mask)
    ]


def px(x: float, y: float) -> tuple[float, float]:
    """Percent of the 451x300 task image to pixels, as Label Studio's percent maps to the image."""
    return x * 451 / 100, y * 300 / 100


def same_polygons(got: list, expected: list) -> bool:
    return len(got) == len(expected) and all(
        np.allclose(np.asarray(a), np.asarray(b), rtol=0, atol=1e-9)
        for a, b in zip(got, expected, strict=True)
    )


def click(x: float, y: float, positive: bool = True, label: str = "Cat") -> dict:
    """A smart key point as Label Studio 1.23 puts it in the interactive context."""
    return {
        "type": "keypointlabels",
        "from_name": "click",
        "to_name": "image",
        "is_positive": positive,
        "original_width": 451,
        "original_height": 300,
        "value": {"x": x, "y": y, "width": 0.7, "keypointlabels": [label], "labels": [label]},
    }


def drawn(x: float, y: float, w: float, h: float) -> dict:
    return {
        "type": "rectanglelabels",
        "from_name": "drawn",
        "to_name": "image",
        "original_width": 451,
        "original_height": 300,
        "value": {"x": x, "y": y, "width": w, "height": h, "rotation": 0, "rectanglelabels": ["Cat"]},
    }


def test_mask_controls_join_the_box_target_of_their_image():
    (boxes, drawn_target) = parse_box_targets(CONFIG)
    assert [(m.from_name, m.result_type) for m in boxes.masks] == [
        ("brush", "brushlabels"),
        ("outline", "polygonlabels"),
    ]
    assert boxes.draw_boxes and drawn_target.from_name == "drawn"
    (alone,) = parse_box_targets(BRUSH_ONLY)
    assert (alone.from_name, alone.draw_boxes, alone.labels.names) == ("brush", False, list(LABELS))
    assert [m.from_name for m in alone.masks] == ["brush"]
    # A mask control's label must be the box's: no lone-label guess for predictions.
    polygon = boxes.masks[1]
    assert polygon.label_for("remote control") is None
    assert polygon.label_for("remote control", lone_fallback=True) == "Cat"


def test_each_box_comes_with_its_brush_and_polygon_mask_equal_to_the_reference(
    client, predictor, tiny_detector, sam_reference
):
    entry = predict(client, CONFIG)
    assert entry["model_version"] == predictor.model_version
    regions = entry["result"]
    rectangles = [r for r in regions if r["type"] == "rectanglelabels" and r["from_name"] == "box"]
    detected = detected_boxes(tiny_detector, chelsea(), LABELS)
    assert len(rectangles) == len(detected.boxes) > 1
    expected = sam_reference.box_masks(chelsea(), detected.boxes)
    children: dict[str, list[dict]] = {}
    for r in regions:
        if "parentID" in r:
            children.setdefault(r["parentID"], []).append(r)
    polygons_checked = 0
    for rectangle, mask, label in zip(rectangles, expected, detected.labels, strict=True):
        assert rectangle["value"]["rectanglelabels"] == [label]
        mine = children[rectangle["id"]]
        (brush,) = [r for r in mine if r["type"] == "brushlabels"]
        assert (brush["from_name"], brush["to_name"]) == ("brush", "image")
        assert box_id_of(brush["id"]) == rectangle["id"]  # the core's reader pairs them by id too
        assert (brush["original_width"], brush["original_height"]) == (451, 300)
        assert brush["value"]["brushlabels"] == [label]
        assert np.array_equal(brush_mask(brush), mask)
        polygons = [r for r in mine if r["type"] == "polygonlabels"]
        if label != "Cat":  # the polygon control has no "remote control" label
            assert polygons == []
            continue
        points = [p["value"]["points"] for p in polygons]
        assert same_polygons(points, percent_points(mask, 451, 300))
        assert all(p["value"]["polygonlabels"] == ["Cat"] and p["value"]["closed"] for p in polygons)
        polygons_checked += len(polygons)
    assert polygons_checked > 0
    # The comparison means something: masks differ from box to box and are not empty.
    assert len({m.tobytes() for m in expected}) > 1 and all(m.any() for m in expected)


def test_a_config_with_masks_only_gets_masks_without_rectangles(client, tiny_detector, sam_reference):
    regions = predict(client, BRUSH_ONLY)["result"]
    detected = detected_boxes(tiny_detector, chelsea(), LABELS)
    assert [r["type"] for r in regions] == ["brushlabels"] * len(detected.boxes)
    assert all("parentID" not in r for r in regions)
    expected = sam_reference.box_masks(chelsea(), detected.boxes)
    assert [np.array_equal(brush_mask(r), m) for r, m in zip(regions, expected, strict=True)] == [True] * len(
        expected
    )


def test_a_box_only_config_is_unchanged_by_the_mask_model(client, predictor):
    regions = predict(client, BOXES_ONLY)["result"]
    assert regions and {r["type"] for r in regions} == {"rectanglelabels"}
    assert len(predictor.masks.cache) == 0  # no embedding computed for it


def test_without_a_mask_model_boxes_still_come_and_the_log_says_why(
    tiny_detector, settings, caplog: pytest.LogCaptureFixture
):
    plain = Predictor(tiny_detector, DetectionSettings(0.0, 0.0), TaskImageFetcher(settings))
    with TestClient(create_app(plain, settings)) as client:
        regions = predict(client, CONFIG)["result"]
        assert regions and {r["type"] for r in regions} == {"rectanglelabels"}
        assert predict(client, BRUSH_ONLY)["result"] == []
    assert "--masks MODEL" in caplog.text
    # The version of a backend without a mask model is what it was before masks existed.
    assert "+" not in plain.model_version


def test_the_model_version_names_the_mask_model(predictor, tiny_detector, settings):
    plain = Predictor(tiny_detector, DetectionSettings(0.0, 0.0), TaskImageFetcher(settings))
    assert predictor.model_version != plain.model_version
    assert predictor.model_version.startswith(plain.model_version.rsplit("-", 1)[0] + "+sam")


def test_clicks_refine_one_mask_as_the_reference_sam_does(client, predictor, sam_reference):
    image = chelsea()
    first = [click(40.0, 50.0)]
    answer = predict(client, CONFIG, {"result": first})
    brush = next(r for r in answer["result"] if r["type"] == "brushlabels")
    assert brush["value"]["brushlabels"] == ["Cat"] and "parentID" not in brush
    lone = sam_reference.mask(image, points=[px(40.0, 50.0)], labels=[1])
    assert np.array_equal(brush_mask(brush), lone)

    # A second click, negative (Alt): Label Studio sends both points; one mask, refined.
    both = [*first, click(70.0, 20.0, positive=False)]
    answer = predict(client, CONFIG, {"result": both})
    brushes = [r for r in answer["result"] if r["type"] == "brushlabels"]
    assert len(brushes) == 1
    refined = sam_reference.mask(image, points=[px(40.0, 50.0), px(70.0, 20.0)], labels=[1, 0])
    assert np.array_equal(brush_mask(brushes[0]), refined)
    assert not np.array_equal(refined, lone)
    polygons = [r["value"]["points"] for r in answer["result"] if r["type"] == "polygonlabels"]
    assert same_polygons(polygons, percent_points(refined, 451, 300))
    # One embedding for the image, reused by every click.
    assert (predictor.masks.cache.misses, len(predictor.masks.cache)) == (1, 1)


def test_a_drawn_rectangle_with_points_is_one_sam_prompt(client, sam_reference):
    context = {
        "result": [drawn(10.0, 20.0, 50.0, 60.0), click(30.0, 50.0), click(45.0, 60.0, positive=False)]
    }
    answer = predict(client, CONFIG, context)
    (brush,) = [r for r in answer["result"] if r["type"] == "brushlabels"]
    box = (*px(10.0, 20.0), *px(10.0 + 50.0, 20.0 + 60.0))
    expected = sam_reference.mask(chelsea(), box=box, points=[px(30.0, 50.0), px(45.0, 60.0)], labels=[1, 0])
    assert np.array_equal(brush_mask(brush), expected)
    alone = predict(client, CONFIG, {"result": [drawn(10.0, 20.0, 50.0, 60.0)]})
    (brush,) = [r for r in alone["result"] if r["type"] == "brushlabels"]
    assert np.array_equal(brush_mask(brush), sam_reference.mask(chelsea(), box=box))


def test_a_cached_image_answers_clicks_without_downloading_it_again(client, predictor, monkeypatch):
    predict(client, CONFIG)  # pre-labelling with masks caches the task image's embedding
    fetched: list[object] = []
    original = predictor.fetcher.fetch
    monkeypatch.setattr(predictor.fetcher, "fetch", lambda *a, **k: fetched.append(a) or original(*a, **k))
    embeds: list[int] = []
    segmenter = predictor.masks.segmenter
    monkeypatch.setattr(
        segmenter, "embed", lambda image: embeds.append(1) or type(segmenter).embed(segmenter, image)
    )
    predict(client, CONFIG, {"result": [click(40.0, 50.0)]})
    predict(client, CONFIG, {"result": [click(40.0, 50.0), click(60.0, 30.0)]})
    assert (fetched, embeds) == ([], [])
    # Another task's image is a new entry.
    other = {"id": 8, "data": {"image": "/data/local-files/?d=photos/astronaut.png"}}
    predict(client, CONFIG, {"result": [click(40.0, 50.0)]}, task=other)
    assert (len(fetched), embeds) == (1, [1])


def test_the_embedding_cache_keeps_the_most_recent_images():
    cache = EmbeddingCache(2)
    for key in ("a", "b", "c"):
        cache.put(key, key)  # type: ignore[arg-type]
    assert cache.get("a") is None and cache.get("b") == "b"
    cache.put("d", "d")  # type: ignore[arg-type]
    assert cache.get("c") is None and cache.get("b") == "b" and len(cache) == 2


def test_key_points_carry_their_sign_and_a_point_without_one_is_positive():
    unsigned = click(10.0, 20.0)
    del unsigned["is_positive"]
    context = InteractiveContext.parse({"result": [unsigned, click(30.0, 40.0, positive=False)]})
    assert context is not None
    prompt = context.mask_prompt_for("image")
    assert prompt is not None and prompt.positive == (True, False) and prompt.label == "Cat"
    box, points, labels = prompt.in_pixels((200, 100))
    assert (box, points, labels) == (None, [(20.0, 20.0), (60.0, 40.0)], [1, 0])


def test_sam3_masks_need_no_mask_model(family_model, settings):
    """SAM 3 finds masks with its boxes: they go to the brush control as the family made them."""
    from groundlabel import Detector

    detector = Detector.load(str(family_model("sam3")), device="cpu")
    sam3 = Predictor(detector, DetectionSettings(0.05, 0.0), TaskImageFetcher(settings))
    config = (
        '<View><Image name="image" value="$image"/>'
        '<RectangleLabels name="box" toName="image"><Label value="cat"/></RectangleLabels>'
        '<BrushLabels name="brush" toName="image"><Label value="cat"/></BrushLabels></View>'
    )
    with TestClient(create_app(sam3, settings)) as client:
        regions = predict(client, config)["result"]
    found = detector.detect_image(chelsea(), LabelSet((LabelClass("cat"),)), sam3.settings)
    assert found.masks and len(found.masks) == len(found.boxes)
    brushes = [r for r in regions if r["type"] == "brushlabels"]
    boxes = [r for r in regions if r["type"] == "rectanglelabels"]
    assert len(brushes) == len(boxes) == len(found.boxes)
    assert [b["parentID"] for b in brushes] == [b["id"] for b in boxes]
    for brush, mask in zip(brushes, found.masks, strict=True):
        assert np.array_equal(brush_mask(brush), masks.decode(mask))
    assert "+" not in sam3.model_version  # no mask model in the version: the family made them


def test_serve_with_a_detector_as_mask_model_is_one_line(tiny_model_dir):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith(("LABEL_STUDIO_", "GROUNDLABEL_"))}
    command = [sys.executable, "-m", "groundlabel", "serve", "--model", str(tiny_model_dir)]
    command += ["--masks", str(tiny_model_dir), "--port", "1", "--device", "cpu"]
    result = subprocess.run(
        command, env={**env, "HF_HUB_OFFLINE": "1"}, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.strip().splitlines()[-1:]
    assert "not a mask model" in line and "Traceback" not in result.stderr
