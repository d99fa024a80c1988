"""Detection from example boxes, where the right answer is known by construction.

With random weights a photo has no right answer, so the scenes are built: one random
32x32 pattern pasted on random noise, aligned to the 16-pixel patch grid. The example
box is the pattern in one image; in another image the same pattern sits at two known
places. The model sees identical pixels there, so the pipeline (embedding the example
box, scoring every patch, boxes, classes) must rank those two places first.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from groundlabel import Detector
from groundlabel.cli import main as cli_main
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


def _folder_with_scenes(tmp_path):
    folder = tmp_path / "scenes"
    folder.mkdir()
    EXAMPLE.image.save(folder / "example.png")
    scene(PLACES, seed=2).save(folder / "target.png")
    return folder


def test_cli_detect_with_an_example_file(owl, tmp_path):
    folder = _folder_with_scenes(tmp_path)
    examples = {
        "images": [{"id": 1, "file_name": "scenes/example.png", "width": SIDE, "height": SIDE}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 5, "bbox": [16, 16, 32, 32]}],
        "categories": [{"id": 5, "name": "widget"}],
    }
    (tmp_path / "examples.json").write_text(json.dumps(examples))
    output = tmp_path / "found.json"
    code = cli_main(
        ["detect", str(folder / "target.png"), "--exemplars", str(tmp_path / "examples.json"),
         "--model", owl.model_name, "--device", "cpu", "--box-threshold", "0", "-o", str(output)]
    )  # fmt: skip
    assert code == 0
    coco = json.loads(output.read_text())
    assert [c["name"] for c in coco["categories"]] == ["widget"]
    best = sorted(coco["annotations"], key=lambda a: -a["score"])[:2]
    assert {
        (round(a["bbox"][0] + a["bbox"][2] / 2), round(a["bbox"][1] + a["bbox"][3] / 2)) for a in best
    } == EXPECTED_CENTRES


def test_cli_detect_with_the_projects_accepted_boxes(owl, tmp_path):
    from groundlabel.project import BoxSource, BoxStatus, ReviewProject

    folder = _folder_with_scenes(tmp_path)
    with ReviewProject.open(folder) as project:
        widget = project.ensure_classes(["widget"])["widget"]
        example = project.image_by_path(folder / "example.png")
        project.insert_box(
            example.id, widget, (16, 16, 48, 48), source=BoxSource.HAND, status=BoxStatus.ACCEPTED
        )
    code = cli_main(
        ["detect", str(folder), "--exemplars-from-project", "--into-project", "--model", owl.model_name,
         "--device", "cpu", "--box-threshold", "0"]
    )  # fmt: skip
    assert code == 0
    with ReviewProject.open(folder) as project:
        target = project.image_by_path(folder / "target.png")
        found = [b for b in project.boxes(target.id) if b.status == BoxStatus.PENDING]
        best = sorted(found, key=lambda b: -(b.score or 0))[:2]
        assert {tuple(round(v) for v in centre(list(b.xyxy))) for b in best} == EXPECTED_CENTRES
        assert all(b.class_id == widget for b in found) and "examples:" in (best[0].model or "")


def test_cli_refuses_examples_for_a_text_only_family(tiny_model_dir, tmp_path, capsys):
    folder = _folder_with_scenes(tmp_path)
    (tmp_path / "examples.json").write_text(
        json.dumps({"images": [{"id": 1, "file_name": "scenes/example.png", "width": SIDE, "height": SIDE}],
                    "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [16, 16, 32, 32]}],
                    "categories": [{"id": 1, "name": "widget"}]})
    )  # fmt: skip
    code = cli_main(
        ["detect", str(folder), "--exemplars", str(tmp_path / "examples.json"), "--model", str(tiny_model_dir),
         "--device", "cpu", "-o", str(tmp_path / "x.json")]
    )  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert "cannot search by example boxes" in err and "Traceback" not in err
