"""SAM 2.1 behind the Segmenter interface equals transformers' reference path, pixel for pixel.

The product runs SAM 2.1 without torchvision (our own resize, normalisation and mask
upsampling); the reference (``Sam2Processor`` + ``Sam2Model`` + ``post_process_masks``)
needs torchvision, so it runs in the test-only readers venv (``tests/readers_venv.py``) and
hands back its pixel values, masks and scores for the same image and prompts.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from groundlabel.segmenters import load_segmenter
from groundlabel.segmenters.sam2 import Sam2Segmenter

pytestmark = pytest.mark.slow  # SAM 2.1's reference runs in the readers venv

SCRIPT = Path(__file__).parent / "readers" / "sam2_reference.py"
BOXES = [(3.3, 4.1, 50.7, 40.2), (20.0, 10.0, 90.0, 60.0), (0.0, 0.0, 97.0, 61.0)]
BOX, POINTS, LABELS = BOXES[1], [(40.0, 30.0), (80.5, 50.0)], [1, 0]
ONLY_POINTS, ONLY_LABELS = [(12.0, 20.0), (70.0, 44.0), (30.0, 50.0)], [1, 1, 0]
CASES = [
    {"input_boxes": [[list(b) for b in BOXES]]},
    {"input_boxes": [[list(BOX)]], "input_points": [[[list(p) for p in POINTS]]], "input_labels": [[LABELS]]},
    {"input_points": [[[list(p) for p in ONLY_POINTS]]], "input_labels": [[ONLY_LABELS]]},
    {"input_points": [[[[50.0, 30.0]]]], "input_labels": [[[1]]], "multimask": True},
]


@pytest.fixture(scope="module")
def setup(segmenter_model, readers_venv, tmp_path_factory):
    root = tmp_path_factory.mktemp("sam2")
    checkpoint = segmenter_model("sam2")
    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 255, (61, 97, 3), dtype=np.uint8))
    image.save(root / "image.png")
    (root / "cases.json").write_text(json.dumps(CASES))
    python = readers_venv
    run = subprocess.run(
        [str(python), str(SCRIPT), str(checkpoint), str(root / "image.png"), str(root / "cases.json"), str(root / "ref.npz")],
        capture_output=True, text=True, timeout=600, cwd=root, env={**os.environ, "HOME": str(root)},
    )  # fmt: skip
    assert "SAM2-REFERENCE-OK Sam2ImageProcessor" in run.stdout, run.stdout[-3000:] + run.stderr[-3000:]
    reference = dict(np.load(root / "ref.npz"))
    segmenter = load_segmenter(str(checkpoint), device="cpu")
    return segmenter, image, reference


def test_sam2_loads_as_its_own_family(setup):
    segmenter, _, _ = setup
    assert isinstance(segmenter, Sam2Segmenter) and segmenter.model_record.startswith("sam2:")


def test_our_preprocessing_equals_sam2_image_processor(setup):
    segmenter, image, reference = setup
    ours = segmenter.preprocessing.pixel_values(image).numpy()
    assert ours.shape == reference["pixel_values"].shape == (1, 3, 128, 128)
    assert np.array_equal(ours, reference["pixel_values"])


def test_sam2_masks_for_boxes_equal_the_reference(setup):
    segmenter, image, reference = setup
    proposals = segmenter.masks_for_boxes(segmenter.embed(image), BOXES)
    masks, scores = reference["masks_0"], reference["scores_0"]
    assert masks.shape == (len(BOXES), 1, 61, 97)
    assert [np.array_equal(p.mask, masks[j, 0]) for j, p in enumerate(proposals)] == [True] * len(BOXES)
    assert [p.score for p in proposals] == pytest.approx(scores[:, 0].tolist(), abs=1e-5)
    assert all(0 < p.mask.mean() < 1 for p in proposals)
    assert len({p.mask.tobytes() for p in proposals}) == len(BOXES)


def test_sam2_box_with_points_and_points_only_equal_the_reference(setup):
    segmenter, image, reference = setup
    embedding = segmenter.embed(image)
    with_box = segmenter.mask_for_prompt(embedding, BOX, POINTS, LABELS)
    assert np.array_equal(with_box.mask, reference["masks_1"][0, 0])
    assert with_box.score == pytest.approx(float(reference["scores_1"][0, 0]), abs=1e-5)
    only = segmenter.mask_for_prompt(embedding, None, ONLY_POINTS, ONLY_LABELS)
    assert np.array_equal(only.mask, reference["masks_2"][0, 0])
    assert only.score == pytest.approx(float(reference["scores_2"][0, 0]), abs=1e-5)


def test_sam2_lone_point_takes_the_best_of_three(setup):
    segmenter, image, reference = setup
    masks, scores = reference["masks_3"], reference["scores_3"]
    best = int(np.argmax(scores[0]))
    proposal = segmenter.mask_for_prompt(segmenter.embed(image), None, [(50.0, 30.0)], [1])
    assert masks.shape[1] == 3
    assert np.array_equal(proposal.mask, masks[0, best])
    assert proposal.score == pytest.approx(float(scores[0, best]), abs=1e-5)
