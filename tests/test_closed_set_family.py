"""Models ``groundlabel train`` makes (RT-DETRv2, D-FINE) run as a closed-set family of ``Detector``.

Boxes and scores must equal transformers' reference path (the image processor, the model,
``post_process_object_detection``) within 1e-4; ``--labels`` picks some of the model's classes
and an unknown one is refused by name.
"""

from __future__ import annotations

import json
import random

import pytest
import torch
from transformers import AutoImageProcessor, AutoModelForObjectDetection

from groundlabel import Detector, LabelSet
from groundlabel.boxes import clamp_to_image
from groundlabel.cli import main as cli_main
from groundlabel.devtools.synthetic_shapes import shapes_image
from groundlabel.errors import LabelSetError


@pytest.fixture(scope="module", params=["rt-detr-v2", "d-fine"])
def closed_dir(request, closed_set_model):
    return closed_set_model(request.param)


@pytest.fixture(scope="module")
def closed_detector(closed_dir):
    return Detector.load(str(closed_dir), device="cpu")


def _reference(model_dir, image, threshold):
    processor = AutoImageProcessor.from_pretrained(model_dir)
    model = AutoModelForObjectDetection.from_pretrained(model_dir).eval()
    inputs = processor(images=image, return_tensors="pt")
    with torch.no_grad():
        outputs = model(**inputs)
    result = processor.post_process_object_detection(
        outputs, threshold=threshold, target_sizes=[image.size[::-1]]
    )[0]
    names = [model.config.id2label[i] for i in result["labels"].tolist()]
    boxes = clamp_to_image(result["boxes"], image.width, image.height)
    return boxes, result["scores"], names


@pytest.mark.parametrize("seed", [1, 2])
def test_detector_equals_the_reference_path(closed_dir, closed_detector, seed):
    image, _ = shapes_image(random.Random(seed), 120)
    image = image.resize((150, 120))  # not square: boxes scale back per axis
    _, all_scores, _ = _reference(closed_dir, image, 0.0)
    threshold = float(all_scores.median())  # some boxes pass, some do not
    boxes, scores, names = _reference(closed_dir, image, threshold)
    labels = LabelSet.parse("square, disc, triangle")
    (result,) = closed_detector.detect([image], labels, box_threshold=threshold, text_threshold=0.9)
    assert result.ok
    assert len(result.boxes) == len(scores) > 0, "text_threshold must not apply to a closed-set model"
    for box, score, name in zip(result.boxes, result.scores, result.labels, strict=True):
        distance = (boxes - torch.tensor(box)).abs().amax(dim=1) + (scores - score).abs()
        twin = int(distance.argmin())
        assert distance[twin].item() < 1e-4, f"box {box} score {score} has no reference twin"
        assert names[twin] == name


def test_labels_pick_a_subset_of_the_classes(closed_dir, closed_detector):
    image, _ = shapes_image(random.Random(3), 96)
    _, _scores, names = _reference(closed_dir, image, 0.0)
    wanted = max(set(names), key=names.count)  # the random model's most frequent class
    (result,) = closed_detector.detect([image], LabelSet.parse(wanted), box_threshold=0.0)
    assert set(result.labels) == {wanted}
    assert len(result.labels) == names.count(wanted)


def test_an_unknown_class_is_refused_by_name(closed_detector):
    with pytest.raises(LabelSetError, match=r"'cat'.*square, disc, triangle"):
        list(closed_detector.detect([shapes_image(random.Random(0), 64)[0]], LabelSet.parse("disc, cat")))


def test_detect_cli_without_labels_uses_every_class(closed_dir, tmp_path, capsys):
    image, _ = shapes_image(random.Random(4), 96)
    image.save(tmp_path / "a.png")
    out = tmp_path / "p.json"
    code = cli_main(
        [
            "detect",
            str(tmp_path / "a.png"),
            "--model",
            str(closed_dir),
            "--box-threshold",
            "0.0",
            "-o",
            str(out),
        ]
    )
    assert code == 0
    coco = json.loads(out.read_text())
    assert [c["name"] for c in coco["categories"]] == ["square", "disc", "triangle"]
    assert coco["info"]["family"] in ("rt_detr_v2", "d_fine")
    assert coco["annotations"]
    assert (
        cli_main(
            ["detect", str(tmp_path / "a.png"), "--model", str(closed_dir), "--labels", "dog", "-o", str(out)]
        )
        == 2
    )
    assert "'dog' is not one this model was trained on" in capsys.readouterr().err
