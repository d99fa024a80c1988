"""The reviewer's mask edits without Qt: point edits as undoable commands, brush strokes, the
mask fill, and the mask jobs against a real (tiny random) SAM and a real project."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from groundlabel.desktop import mask_jobs
from groundlabel.desktop.embedding_cache import EmbeddingCache
from groundlabel.desktop.mask_edits import PointEdit, PromptPoint, PromptPoints, apply_stroke, stroke_mask
from groundlabel.desktop.mask_item import fill_rgba
from PIL import Image

from groundlabel import masks
from groundlabel.project import MaskValue, ReviewProject, UndoStack
from groundlabel.segmenters import load_segmenter


@pytest.fixture(scope="module")
def segmenter(sam_dir):
    return load_segmenter(str(sam_dir), device="cpu")


@pytest.fixture
def project(tmp_path: Path):
    rng = np.random.default_rng(1)
    Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(tmp_path / "a.png")
    with ReviewProject.open(tmp_path) as project:
        project.ensure_image_info(project.images()[0].id, with_hash=False)
        yield project


def _value(x0: int, x1: int) -> MaskValue:
    array = np.zeros((48, 64), dtype=bool)
    array[5:30, x0:x1] = True
    return MaskValue(masks.encode(array), 0.5, "sam:test")


def test_point_edits_undo_and_redo_the_mask_and_the_points_together(project):
    image = project.images()[0]
    cat = project.insert_class("cat")
    box = project.insert_box(image.id, cat.id, (4, 4, 40, 40))
    store, stack = PromptPoints(), UndoStack(project)
    p1, p2 = PromptPoint(10, 10, True), PromptPoint(30, 20, False)
    stack.push(PointEdit(box.id, _value(5, 20), store, (), (p1,)))
    stack.push(PointEdit(box.id, _value(5, 35), store, (p1,), (p1, p2)))
    assert store.get(box.id) == (p1, p2) and masks.area(project.box(box.id).mask) == 25 * 30
    stack.undo()
    assert store.get(box.id) == (p1,) and masks.area(project.box(box.id).mask) == 25 * 15
    stack.undo()
    assert store.get(box.id) == () and project.box(box.id).mask is None
    assert store.boxes() == []
    stack.redo()
    stack.redo()
    assert store.get(box.id) == (p1, p2) and project.box(box.id).mask_model == "sam:test"
    assert PointEdit(box.id, _value(1, 2), store, (p1,), (p1, p2)).description == "negative point on the mask"
    assert PromptPoint(0, 0, False).label == 0 and PromptPoint(0, 0).label == 1


def test_a_stroke_covers_a_round_brush_along_its_path_and_the_eraser_clears_it():
    stroke = stroke_mask((40, 60), [(10, 20), (50, 20)], radius=3)
    assert stroke[20, 10] and stroke[20, 30] and stroke[20, 50] and stroke[23, 30]
    assert not stroke[25, 30] and not stroke[20, 55]
    dot = stroke_mask((40, 60), [(5, 5)], radius=2)
    assert dot[5, 5] and dot[7, 5] and not dot[8, 5]
    painted = apply_stroke(None, stroke, erase=False)
    assert np.array_equal(painted, stroke)
    erased = apply_stroke(painted, stroke_mask((40, 60), [(30, 10), (30, 30)], radius=2), erase=True)
    assert not erased[20, 30] and erased[20, 10] and erased.sum() < painted.sum()


def test_the_fill_is_the_mask_crop_in_the_class_colour():
    mask = np.zeros((20, 30), dtype=bool)
    mask[4:9, 10:25] = True
    rgba, x0, y0 = fill_rgba(mask, (200, 10, 20), alpha=90)
    assert (x0, y0) == (10, 4) and rgba.shape == (5, 15, 4)
    assert (rgba[..., 3] == 90).all() and tuple(rgba[0, 0, :3]) == (200, 10, 20)
    empty, _, _ = fill_rgba(np.zeros((3, 3), dtype=bool), (1, 2, 3))
    assert empty.size == 0


def test_mask_jobs_reuse_one_embedding_and_match_the_segmenter(segmenter, project):
    path = project.image_file(project.images()[0].id)
    cache: EmbeddingCache = EmbeddingCache(capacity=2)
    key = mask_jobs.embedding_key(segmenter, path)
    assert key == mask_jobs.embedding_key(segmenter, path)  # the same file, the same key
    boxes = [(1, (4.0, 4.0, 40.0, 40.0)), (2, (20.0, 10.0, 60.0, 45.0))]
    values = mask_jobs.refine_images(segmenter, cache, {key: (path, boxes)})
    assert len(cache) == 1 and cache.misses == 1
    embedding = cache.get(key)
    direct = segmenter.masks_for_boxes(
        segmenter.embed(Image.open(path).convert("RGB")), [b for _, b in boxes]
    )
    for (box_id, _), proposal in zip(boxes, direct, strict=True):
        assert np.array_equal(masks.decode(values[box_id].mask), proposal.mask)
        assert values[box_id].score == pytest.approx(proposal.score)
        assert values[box_id].model == segmenter.model_record
    points = (PromptPoint(10, 10), PromptPoint(35, 30, False))
    value = mask_jobs.prompt_mask(segmenter, embedding, boxes[0][1], points)
    expected = segmenter.mask_for_prompt(embedding, boxes[0][1], [(10, 10), (35, 30)], [1, 0])
    assert np.array_equal(masks.decode(value.mask), expected.mask)
    # A rewritten file is another image: a new key, so no stale embedding.
    Image.new("RGB", (64, 48), "white").save(path)
    assert mask_jobs.embedding_key(segmenter, path) != key
