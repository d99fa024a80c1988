"""The review project store: opening, queries, settings, predictions, threads."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from PIL import Image

from groundlabel.images import load_image
from groundlabel.project import (
    AddBox,
    AddClass,
    BoxSource,
    BoxStatus,
    ImageState,
    ProjectError,
    ReviewProject,
    SetImageState,
    prediction_key,
)
from groundlabel.project.schema import SCHEMA_VERSION


def _make_images(folder: Path, count: int, size: tuple[int, int] = (8, 6)) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        Image.new("RGB", size, (i, 0, 0)).save(folder / f"img{i:03d}.png")


def test_open_creates_database_and_finds_images_without_reading_them(tmp_path: Path) -> None:
    _make_images(tmp_path / "sub", 3)
    (tmp_path / "notes.txt").write_text("not an image")
    with ReviewProject.open(tmp_path) as project:
        images = project.images()
        assert [i.path for i in images] == ["sub/img000.png", "sub/img001.png", "sub/img002.png"]
        assert all(i.state is ImageState.NEW and i.size is None and i.content_hash is None for i in images)
    db = tmp_path / ".groundlabel" / "project.db"
    assert db.is_file()
    connection = sqlite3.connect(db)
    assert connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    connection.close()


def test_open_refuses_a_database_from_a_newer_version(tmp_path: Path) -> None:
    ReviewProject.open(tmp_path).close()
    connection = sqlite3.connect(tmp_path / ".groundlabel" / "project.db")
    connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    connection.close()
    with pytest.raises(ProjectError, match="newer"):
        ReviewProject.open(tmp_path)


def test_garbage_database_is_a_user_error_not_a_traceback(tmp_path: Path) -> None:
    (tmp_path / ".groundlabel").mkdir()
    (tmp_path / ".groundlabel" / "project.db").write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(ProjectError, match=r"project\.db"):
        ReviewProject.open(tmp_path)


def test_ensure_image_info_reads_size_as_shown_and_notices_a_changed_file(tmp_path: Path) -> None:
    image = Image.new("RGB", (40, 20), "red")
    exif = image.getexif()
    exif[0x0112] = 6  # rotate 90: shown as 20 x 40
    image.save(tmp_path / "rotated.jpg", exif=exif)
    with ReviewProject.open(tmp_path) as project:
        record = project.ensure_image_info(project.images()[0].id)
        assert record.size == (20, 40)
        assert record.content_hash and not record.changed
        Image.new("RGB", (30, 30), "blue").save(tmp_path / "rotated.jpg")
        changed = project.ensure_image_info(record.id)
        assert changed.size == (30, 30) and changed.changed and changed.content_hash != record.content_hash


def test_rescan_flags_missing_images_and_keeps_their_boxes(tmp_path: Path) -> None:
    _make_images(tmp_path, 2)
    with ReviewProject.open(tmp_path) as project:
        cls = project.execute(AddClass("cat")).class_id
        first = project.images()[0]
        project.execute(AddBox(first.id, cls, (0, 0, 2, 2)))
    (tmp_path / first.path).unlink()
    with ReviewProject.open(tmp_path) as project:
        assert [i.path for i in project.images()] == ["img001.png"]
        gone = project.images(include_missing=True)[0]
        assert gone.missing and gone.accepted_count == 1


def test_queries_filter_by_state_and_class(tmp_path: Path) -> None:
    _make_images(tmp_path, 3)
    with ReviewProject.open(tmp_path) as project:
        cat = project.execute(AddClass("cat")).class_id
        dog = project.execute(AddClass("dog", ["puppy"])).class_id
        a, b, c = project.images()
        project.execute(AddBox(a.id, cat, (0, 0, 1, 1)))
        project.execute(AddBox(b.id, dog, (0, 0, 1, 1)))
        project.execute(SetImageState(c.id, ImageState.REVIEWED_EMPTY))
        assert [i.id for i in project.images(class_id=cat)] == [a.id]
        assert [i.id for i in project.images(state=ImageState.REVIEWED_EMPTY)] == [c.id]
        assert [i.id for i in project.images(state=[ImageState.NEW, ImageState.REVIEWED_EMPTY])] == [
            a.id,
            b.id,
            c.id,
        ]
        assert project.state_counts()[ImageState.NEW] == 2
        assert project.images()[0].accepted_count == 1
        assert project.label_set().names == ["cat", "dog"]
        assert project.label_set().classes[1].phrases == ("puppy",)
        assert all(c.colour.startswith("#") for c in project.classes())


def test_settings_remember_the_model_across_reopen(tmp_path: Path) -> None:
    with ReviewProject.open(tmp_path) as project:
        project.model = "some/model"
        project.set_setting("box_threshold", 0.3)
    with ReviewProject.open(tmp_path) as project:
        assert project.model == "some/model"
        assert project.get_setting("box_threshold") == 0.3
        assert project.get_setting("absent", "fallback") == "fallback"


def test_record_prediction_from_a_worker_thread_with_the_tiny_model(tiny_detector, photo_dir: Path) -> None:
    from groundlabel.detector import DetectionSettings
    from groundlabel.labels import LabelSet

    labels = LabelSet.parse("cat, person")
    settings = DetectionSettings(box_threshold=0.0, text_threshold=0.0, max_detections=5)
    changes = []
    with ReviewProject.open(photo_dir) as project:
        project.subscribe(changes.append)
        images = project.images()
        hand_class = project.execute(AddClass("cat")).class_id
        project.execute(AddBox(images[0].id, hand_class, (1, 1, 5, 5)))
        key = prediction_key(tiny_detector.model_name, labels, settings)

        def worker() -> None:
            for image in images:
                result = tiny_detector.detect_image(load_image(project.image_file(image)), labels, settings)
                project.record_prediction(image.id, result, tiny_detector.model_name, labels, settings)

        thread = threading.Thread(target=worker)
        thread.start()
        thread.join()
        first = project.image(images[0].id)
        assert first.state is ImageState.PREDICTED and first.size == (512, 512)
        assert not project.needs_prediction(first.id, key)
        boxes = project.boxes(first.id)
        model_boxes = [b for b in boxes if b.source is BoxSource.MODEL]
        assert len(model_boxes) == 5 and all(
            b.status is BoxStatus.PENDING and b.score is not None for b in model_boxes
        )
        assert model_boxes[0].model == tiny_detector.model_name and model_boxes[0].box_threshold == 0.0
        assert any(b.source is BoxSource.HAND for b in boxes)  # hand boxes survive predictions
        assert [c.name for c in project.classes()] == ["cat", "person"]
        assert any("boxes" in change.kinds and first.id in change.image_ids for change in changes)
        # predicting again replaces the pending model boxes instead of piling them up
        result = tiny_detector.detect_image(load_image(project.image_file(first)), labels, settings)
        project.record_prediction(first.id, result, tiny_detector.model_name, labels, settings)
        assert len(project.boxes(first.id)) == 6


def test_opening_a_large_folder_never_decodes_or_hashes_an_image(tmp_path: Path, monkeypatch) -> None:
    """Opening is names-only (timing lives in benchmarks/project_open.py)."""
    _make_images(tmp_path / "a", 1)
    for i in range(500):
        (tmp_path / "a" / f"copy{i:03d}.png").write_bytes((tmp_path / "a" / "img000.png").read_bytes())

    def forbidden(*args, **kwargs):
        raise AssertionError("an image was read while opening the project")

    monkeypatch.setattr(Image, "open", forbidden)
    monkeypatch.setattr("groundlabel.project.store.file_digest", forbidden)
    monkeypatch.setattr("groundlabel.project.store.file_signature", forbidden)
    with ReviewProject.open(tmp_path) as project:
        images = project.images()
        assert len(images) == 501 and all(i.size is None for i in images)
    with ReviewProject.open(tmp_path) as project:
        assert len(project.images()) == 501


def test_a_project_locked_by_another_writer_is_a_clear_error_and_loses_nothing(
    tmp_path: Path, monkeypatch
) -> None:
    _make_images(tmp_path, 1)
    with ReviewProject.open(tmp_path) as project:
        project.insert_class("cat")
    monkeypatch.setattr(ReviewProject, "busy_timeout_s", 0.2)
    other = sqlite3.connect(tmp_path / ".groundlabel" / "project.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with ReviewProject.open(tmp_path) as project:
            with pytest.raises(ProjectError, match="cannot save the change"):
                project.execute(AddClass("dog"))
            assert not project.history.can_undo
    finally:
        other.execute("ROLLBACK")
        other.close()
    with ReviewProject.open(tmp_path) as project:
        assert [c.name for c in project.classes()] == ["cat"]
        project.execute(AddClass("dog"))  # and it works once the other writer is done
        with pytest.raises(ProjectError, match="#rrggbb"):
            project.execute(AddClass("bird", colour="red"))


def test_a_worker_thread_writes_while_the_ui_thread_edits_and_reads(tmp_path: Path) -> None:
    """The desktop's pattern: predictions from a worker, commands and queries on the UI thread."""
    _make_images(tmp_path, 4)
    errors: list[BaseException] = []
    with ReviewProject.open(tmp_path) as project:
        cls = project.insert_class("cat").id
        images = project.images()

        def worker() -> None:
            try:
                for i in range(150):
                    with project.batch():
                        project.insert_box(images[i % 2].id, cls, (0, 0, 1, 1), source=BoxSource.MODEL,
                                           status=BoxStatus.PENDING, score=0.5)  # fmt: skip
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        thread = threading.Thread(target=worker)
        thread.start()
        for i in range(150):
            project.execute(AddBox(images[2 + i % 2].id, cls, (0, 0, 2, 2)))
            assert len(project.images()) == 4
            if i % 3 == 0:
                project.history.undo()
        thread.join()
        assert not errors
        counts = {i.path: (i.pending_count, i.accepted_count) for i in project.images()}
        assert counts["img000.png"] == (75, 0) and counts["img001.png"] == (75, 0)
        assert counts["img002.png"][1] + counts["img003.png"][1] == 100
    with ReviewProject.open(tmp_path) as project:  # and it is all on disk
        assert sum(i.box_count for i in project.images()) == 250


