"""Every detector family against its own transformers reference path, on tiny random checkpoints.

Each family is saved with ``save_pretrained`` (with its real tokenizer files) and loaded
back through ``Detector.load``, the path a hub id takes; boxes and scores must equal
the family's processor + model + post-processing within 1e-4.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForZeroShotObjectDetection, AutoProcessor

from groundlabel import Detector, LabelSet, load_image
from groundlabel.cli import main as cli_main
from groundlabel.errors import LabelSetError

PHOTOS = Path(__file__).resolve().parents[1] / "assets" / "reference" / "photos"
LABELS = LabelSet.parse("cat, remote control=remote|tv remote, person")
FAMILIES = ["mm-grounding-dino", "owlv2", "owlvit"]
# Thresholds inside each random model's score range, so that some boxes pass and some do not.
THRESHOLD = {"mm-grounding-dino": 0.1, "owlv2": 0.5, "owlvit": 0.5}


@pytest.fixture(scope="session", params=FAMILIES)
def family_dir(request, family_model) -> Path:
    return family_model(request.param)


@pytest.fixture(scope="session")
def family_detector(family_dir):
    return Detector.load(str(family_dir), device="cpu")


def reference(model_dir: Path, image, detector: Detector, threshold: float):
    """The family's model-card code: its processor, its model, its post-processing."""
    processor = AutoProcessor.from_pretrained(model_dir)
    model = AutoModelForZeroShotObjectDetection.from_pretrained(model_dir).eval()
    (prompt,) = detector.prompts(LABELS)
    if detector.family == "mm-grounding-dino":
        inputs = processor(images=image, text=prompt.chunk.text, return_tensors="pt")
        with torch.no_grad():
            outputs = model(**inputs)
        return processor.post_process_grounded_object_detection(
            outputs,
            inputs.input_ids,
            threshold=threshold,
            text_threshold=0.0,
            target_sizes=[image.size[::-1]],
        )[0]
    inputs = processor(text=[list(prompt.queries)], images=image, return_tensors="pt")
    with torch.no_grad():
        outputs = model(**inputs)
    # OWLv2 pads to a square: the model card scales boxes to the padded side.
    side = max(image.size)
    target = (side, side) if detector.family == "owlv2" else image.size[::-1]
    return processor.post_process_grounded_object_detection(
        outputs, threshold=threshold, target_sizes=[target]
    )[0]


@pytest.mark.parametrize("photo", ["chelsea.png", "astronaut.png"])
def test_each_family_equals_its_reference_path(family_dir, family_detector, photo):
    image = load_image(PHOTOS / photo)
    threshold = THRESHOLD[family_detector.family]
    ref = reference(family_dir, image, family_detector, threshold=threshold)
    result = next(family_detector.detect(image, LABELS, box_threshold=threshold, text_threshold=0.0))
    everything = next(family_detector.detect(image, LABELS, box_threshold=0.0, text_threshold=0.0))
    assert result.ok and 0 < len(result.boxes) < len(everything.boxes)
    assert len(result.boxes) == len(ref["scores"])
    width, height = image.size
    ref_boxes = ref["boxes"].clone()
    ref_boxes[:, 0::2] = ref_boxes[:, 0::2].clamp(0, width)
    ref_boxes[:, 1::2] = ref_boxes[:, 1::2].clamp(0, height)
    for box, score in zip(result.boxes, result.scores, strict=True):
        distance = (ref_boxes - torch.tensor(box)).abs().max(dim=1).values + (ref["scores"] - score).abs()
        assert distance.min().item() < 1e-4, f"box {box} score {score} has no reference twin"
    assert set(result.labels) <= set(LABELS.names)


def test_family_is_read_from_the_config(family_dir, family_detector):
    config = json.loads((family_dir / "config.json").read_text())
    assert family_detector.family == config["model_type"]
    assert family_detector.model_record == f"{config['model_type']}:{family_dir}"


