"""Per-class thresholds learnt from review decisions whose right answer is known."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from calibration_helpers import add_rule, make_images, reviewed_project, scores

from groundlabel.calibration import calibrate, collect_decisions
from groundlabel.cli import main
from groundlabel.project import BoxStatus, ImageState, ReviewProject
from groundlabel.project.thresholds import load_thresholds


def first_at_or_above(cut: float, count: int = 30) -> float:
    return min(s for s in scores(count) if s >= cut)


def test_everything_below_a_score_rejected_gives_that_score(tmp_path: Path) -> None:
    folder = reviewed_project(tmp_path / "p")
    with ReviewProject.open(folder) as project:
        decisions = collect_decisions(project)
    by_f1 = {c.name: c for c in calibrate(decisions).classes}
    assert by_f1["cat"].threshold == first_at_or_above(0.5)
    assert by_f1["dog"].threshold == first_at_or_above(0.3)
    assert by_f1["cat"].precision == 1.0 and by_f1["dog"].precision == 1.0
    exact = calibrate(decisions, target_precision=1.0).thresholds()
    assert exact["cat"] == first_at_or_above(0.5) and exact["dog"] == first_at_or_above(0.3)
    # A looser target takes a lower threshold, never a higher one.
    loose = calibrate(decisions, target_precision=0.8).thresholds()
    assert loose["cat"] < exact["cat"]


def test_all_accepted_keeps_every_proposal(tmp_path: Path) -> None:
    make_images(tmp_path / "p", 4)
    with ReviewProject.open(tmp_path / "p") as project:
        add_rule(project, "cup", 0.0, count=25)
        result = calibrate(collect_decisions(project)).classes[0]
    assert result.threshold == min(scores(25))
    assert result.rejected == 0 and result.precision == 1.0 and result.recall == 1.0


def test_too_few_decisions_get_no_threshold(tmp_path: Path) -> None:
    folder = reviewed_project(tmp_path / "p")
    with ReviewProject.open(folder) as project:
        bird = {c.name: c for c in calibrate(collect_decisions(project)).classes}["bird"]
        assert bird.threshold is None and bird.decisions == 5
        assert "only 5 decision(s), 20 needed" in bird.note
        # Lowering the bar gives it one.
        assert calibrate(collect_decisions(project), min_decisions=5).thresholds()["bird"] is not None


def test_hand_boxes_are_misses_and_replaced_proposals_confusions(tmp_path: Path) -> None:
    folder = reviewed_project(tmp_path / "p")
    with ReviewProject.open(folder) as project:
        decisions = collect_decisions(project)
    cat = decisions.classes["cat"]
    assert cat.misses == 4  # three drawn beside proposals, one replacing a rejected dog
    assert decisions.confusions == {("dog", "cat"): 1}
    result = {c.name: c for c in calibrate(decisions).classes}["cat"]
    assert result.recall == pytest.approx(cat.accepted / (cat.accepted + 4))
    assert sum(decisions.misses_by_image.values()) == 4


def test_only_reviewed_images_count(tmp_path: Path) -> None:
    make_images(tmp_path / "p", 4)
    with ReviewProject.open(tmp_path / "p") as project:
        add_rule(project, "cup", 0.5, reviewed=False)
        decisions = collect_decisions(project)
    assert decisions.reviewed_images == 0 and decisions.classes["cup"].count == 0


def test_cli_prints_table_saves_in_project_and_writes_json(tmp_path: Path, capsys) -> None:
    folder = reviewed_project(tmp_path / "p")
    out = tmp_path / "thresholds.json"
    assert main(["calibrate", str(folder), "-o", str(out), "--target-precision", "1"]) == 0
    printed = capsys.readouterr()
    assert "threshold" in printed.out and "cat" in printed.out
    assert "bird: no threshold: only 5 decision(s), 20 needed" in printed.out
    assert "confusion: 1 x proposed 'dog', drawn as 'cat'" in printed.out
    written = json.loads(out.read_text())
    assert written == {"cat": first_at_or_above(0.5), "dog": first_at_or_above(0.3), "bird": None}
    with ReviewProject.open(folder) as project:
        assert load_thresholds(project).set() == {"cat": written["cat"], "dog": written["dog"]}


def test_cli_errors_are_one_line(tmp_path: Path, capsys) -> None:
    assert main(["calibrate", str(tmp_path)]) == 2
    assert "has no review project yet" in capsys.readouterr().err
    folder = reviewed_project(tmp_path / "p")
    with pytest.raises(SystemExit):
        main(["calibrate", str(folder), "--target-precision", "2"])
    assert "outside (0, 1]" in capsys.readouterr().err


def test_imported_predictions_with_scores_are_proposals(tmp_path: Path, capsys) -> None:
    """The README's workflow: ``detect -o`` elsewhere, ``import`` here, review, calibrate (issue 18)."""
    folder = tmp_path / "p"
    names = make_images(folder, 6)
    annotations = [
        {"id": i + 1, "image_id": 1 + i % 6, "category_id": 1, "bbox": [2 + i % 10, 2, 20, 28], "score": s}
        for i, s in enumerate(scores(30))
    ]
    coco = {
        "info": {
            "description": "groundlabel detect predictions",
            "model": "IDEA-Research/grounding-dino-tiny",
        },
        "images": [{"id": i + 1, "file_name": n, "width": 64, "height": 48} for i, n in enumerate(names)],
        "categories": [{"id": 1, "name": "cat"}],
        "annotations": annotations,
    }
    predictions = tmp_path / "predictions.json"
    predictions.write_text(json.dumps(coco))
    assert main(["import", str(folder), str(predictions), "--format", "coco"]) == 0
    with ReviewProject.open(folder) as project:
        for image in project.images():
            for box in project.boxes(image.id):
                assert box.model == "IDEA-Research/grounding-dino-tiny"  # from the COCO info
                project.update_box(
                    box.id, status=BoxStatus.ACCEPTED if box.score >= 0.5 else BoxStatus.REJECTED
                )
            project.set_image_state(image.id, ImageState.REVIEWED)
    capsys.readouterr()
    out = tmp_path / "thresholds.json"
    assert main(["calibrate", str(folder), "-o", str(out), "--target-precision", "1"]) == 0
    assert json.loads(out.read_text()) == {"cat": first_at_or_above(0.5)}
    assert "0 decision" not in capsys.readouterr().out