def test_size_only_lookups_do_not_hash_until_asked(tmp_path: Path) -> None:
    _make_images(tmp_path, 1, size=(9, 7))
    with ReviewProject.open(tmp_path) as project:
        image = project.images()[0]
        assert project.ensure_image_info(image.id, with_hash=False).size == (9, 7)
        assert project.image(image.id).content_hash is None
        assert project.ensure_image_info(image.id).content_hash is not None


def test_migrations_run_once_in_order_and_a_failing_one_changes_nothing(tmp_path: Path, monkeypatch) -> None:
    from groundlabel.project import schema

    ReviewProject.open(tmp_path).close()
    db = tmp_path / ".groundlabel" / "project.db"
    monkeypatch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS, "ALTER TABLE images ADD COLUMN note TEXT"])
    monkeypatch.setattr(schema, "SCHEMA_VERSION", len(schema.MIGRATIONS))
    ReviewProject.open(tmp_path).close()
    ReviewProject.open(tmp_path).close()  # already migrated: nothing runs twice
    connection = sqlite3.connect(db)
    assert connection.execute("PRAGMA user_version").fetchone()[0] == len(schema.MIGRATIONS)
    assert "note" in [row[1] for row in connection.execute("PRAGMA table_info(images)")]
    connection.close()

    broken = [*schema.MIGRATIONS, "CREATE TABLE extra (x INTEGER); SELECT * FROM no_such_table"]
    monkeypatch.setattr(schema, "MIGRATIONS", broken)
    monkeypatch.setattr(schema, "SCHEMA_VERSION", len(broken))
    with pytest.raises(ProjectError, match="cannot read the project database"):
        ReviewProject.open(tmp_path)
    connection = sqlite3.connect(db)
    assert connection.execute("PRAGMA user_version").fetchone()[0] == len(broken) - 1
    assert not connection.execute("SELECT name FROM sqlite_master WHERE name = 'extra'").fetchall()
    connection.close()
