"""Per-class thresholds reaching detection: detect --into-project, the prediction key, auto-accept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from groundlabel.class_thresholds import ClassThresholds, ClassThresholdsError
from groundlabel.cli import main
from groundlabel.detector import DetectionSettings
from groundlabel.labels import LabelSet
from groundlabel.project import BoxStatus, RejectBoxes, ReviewProject
from groundlabel.project.predicting import predict_into_project
from groundlabel.project.thresholds import (
    CALIBRATION_KEY,
    save_thresholds,
    set_auto_accept_precision,
)

LABELS = LabelSet.parse("cat, person")
GLOBAL = 0.9


def reference(tiny_detector, folder: Path) -> dict[str, list[tuple[str, float]]]:
    """Every box the model gives at threshold 0, by image name."""
    results = tiny_detector.detect(
        sorted(folder.glob("*.png")), LABELS, box_threshold=0.0, text_threshold=0.0
    )
    return {Path(r.source).name: list(zip(r.labels, r.scores, strict=True)) for r in results}


def cat_cut(everything: dict[str, list[tuple[str, float]]]) -> float:
    """A cat threshold between two real scores, well below the global one."""
    cats = sorted(s for boxes in everything.values() for name, s in boxes if name == "cat" and s < GLOBAL)
    middle = len(cats) // 2
    return round((cats[middle - 1] + cats[middle]) / 2, 6)


def recorded(project: ReviewProject) -> dict[str, list[tuple[str, float]]]:
    names = {c.id: c.name for c in project.classes()}
    return {
        image.path: sorted((names[b.class_id], b.score) for b in project.boxes(image.id))
        for image in project.images()
    }


def test_thresholds_cut_each_class_and_change_the_prediction_key(tiny_detector, photo_dir) -> None:
    everything = reference(tiny_detector, photo_dir)
    cut = cat_cut(everything)
    settings = DetectionSettings(GLOBAL, 0.0)
    with ReviewProject.open(photo_dir) as project:
        first = predict_into_project(project, tiny_detector, LABELS, settings)
        assert first.predicted == 2
        assert all(s > GLOBAL for boxes in recorded(project).values() for _, s in boxes)
        save_thresholds(project, ClassThresholds({"cat": cut, "person": None}))
        second = predict_into_project(project, tiny_detector, LABELS, settings)
        assert second.predicted == 2 and second.skipped == 0  # new thresholds: predicted again
        expected = {
            name: sorted((c, s) for c, s in boxes if (s >= cut if c == "cat" else s > GLOBAL))
            for name, boxes in everything.items()
        }
        got = recorded(project)
        assert {k: [c for c, _ in v] for k, v in got.items()} == {
            k: [c for c, _ in v] for k, v in expected.items()
        }
        for name in got:
            assert [s for _, s in got[name]] == pytest.approx([s for _, s in expected[name]], abs=1e-6)
        assert any(c == "cat" and s < GLOBAL for boxes in got.values() for c, s in boxes)
        assert predict_into_project(project, tiny_detector, LABELS, settings).skipped == 2
        save_thresholds(project, ClassThresholds({"cat": cut}, enabled=False))
        assert predict_into_project(project, tiny_detector, LABELS, settings).predicted == 2
        assert all(s > GLOBAL for boxes in recorded(project).values() for _, s in boxes)


def test_auto_accept_marks_filters_and_undoes(tiny_detector, photo_dir) -> None:
    everything = reference(tiny_detector, photo_dir)
    cut = cat_cut(everything)
    settings = DetectionSettings(GLOBAL, 0.0)
    with ReviewProject.open(photo_dir) as project:
        save_thresholds(project, ClassThresholds({"cat": cut}))
        curve = [[cut, 0.97, 0.8], [cut / 2, 0.5, 1.0]]
        project.set_setting(CALIBRATION_KEY, {"method": "max-f1", "classes": {"cat": {"curve": curve}}})
        predict_into_project(project, tiny_detector, LABELS, settings)
        assert not project.images(auto_accepted=True)  # off by default
        set_auto_accept_precision(project, 0.95)
        report = predict_into_project(project, tiny_detector, LABELS, settings)
        boxes = [b for image in project.images() for b in project.boxes(image.id)]
        auto = [b for b in boxes if b.auto_accepted]
        assert report.auto_accepted == len(auto) > 0
        assert all(b.status is BoxStatus.ACCEPTED and b.score >= cut for b in auto)
        assert all(b.status is BoxStatus.PENDING for b in boxes if not b.auto_accepted)
        flagged = project.images(auto_accepted=True)
        assert {i.id for i in flagged} == {b.image_id for b in auto}
        project.execute(RejectBoxes([b.id for b in auto]))
        assert not project.images(auto_accepted=True)
        project.history.undo()
        assert {i.id for i in project.images(auto_accepted=True)} == {b.image_id for b in auto}
        # Re-predicting replaces the auto-accepted boxes rather than doubling them.
        predict_into_project(project, tiny_detector, LABELS, settings, force=True)
        assert len([b for i in project.images() for b in project.boxes(i.id)]) == len(boxes)
        # A measured precision below the chosen one never auto-accepts.
        set_auto_accept_precision(project, 0.99)
        predict_into_project(project, tiny_detector, LABELS, settings)
        assert not project.images(auto_accepted=True)


def test_cli_detect_applies_the_calibrated_thresholds(photo_dir, tiny_model_dir, capsys) -> None:
    args = ["detect", str(photo_dir), "--labels", "cat, person", "--model", str(tiny_model_dir), "--device",
            "cpu", "--box-threshold", str(GLOBAL), "--text-threshold", "0", "--into-project"]  # fmt: skip
    assert main(args) == 0
    with ReviewProject.open(photo_dir) as project:
        before = sum(len(project.boxes(i.id)) for i in project.images())
        save_thresholds(project, ClassThresholds({"cat": 0.0, "person": 0.0}))
    capsys.readouterr()
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "per-class thresholds apply (2 class(es)" in err and "2 image(s) predicted" in err
    with ReviewProject.open(photo_dir) as project:
        assert sum(len(project.boxes(i.id)) for i in project.images()) > before


def test_thresholds_file_errors_name_the_problem(tmp_path: Path) -> None:
    bad = tmp_path / "t.json"
    bad.write_text(json.dumps({"cat": 1.5}))
    with pytest.raises(ClassThresholdsError, match=r"threshold of class 'cat' is 1.5"):
        ClassThresholds.load_json(bad)
    bad.write_text("[1, 2]")
    with pytest.raises(ClassThresholdsError, match="JSON object mapping class names"):
        ClassThresholds.load_json(bad)
    with pytest.raises(ClassThresholdsError, match="no such thresholds file"):
        ClassThresholds.load_json(tmp_path / "missing.json")
    assert ClassThresholds({"a": None}).fingerprint() == ""
    assert ClassThresholds({"a": 0.25, "b": None}).fingerprint() == "class=a:0.25"


def test_a_version_1_project_gains_the_auto_accepted_flag(tmp_path: Path) -> None:
    import sqlite3

    from groundlabel.project import schema

    folder = tmp_path / "old"
    (folder / ".groundlabel").mkdir(parents=True)
    (folder / "a.png").write_bytes(b"")  # only the name is scanned
    connection = sqlite3.connect(folder / ".groundlabel" / "project.db")
    connection.executescript(schema.MIGRATIONS[0])
    connection.execute("INSERT INTO images(path) VALUES ('a.png')")
    connection.execute("INSERT INTO classes(name, colour, position) VALUES ('cat', '#000000', 0)")
    connection.execute(
        "INSERT INTO boxes(image_id, class_id, x0, y0, x1, y1, score, source, status) "
        "VALUES (1, 1, 0, 0, 5, 5, 0.8, 'model', 'accepted')"
    )
    connection.execute("PRAGMA user_version = 1")
    connection.commit()
    connection.close()
    with ReviewProject.open(folder) as project:
        (box,) = project.boxes(project.images()[0].id)
        assert box.status is BoxStatus.ACCEPTED and box.auto_accepted is False
        assert project.images(auto_accepted=True) == []
