"""Masks in the project: schema v3 migration, storage, the undoable SetMasks, accept/reject."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from groundlabel import masks
from groundlabel.detector import DetectionResult, DetectionSettings
from groundlabel.labels import LabelSet
from groundlabel.project import (
    AcceptBoxes,
    BoxSource,
    BoxStatus,
    DeleteBoxes,
    MaskValue,
    ProjectError,
    RejectBoxes,
    ReviewProject,
    SetMasks,
)
from groundlabel.project.schema import SCHEMA_VERSION

V2_SQL = Path(__file__).parent / "data" / "project_v2.sql"


def _mask(width: int, height: int, x0: int, y0: int, x1: int, y1: int) -> masks.RLE:
    array = np.zeros((height, width), dtype=bool)
    array[y0:y1, x0:x1] = True
    return masks.encode(array)


def _v2_folder(tmp_path: Path) -> Path:
    """A folder holding the project that groundlabel 3a42f32 (schema v2) wrote."""
    for name, size in [("a.png", (40, 30)), ("b.png", (32, 24)), ("c.png", (16, 16))]:
        Image.new("RGB", size).save(tmp_path / name)
    (tmp_path / ".groundlabel").mkdir()
    connection = sqlite3.connect(tmp_path / ".groundlabel" / "project.db")
    connection.executescript(V2_SQL.read_text(encoding="utf-8"))
    connection.close()
    return tmp_path


# The images columns v2 had (v4 added the video ones after them).
V2_IMAGE_COLUMNS = (
    "id, path, width, height, file_size, file_mtime_ns, content_hash, state, prediction_key, missing, changed"
)


def _raw_rows(db: Path, sql: str) -> list[tuple]:
    connection = sqlite3.connect(db)
    try:
        return sorted(connection.execute(sql).fetchall())
    finally:
        connection.close()


def test_a_v2_project_from_the_previous_code_opens_with_nothing_lost_and_no_masks(tmp_path: Path) -> None:
    folder = _v2_folder(tmp_path)
    db = folder / ".groundlabel" / "project.db"
    assert _raw_rows(db, "PRAGMA user_version") == [(2,)]
    box_columns = (
        "id, image_id, class_id, x0, y0, x1, y1, score, source, status, model, box_threshold, "
        "text_threshold, auto_accepted"
    )
    before = {
        "images": _raw_rows(db, f"SELECT {V2_IMAGE_COLUMNS} FROM images"),
        "classes": _raw_rows(db, "SELECT * FROM classes"),
        "boxes": _raw_rows(db, f"SELECT {box_columns} FROM boxes"),
        "settings": _raw_rows(db, "SELECT * FROM settings"),
    }
    assert len(before["boxes"]) == 5 and len(before["images"]) == 4

    with ReviewProject.open(folder) as project:
        assert _raw_rows(db, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
        after = {
            "images": _raw_rows(db, f"SELECT {V2_IMAGE_COLUMNS} FROM images"),
            "classes": _raw_rows(db, "SELECT * FROM classes"),
            "boxes": _raw_rows(db, f"SELECT {box_columns} FROM boxes"),
            "settings": _raw_rows(db, "SELECT * FROM settings"),
        }
        assert after == before
        boxes = [box for image in project.images(include_missing=True) for box in project.boxes(image.id)]
        assert len(boxes) == 5
        assert all(b.mask is None and b.mask_score is None and b.mask_model is None for b in boxes)
        assert all(image.mask_count == 0 for image in project.images(include_missing=True))
        assert project.class_by_name("cat").aliases == ("kitty", "tabby cat")
        assert project.get_setting("class_thresholds") == {"cat": 0.45}
        assert [b.auto_accepted for b in boxes].count(True) == 1
        # The migrated project takes masks, and ids are never reused after the migration.
        image = project.image_by_path("a.png")
        new = project.insert_box(
            image.id, project.class_by_name("dog").id, (1, 1, 9, 9), mask=_mask(40, 30, 1, 1, 9, 9)
        )
        assert new.id == 6 and masks.area(new.mask) == 64
        assert project.image(image.id).mask_count == 1


def test_set_clear_and_rerun_masks_undo_and_redo_exactly(tmp_path: Path) -> None:
    Image.new("RGB", (40, 30)).save(tmp_path / "a.png")
    with ReviewProject.open(tmp_path) as project:
        image = project.ensure_image_info(project.images()[0].id, with_hash=False)
        cat = project.insert_class("cat")
        first = project.insert_box(image.id, cat.id, (2, 2, 20, 20), source=BoxSource.MODEL,
                                   status=BoxStatus.PENDING, score=0.6, mask=_mask(40, 30, 2, 2, 20, 20),
                                   mask_score=0.91, mask_model="facebook/sam-vit-base")  # fmt: skip
        second = project.insert_box(image.id, cat.id, (10, 5, 30, 25))
        start = project.dump_state()
        assert project.image(image.id).mask_count == 1

        rerun = MaskValue(_mask(40, 30, 3, 3, 19, 19), 0.8, "facebook/sam2.1-hiera-tiny")
        drawn = MaskValue(_mask(40, 30, 10, 5, 30, 25), None, None)
        project.execute(SetMasks({first.id: rerun, second.id: drawn}))
        set_state = project.dump_state()
        assert project.box(first.id).mask == masks.normalise(rerun.mask)
        assert project.box(first.id).mask_score == 0.8
        assert project.box(first.id).mask_model == "facebook/sam2.1-hiera-tiny"
        assert project.image(image.id).mask_count == 2

        project.execute(SetMasks({first.id: None}))
        assert project.box(first.id).mask is None and project.box(first.id).mask_score is None
        assert project.box(first.id).mask_model is None
        assert project.image(image.id).mask_count == 1
        assert project.history.undo_description == "clear 1 mask(s)"

        project.history.undo()
        assert project.dump_state() == set_state
        project.history.undo()
        assert project.dump_state() == start
        assert project.box(second.id).mask is None
        project.history.redo()
        assert project.dump_state() == set_state
        project.history.redo()
        assert project.box(first.id).mask is None


def test_accept_reject_delete_act_on_box_and_mask_together(tmp_path: Path) -> None:
    Image.new("RGB", (40, 30)).save(tmp_path / "a.png")
    with ReviewProject.open(tmp_path) as project:
        image = project.ensure_image_info(project.images()[0].id, with_hash=False)
        cat = project.insert_class("cat")
        mask = _mask(40, 30, 5, 5, 15, 25)
        box = project.insert_box(image.id, cat.id, (5, 5, 15, 25), source=BoxSource.MODEL,
                                 status=BoxStatus.PENDING, score=0.5, mask=mask, mask_score=0.7,
                                 mask_model="sam")  # fmt: skip
        project.execute(AcceptBoxes([box.id]))
        accepted = project.box(box.id)
        assert accepted.status is BoxStatus.ACCEPTED and accepted.exported and accepted.mask == mask
        project.execute(RejectBoxes([box.id]))
        rejected = project.box(box.id)
        assert rejected.status is BoxStatus.REJECTED and not rejected.exported and rejected.mask == mask
        project.history.undo()
        project.history.undo()
        assert project.box(box.id).status is BoxStatus.PENDING and project.box(box.id).mask == mask
        project.execute(DeleteBoxes([box.id]))
        assert project.image(image.id).mask_count == 0
        project.history.undo()
        restored = project.box(box.id)
        assert (restored.mask, restored.mask_score, restored.mask_model) == (mask, 0.7, "sam")


def test_record_prediction_stores_the_results_masks_and_replaces_them_on_a_new_run(tmp_path: Path) -> None:
    Image.new("RGB", (40, 30)).save(tmp_path / "a.png")
    labels = LabelSet.parse("cat, dog")
    with ReviewProject.open(tmp_path) as project:
        image = project.images()[0]
        mask = _mask(40, 30, 1, 2, 11, 12)
        result = DetectionResult(
            "a.png", (40, 30), boxes=[[1, 2, 11, 12], [20, 5, 35, 25]], scores=[0.9, 0.4],
            labels=["cat", "dog"], class_ids=[0, 1], masks=[mask, None], mask_scores=[0.88, None],
        )  # fmt: skip
        stored = project.record_prediction(image.id, result, "facebook/sam3", labels, DetectionSettings())
        by_label = {project.class_record(b.class_id).name: b for b in stored}
        assert by_label["cat"].mask == mask and by_label["cat"].mask_score == pytest.approx(0.88)
        assert by_label["cat"].mask_model == "facebook/sam3"
        assert by_label["dog"].mask is None and by_label["dog"].mask_model is None
        assert project.image(image.id).mask_count == 1

        refined = DetectionResult("a.png", (40, 30), boxes=[[1, 2, 11, 12]], scores=[0.9], labels=["cat"],
                                  class_ids=[0], masks=[_mask(40, 30, 2, 2, 11, 12)], mask_scores=[0.5])  # fmt: skip
        again = project.record_prediction(image.id, refined, "gdino", labels, DetectionSettings(),
                                          mask_model="facebook/sam-vit-base")  # fmt: skip
        assert len(again) == 1 and again[0].mask_model == "facebook/sam-vit-base"
        assert masks.area(again[0].mask) == 90

        wrong = DetectionResult("a.png", (40, 30), boxes=[[1, 2, 11, 12]], scores=[0.9], labels=["cat"],
                                class_ids=[0], masks=[_mask(20, 10, 0, 0, 5, 5)], mask_scores=[0.5])  # fmt: skip
        with pytest.raises(ProjectError, match="20x10 pixels but the image is 40x30"):
            project.record_prediction(image.id, wrong, "gdino", labels, DetectionSettings())
        assert [b.mask for b in project.boxes(image.id)] == [again[0].mask]  # nothing lost


def test_a_mask_of_another_size_is_refused_with_one_clear_error(tmp_path: Path) -> None:
    Image.new("RGB", (40, 30)).save(tmp_path / "a.png")
    with ReviewProject.open(tmp_path) as project:
        image = project.ensure_image_info(project.images()[0].id, with_hash=False)
        box = project.insert_box(image.id, project.insert_class("cat").id, (0, 0, 5, 5))
        with pytest.raises(ProjectError, match="mask is 30x40 pixels but the image is 40x30"):
            project.execute(SetMasks({box.id: MaskValue(_mask(30, 40, 0, 0, 5, 5))}))
        assert project.box(box.id).mask is None and not project.history.can_undo


rects = st.tuples(st.integers(0, 15), st.integers(0, 11), st.integers(1, 16), st.integers(1, 12))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(st.none(), rects), min_size=1, max_size=6))
def test_any_sequence_of_mask_edits_undoes_back_to_the_start(tmp_path: Path, edits: list) -> None:
    folder = tmp_path / f"p{len(list(tmp_path.iterdir()))}"
    folder.mkdir()
    Image.new("RGB", (16, 12)).save(folder / "a.png")
    with ReviewProject.open(folder) as project:
        image = project.ensure_image_info(project.images()[0].id, with_hash=False)
        box = project.insert_box(image.id, project.insert_class("cat").id, (0, 0, 4, 4))
        start = project.dump_state()
        states = [start]
        for i, edit in enumerate(edits):
            value = None if edit is None else MaskValue(_mask(16, 12, *edit), i / 10, f"m{i}")
            project.execute(SetMasks({box.id: value}))
            states.append(project.dump_state())
        for expected in reversed(states[:-1]):
            project.history.undo()
            assert project.dump_state() == expected
        for expected in states[1:]:
            project.history.redo()
            assert project.dump_state() == expected