def test_a_hub_id_loads_through_the_same_path(family_dir, family_detector, tmp_path, monkeypatch):
    """A hub id resolves through the Hugging Face cache (offline here) to the same weights."""
    snapshot = tmp_path / "hub" / "models--example--tiny" / "snapshots" / ("0" * 40)
    shutil.copytree(family_dir, snapshot)
    (tmp_path / "hub" / "models--example--tiny" / "refs").mkdir()
    (tmp_path / "hub" / "models--example--tiny" / "refs" / "main").write_text("0" * 40)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "hub"))
    from_hub = Detector.load("example/tiny", device="cpu")
    assert from_hub.family == family_detector.family
    image = load_image(PHOTOS / "chelsea.png")
    a = next(from_hub.detect(image, LABELS, box_threshold=0.3, text_threshold=0.0))
    b = next(family_detector.detect(image, LABELS, box_threshold=0.3, text_threshold=0.0))
    assert a.boxes == b.boxes and a.scores == b.scores


def test_long_class_lists_are_split_by_the_model_limit(family_detector):
    labels = LabelSet.from_names([f"thing number {i}" for i in range(120)])
    prompts = family_detector.prompts(labels)
    assert len(prompts) > 1
    owners = torch.cat([p.owners for p in prompts])
    assert set(owners[owners >= 0].tolist()) == set(range(120))
    image = load_image(PHOTOS / "chelsea.png")
    result = next(family_detector.detect(image, labels, box_threshold=0.0, text_threshold=0.0))
    assert result.ok and set(result.labels) <= set(labels.names)


def test_a_phrase_longer_than_the_text_limit_is_refused(family_detector):
    """OWL reads 16 tokens per query; (MM) Grounding DINO 256 per prompt."""
    words = 20 if family_detector.family.startswith("owl") else 300
    with pytest.raises(LabelSetError, match="tokens"):
        family_detector.prompts(LabelSet.parse("word " * words))


def test_detect_cli_writes_coco_for_each_family(family_dir, family_detector, photo_dir, tmp_path, capsys):
    output = tmp_path / "out.json"
    code = cli_main(
        [
            "detect",
            str(photo_dir),
            "-l",
            "cat, person",
            "--model",
            str(family_dir),
            "--device",
            "cpu",
            "--box-threshold",
            "0.05",
            "--text-threshold",
            "0",
            "-o",
            str(output),
        ]
    )
    assert code == 0
    coco = json.loads(output.read_text())
    assert len(coco["images"]) == 2 and coco["annotations"]
    assert coco["info"]["family"] == family_detector.family
    assert {c["name"] for c in coco["categories"]} == {"cat", "person"}


def test_an_unsupported_family_gets_a_clear_message(tmp_path):
    from groundlabel.errors import ModelLoadError

    (tmp_path / "config.json").write_text(json.dumps({"model_type": "omdet-turbo"}))
    with pytest.raises(ModelLoadError, match=r"OmDet-Turbo.*torchvision"):
        Detector.load(str(tmp_path), device="cpu")


def test_mm_grounding_dino_fast_paths_equal_the_reference_computation(family_model):
    """The CPU fast paths patch MM Grounding DINO's modules too, and change no number beyond 1e-4."""
    model_dir = str(family_model("mm-grounding-dino"))
    fast = Detector.load(model_dir, device="cpu")
    plain = Detector.load(model_dir, device="cpu", fast=False)
    done = fast.acceleration
    assert done is not None and done.deformable and done.fusion and done.feed_forward
    (prompt,) = plain.prompts(LABELS)
    for photo in ("chelsea.png", "astronaut.png"):
        image = load_image(PHOTOS / photo)
        ref_logits, ref_boxes = plain._forward(plain._pixels([image]), prompt)
        for _ in range(2):  # the second pass runs on the cached text features
            logits, boxes = fast._forward(fast._pixels([image]), prompt)
            finite = torch.isfinite(ref_logits)
            assert torch.equal(finite, torch.isfinite(logits))
            assert (logits[finite] - ref_logits[finite]).abs().max() < 1e-4
            assert (boxes - ref_boxes).abs().max() < 1e-4
