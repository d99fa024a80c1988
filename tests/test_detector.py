"""The detector against the transformers reference path, with a tiny random model loaded via from_pretrained."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image
from transformers import AutoModelForZeroShotObjectDetection, AutoProcessor

from groundlabel import DetectionSettings, LabelSet, load_image

PHOTOS = Path(__file__).resolve().parents[1] / "assets" / "reference" / "photos"
LABELS = LabelSet.parse("cat, remote control=remote|tv remote, person")


def reference_detections(
    model_dir: Path, image: Image.Image, prompt: str, box_threshold: float, text_threshold: float
):
    """The model card's path, verbatim (with `threshold`, as box_threshold no longer exists)."""
    processor = AutoProcessor.from_pretrained(model_dir)
    model = AutoModelForZeroShotObjectDetection.from_pretrained(model_dir).eval()
    inputs = processor(images=image, text=prompt, return_tensors="pt")
    with torch.no_grad():
        outputs = model(**inputs)
    return processor.post_process_grounded_object_detection(
        outputs,
        inputs.input_ids,
        threshold=box_threshold,
        text_threshold=text_threshold,
        target_sizes=[image.size[::-1]],
    )[0]


@pytest.mark.parametrize("photo", ["chelsea.png", "astronaut.png"])
def test_boxes_and_scores_equal_the_reference_path(tiny_model_dir, tiny_detector, photo):
    image = load_image(PHOTOS / photo)
    (prompt,) = tiny_detector.prompts(LABELS)
    reference = reference_detections(tiny_model_dir, image, prompt.chunk.text, 0.35, 0.25)
    result = next(tiny_detector.detect(image, LABELS, box_threshold=0.35, text_threshold=0.25))
    assert result.ok and len(result.boxes) > 0
    width, height = image.size
    ref_boxes = reference["boxes"].clone()
    ref_boxes[:, 0::2] = ref_boxes[:, 0::2].clamp(0, width)
    ref_boxes[:, 1::2] = ref_boxes[:, 1::2].clamp(0, height)
    ref_scores = reference["scores"]
    for box, score in zip(result.boxes, result.scores, strict=True):
        distance = (ref_boxes - torch.tensor(box)).abs().max(dim=1).values + (ref_scores - score).abs()
        assert distance.min().item() < 1e-4, f"box {box} score {score} has no reference twin"


def test_every_box_gets_exactly_one_class_of_the_set(tiny_detector):
    results = list(tiny_detector.detect(PHOTOS, LABELS, box_threshold=0.0, text_threshold=0.0))
    assert [Path(r.source).name for r in results] == ["astronaut.png", "chelsea.png"]
    labels = [label for r in results for label in r.labels]
    assert labels and set(labels) <= set(LABELS.names)
    for r in results:
        assert [LABELS.names[c] for c in r.class_ids] == r.labels
        assert r.scores == sorted(r.scores, reverse=True)


def test_text_threshold_drops_boxes_no_phrase_grounds(tiny_detector):
    loose = next(tiny_detector.detect(PHOTOS / "chelsea.png", LABELS, box_threshold=0.0, text_threshold=0.0))
    strict = next(
        tiny_detector.detect(PHOTOS / "chelsea.png", LABELS, box_threshold=0.0, text_threshold=0.999)
    )
    assert len(strict.boxes) < len(loose.boxes)


def test_boxes_are_clamped_to_the_image(tiny_detector):
    result = next(tiny_detector.detect(PHOTOS / "chelsea.png", LABELS, box_threshold=0.0, text_threshold=0.0))
    width, height = result.image_size
    assert (width, height) == (451, 300)
    for x0, y0, x1, y1 in result.boxes:
        assert 0 <= x0 <= x1 <= width and 0 <= y0 <= y1 <= height


def test_nms_and_max_detections(tiny_detector):
    image = PHOTOS / "astronaut.png"
    plain = next(tiny_detector.detect(image, LABELS, box_threshold=0.0, text_threshold=0.0))
    suppressed = next(tiny_detector.detect(image, LABELS, box_threshold=0.0, text_threshold=0.0, nms_iou=0.1))
    capped = next(
        tiny_detector.detect(image, LABELS, box_threshold=0.0, text_threshold=0.0, max_detections=3)
    )
    assert len(suppressed.boxes) < len(plain.boxes)
    assert capped.scores == plain.scores[:3]


def test_long_class_lists_run_several_passes_and_find_late_classes(tiny_detector):
    names = [f"thing {i} of a long list" for i in range(120)]
    labels = LabelSet.from_names(names)
    assert len(tiny_detector.prompts(labels)) > 1
    result = next(tiny_detector.detect(PHOTOS / "chelsea.png", labels, box_threshold=0.0, text_threshold=0.0))
    first_chunk = {owner for _, _, owner in tiny_detector.prompts(labels)[0].chunk.spans}
    assert any(c not in first_chunk for c in result.class_ids), "classes of later chunks are found too"


def test_a_bad_image_is_reported_and_the_batch_goes_on(tiny_detector, tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    Image.open(PHOTOS / "chelsea.png").save(folder / "a.png")
    (folder / "b.jpg").write_bytes(b"garbage")
    Image.open(PHOTOS / "chelsea.png").save(folder / "c.png")
    results = list(tiny_detector.detect(folder, LABELS, batch_size=2))
    assert [Path(r.source).name for r in results] == ["a.png", "b.jpg", "c.png"]
    assert [r.ok for r in results] == [True, False, True]
    assert "not an image" in results[1].error


def test_exif_rotated_image_gives_boxes_in_shown_coordinates(tiny_detector, tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "rotated.jpg"
    Image.open(PHOTOS / "chelsea.png").save(path, exif=exif)
    result = next(tiny_detector.detect(path, LABELS, box_threshold=0.0, text_threshold=0.0))
    assert result.image_size == (300, 451)
    assert max(b[3] for b in result.boxes) > 300  # some box reaches below the unrotated height


def test_detect_image_uses_given_settings(tiny_detector):
    image = load_image(PHOTOS / "chelsea.png")
    result = tiny_detector.detect_image(
        image, LABELS, DetectionSettings(box_threshold=0.0, text_threshold=0.0)
    )
    assert result.image_size == (451, 300) and len(result.boxes) > 0
