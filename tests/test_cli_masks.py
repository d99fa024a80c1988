"""``detect --masks`` and ``groundlabel segment`` end to end with tiny random models.

Each mask written must be the one the segmenter draws for that box on that image (itself
held to transformers' reference path by ``test_segmenters``), so these tests check the
plumbing: the right boxes, the right image, every box once, resumable, nothing lost.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from groundlabel import masks as mask_codec
from groundlabel.cli import main
from groundlabel.images import load_image
from groundlabel.project.models import BoxSource, BoxStatus
from groundlabel.project.store import ReviewProject
from groundlabel.segmenters import load_segmenter
from groundlabel.segmenters.base import Segmenter

PHOTOS = Path(__file__).resolve().parents[1] / "assets" / "reference" / "photos"


@pytest.fixture(scope="module")
def segmenter(sam_dir):
    return load_segmenter(str(sam_dir), device="cpu")


def expected_mask(segmenter: Segmenter, path: Path, box) -> np.ndarray:
    image = load_image(path)
    return segmenter.masks_for_boxes(segmenter.embed(image), [tuple(box)])[0].mask


@pytest.mark.parametrize("family", ["owlv2", "owlvit"])
def test_detect_masks_writes_one_rle_segmentation_per_box(family, family_model, sam_dir, segmenter, tmp_path):
    # Any family's boxes are refined the same way (``refine.add_masks``); the OWL models keep
    # this test quick (Grounding DINO's fast path compiles a native kernel on first use).
    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy(PHOTOS / "chelsea.png", folder / "cat.png")
    out = tmp_path / "pred.json"
    code = main([
        "detect", str(folder), "--labels", "cat, remote", "--model", str(family_model(family)), "--device", "cpu",
        "--box-threshold", "0.0", "--max-detections", "3", "--masks", str(sam_dir), "-o", str(out),
    ])  # fmt: skip
    assert code == 0
    coco = json.loads(out.read_text())
    annotations = coco["annotations"]
    assert len(annotations) == 3, "the tiny detector found no box to refine"
    assert coco["info"]["mask_model"] == f"sam:{sam_dir}"
    for annotation in annotations:
        x, y, w, h = annotation["bbox"]
        mask = mask_codec.decode(annotation["segmentation"])
        assert mask.shape == (300, 451)
        assert np.array_equal(mask, expected_mask(segmenter, folder / "cat.png", (x, y, x + w, y + h)))
        assert annotation["area"] == pytest.approx(mask.sum())
        assert isinstance(annotation["mask_score"], float)


def test_detect_masks_into_shards_carries_one_mask_per_box(family_model, sam_dir, segmenter, tmp_path):
    out = tmp_path / "shards"
    code = main([
        "detect", str(PHOTOS / "chelsea.png"), "--labels", "cat", "--model", str(family_model("owlv2")),
        "--device", "cpu", "--box-threshold", "0.0", "--max-detections", "2", "--masks", str(sam_dir),
        "-o", f"{out}/",
    ])  # fmt: skip
    assert code == 0
    (row,) = [
        json.loads(line)
        for shard in sorted(out.glob("part-*.jsonl"))
        for line in shard.read_text().splitlines()
    ]
    assert len(row["boxes"]) == len(row["masks"]) == len(row["mask_scores"]) == 2
    for box, rle in zip(row["boxes"], row["masks"], strict=True):
        assert np.array_equal(mask_codec.decode(rle), expected_mask(segmenter, PHOTOS / "chelsea.png", box))


def test_a_bad_mask_model_is_one_line(family_model, tmp_path, capsys):
    code = main([
        "detect", str(PHOTOS), "--labels", "cat", "--model", str(family_model("owlv2")), "--device", "cpu",
        "--masks", str(family_model("owlv2")), "-o", str(tmp_path / "out.json"),
    ])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "not a mask model" in err and "Traceback" not in err
    assert not (tmp_path / "out.json").exists()


@pytest.fixture
def box_project(tmp_path):
    """Two photos, each with an accepted, a pending and a rejected box."""
    folder = tmp_path / "project"
    folder.mkdir()
    shutil.copy(PHOTOS / "chelsea.png", folder / "a.png")
    shutil.copy(PHOTOS / "astronaut.png", folder / "b.png")
    boxes = {}
    with ReviewProject.open(folder) as project:
        cat = project.ensure_classes(["thing"])["thing"]
        for image in project.images():
            project.ensure_image_info(image.id)
            for status, xyxy in (
                (BoxStatus.ACCEPTED, (20.0, 30.0, 200.0, 250.0)),
                (BoxStatus.PENDING, (100.0, 50.0, 300.0, 280.0)),
                (BoxStatus.REJECTED, (0.0, 0.0, 50.0, 50.0)),
            ):
                box = project.insert_box(
                    image.id, cat, xyxy, source=BoxSource.MODEL, status=status, score=0.5
                )
                boxes[(image.path, status)] = box.id
    return folder, boxes


def masks_of(folder: Path) -> dict[int, tuple]:
    with ReviewProject.open(folder) as project:
        return {
            box.id: (box.mask and mask_codec.normalise(box.mask)["counts"], box.mask_score, box.mask_model)
            for image in project.images()
            for box in project.boxes(image.id)
        }


def test_segment_masks_the_accepted_boxes_then_resumes_with_nothing_to_do(
    box_project, sam_dir, segmenter, capsys
):
    folder, boxes = box_project
    assert main(["segment", str(folder), "--masks", str(sam_dir), "--device", "cpu"]) == 0
    assert "2 mask(s) on 2 image(s)" in capsys.readouterr().err
    with ReviewProject.open(folder) as project:
        for (path, status), box_id in boxes.items():
            box = project.box(box_id)
            if status != BoxStatus.ACCEPTED:
                assert box.mask is None
                continue
            assert box.mask_model == f"sam:{sam_dir}" and isinstance(box.mask_score, float)
            assert np.array_equal(
                mask_codec.decode(box.mask), expected_mask(segmenter, folder / path, box.xyxy)
            )
        assert [image.mask_count for image in project.images()] == [1, 1]
    before = masks_of(folder)
    assert main(["segment", str(folder), "--masks", str(sam_dir), "--device", "cpu"]) == 0
    assert "nothing to do" in capsys.readouterr().err
    assert masks_of(folder) == before
    # --boxes all adds the pending boxes' masks, keeps the done ones, never touches rejected ones.
    assert main(["segment", str(folder), "--masks", str(sam_dir), "--device", "cpu", "--boxes", "all"]) == 0
    after = masks_of(folder)
    for (_, status), box_id in boxes.items():
        if status == BoxStatus.ACCEPTED:
            assert after[box_id] == before[box_id]
        assert (after[box_id][0] is None) == (status == BoxStatus.REJECTED)


def test_segment_keeps_hand_made_masks_and_replaces_another_models(box_project, sam_dir, capsys):
    folder, boxes = box_project
    with ReviewProject.open(folder) as project:
        first, second = (boxes[(p, BoxStatus.ACCEPTED)] for p in ("a.png", "b.png"))
        square = np.zeros((300, 451), dtype=bool)
        square[40:60, 40:60] = True
        project.update_box(first, mask=mask_codec.encode(square), mask_score=None, mask_model=None)
        other = np.zeros((512, 512), dtype=bool)
        other[:10, :10] = True
        project.update_box(second, mask=mask_codec.encode(other), mask_score=0.9, mask_model="sam:other")
    assert main(["segment", str(folder), "--masks", str(sam_dir), "--device", "cpu"]) == 0
    with ReviewProject.open(folder) as project:
        assert project.box(first).mask_model is None
        assert np.array_equal(mask_codec.decode(project.box(first).mask), square)
        assert project.box(second).mask_model == f"sam:{sam_dir}"


def test_ctrl_c_keeps_finished_images_and_a_rerun_does_only_the_rest(
    box_project, sam_dir, monkeypatch, capsys
):
    folder, boxes = box_project
    from groundlabel.segmenters.sam import SamSegmenter

    calls = []
    original = SamSegmenter.masks_for_boxes

    def interrupt_on_second(self, embedding, batch):
        calls.append(len(batch))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return original(self, embedding, batch)

    monkeypatch.setattr(SamSegmenter, "masks_for_boxes", interrupt_on_second)
    assert main(["segment", str(folder), "--masks", str(sam_dir), "--device", "cpu"]) == 130
    assert "run the same command again" in capsys.readouterr().err
    done = masks_of(folder)
    assert done[boxes[("a.png", BoxStatus.ACCEPTED)]][0] is not None
    assert done[boxes[("b.png", BoxStatus.ACCEPTED)]][0] is None
    monkeypatch.setattr(SamSegmenter, "masks_for_boxes", original)
    calls.clear()
    monkeypatch.setattr(SamSegmenter, "embed", _counting(SamSegmenter.embed, calls))
    assert main(["segment", str(folder), "--masks", str(sam_dir), "--device", "cpu"]) == 0
    assert calls == ["embed"]  # only b.png was left
    again = masks_of(folder)
    assert again[boxes[("a.png", BoxStatus.ACCEPTED)]] == done[boxes[("a.png", BoxStatus.ACCEPTED)]]
    assert again[boxes[("b.png", BoxStatus.ACCEPTED)]][0] is not None


def _counting(function, calls):
    def wrapper(*args, **kwargs):
        calls.append("embed")
        return function(*args, **kwargs)

    return wrapper


def test_segment_without_a_project_folder_is_one_line(tmp_path, capsys):
    assert main(["segment", str(tmp_path / "nope")]) == 2
    assert "not a folder" in capsys.readouterr().err


def test_detect_into_project_with_masks_masks_the_new_boxes(family_model, sam_dir, tmp_path, capsys):
    folder = tmp_path / "project"
    folder.mkdir()
    shutil.copy(PHOTOS / "chelsea.png", folder / "a.png")
    code = main([
        "detect", str(folder), "--into-project", "--labels", "cat", "--model", str(family_model("owlv2")),
        "--device", "cpu", "--box-threshold", "0.0", "--max-detections", "2", "--masks", str(sam_dir),
    ])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    with ReviewProject.open(folder) as project:
        boxes = [b for image in project.images() for b in project.boxes(image.id)]
    assert len(boxes) == 2
    assert all(b.mask is not None and b.mask_model == f"sam:{sam_dir}" for b in boxes)
