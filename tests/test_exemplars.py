"""Detection from example boxes, where the right answer is known by construction.

With random weights a photo has no right answer, so the scenes are built: one random
32x32 pattern pasted on random noise, aligned to the 16-pixel patch grid. The example
box is the pattern in one image; in another image the same pattern sits at two known
places. The model sees identical pixels there, so the pipeline (embedding the example
box, scoring every patch, boxes, classes) must rank those two places first.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from groundlabel import Detector
from groundlabel.exemplars import Exemplar, ExemplarError

SIDE, PATTERN = 96, 32
_PATTERN = (np.random.default_rng(0).random((PATTERN, PATTERN, 3)) * 255).astype(np.uint8)


def scene(corners: list[tuple[int, int]], seed: int) -> Image.Image:
    """Noise with the pattern's top-left corner at each (x, y)."""
    pixels = (np.random.default_rng(seed).random((SIDE, SIDE, 3)) * 255).astype(np.uint8)
    for x, y in corners:
        pixels[y : y + PATTERN, x : x + PATTERN] = _PATTERN
    return Image.fromarray(pixels)


def centre(box: list[float]) -> tuple[float, float]:
    return (box[0] + box[2]) / 2, (box[1] + box[3]) / 2


EXAMPLE = Exemplar(scene([(16, 16)], seed=1), (16, 16, 48, 48), "widget")
PLACES = [(16, 48), (48, 16)]
EXPECTED_CENTRES = {(x + PATTERN / 2, y + PATTERN / 2) for x, y in PLACES}


@pytest.fixture(scope="module", params=["owlv2", "owlvit"])
def owl(request, family_model) -> Detector:
    return Detector.load(str(family_model(request.param)), device="cpu")


def test_the_pasted_places_rank_first(owl):
    target = scene(PLACES, seed=2)
    result = next(owl.detect_like(target, [EXAMPLE], box_threshold=0.0))
    assert result.ok and len(result.boxes) == (SIDE // 16) ** 2
    top = {tuple(round(v) for v in centre(b)) for b in result.boxes[:2]}
    assert top == EXPECTED_CENTRES
    assert result.labels[:2] == ["widget", "widget"]


def test_each_example_class_labels_its_own_matches(owl):
    """Two classes: the pattern, and a second pattern; each place gets its example's class."""
    other = np.random.default_rng(7).random((PATTERN, PATTERN, 3))
    second = scene([(16, 16)], seed=3)
    pixels = np.array(second)
    pixels[16:48, 16:48] = (other * 255).astype(np.uint8)
    examples = [EXAMPLE, Exemplar(Image.fromarray(pixels), (16, 16, 48, 48), "gadget")]
    target = np.array(scene([(16, 48)], seed=4))
    target[16:48, 48:80] = (other * 255).astype(np.uint8)
    result = next(owl.detect_like(Image.fromarray(target), examples, box_threshold=0.0))
    found = {
        tuple(round(v) for v in centre(b)): label
        for b, label in zip(result.boxes[:2], result.labels[:2], strict=True)
    }
    assert found == {(32, 64): "widget", (64, 32): "gadget"}


def test_unusable_examples_and_families_are_refused(owl, tiny_detector):
    with pytest.raises(ExemplarError, match="no area"):
        next(owl.detect_like(EXAMPLE.image, [Exemplar(EXAMPLE.image, (10, 10, 10, 30), "x")]))
    with pytest.raises(ExemplarError, match="outside"):
        next(owl.detect_like(EXAMPLE.image, [Exemplar(EXAMPLE.image, (200, 200, 300, 300), "x")]))
    with pytest.raises(ExemplarError, match="OWLv2"):
        next(tiny_detector.detect_like(EXAMPLE.image, [EXAMPLE]))
