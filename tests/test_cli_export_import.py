"""The command line on a real folder: detect --into-project, import, edit through the API, export."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_project_helpers import copy_images_only, make_review_folder

from groundlabel.cli import main
from groundlabel.project import AcceptBoxes, BoxSource, BoxStatus, ImageState, ReviewProject, SetImageState


def detect_args(folder: Path, model: Path, *extra: str) -> list[str]:
    return [
        "detect", str(folder), "--labels", "cat, person", "--model", str(model), "--device", "cpu",
        "--box-threshold", "0", "--text-threshold", "0", "--max-detections", "3", *extra,
    ]  # fmt: skip


def test_detect_into_project_then_review_then_export(photo_dir, tiny_model_dir, tmp_path, capsys) -> None:
    assert main(detect_args(photo_dir, tiny_model_dir, "--into-project")) == 0
    with ReviewProject.open(photo_dir) as project:
        images = project.images()
        assert [i.state for i in images] == [ImageState.PREDICTED] * 2
        first_ids = {i.path: [b.id for b in project.boxes(i.id)] for i in images}
        assert all(len(ids) == 3 for ids in first_ids.values())
        assert project.model == str(tiny_model_dir)
    capsys.readouterr()

    assert main(detect_args(photo_dir, tiny_model_dir, "--into-project")) == 0
    err = capsys.readouterr().err
    assert "0 image(s) predicted" in err and "2 already predicted" in err
    with ReviewProject.open(photo_dir) as project:
        assert {i.path: [b.id for b in project.boxes(i.id)] for i in project.images()} == first_ids

    # A person reviews one image through the API: accepts two boxes, marks it reviewed.
    with ReviewProject.open(photo_dir) as project:
        image = project.image_by_path("astronaut.png")
        boxes = project.boxes(image.id)
        project.execute(AcceptBoxes([b.id for b in boxes[:2]]))
        project.execute(SetImageState(image.id, ImageState.REVIEWED))

    # New thresholds: predicted again; the accepted boxes stay, the pending one is replaced.
    assert main(detect_args(photo_dir, tiny_model_dir, "--into-project", "--max-detections", "1")) == 0
    with ReviewProject.open(photo_dir) as project:
        boxes = project.boxes(project.image_by_path("astronaut.png").id)
        assert sorted(b.status for b in boxes) == [BoxStatus.ACCEPTED, BoxStatus.ACCEPTED, BoxStatus.PENDING]
        assert project.image_by_path("astronaut.png").state is ImageState.REVIEWED

    for name in ("coco", "voc", "yolo", "labelstudio"):
        out = tmp_path / f"out-{name}"
        assert main(["export", str(photo_dir), "--format", name, "-o", str(out)]) == 0
    document = json.loads((tmp_path / "out-coco" / "annotations" / "instances_train.json").read_text())
    assert [i["file_name"] for i in document["images"]] == ["astronaut.png"]
    assert len(document["annotations"]) == 2
    assert len((tmp_path / "out-yolo" / "labels" / "train" / "astronaut.txt").read_text().splitlines()) == 2
    assert (tmp_path / "out-voc" / "Annotations" / "astronaut.xml").is_file()
    tasks = json.loads((tmp_path / "out-labelstudio" / "tasks.json").read_text())
    assert len(tasks[0]["annotations"][0]["result"]) == 2
    assert "1 image(s)" in capsys.readouterr().err


def test_predictions_made_elsewhere_are_imported_pending_for_review(
    photo_dir, tiny_model_dir, tmp_path
) -> None:
    predictions = tmp_path / "predictions.json"
    assert main(detect_args(photo_dir, tiny_model_dir, "-o", str(predictions))) == 0
    laptop = tmp_path / "laptop"
    copy_images_only(photo_dir, laptop)
    assert main(["import", str(laptop), str(predictions), "--format", "coco"]) == 0
    coco = json.loads(predictions.read_text())
    with ReviewProject.open(laptop) as project:
        boxes = [b for i in project.images() for b in project.boxes(i.id)]
        assert len(boxes) == len(coco["annotations"]) == 6
        assert all(b.status is BoxStatus.PENDING and b.source is BoxSource.IMPORT for b in boxes)
        assert sorted(b.score for b in boxes) == pytest.approx(
            sorted(a["score"] for a in coco["annotations"])
        )
        assert {b.model for b in boxes} == {str(tiny_model_dir)} and {b.box_threshold for b in boxes} == {0.0}
        assert {i.state for i in project.images()} == {ImageState.PREDICTED}
    # --as accepted turns them straight into ground truth (same boxes: nothing new is added)
    assert main(["import", str(laptop), str(predictions), "--format", "coco", "--as", "accepted"]) == 0


def test_export_options_images_all_and_labelstudio_predictions(tmp_path: Path) -> None:
    folder = tmp_path / "images"
    make_review_folder(folder)
    out = tmp_path / "tasks.json"
    args = [
        "export",
        str(folder),
        "-f",
        "labelstudio",
        "-o",
        str(out),
        "--include",
        "all",
        "--ls-as",
        "predictions",
    ]
    assert main([*args, "--ls-url-prefix", "/data/local-files/?d=images/"]) == 0
    tasks = json.loads(out.read_text())
    assert len(tasks) == 5 and all("predictions" in t for t in tasks)
    assert tasks[0]["data"]["image"].startswith("/data/local-files/?d=images/")
    assert (tmp_path / "tasks.labeling-config.xml").is_file()


def test_user_errors_are_one_line_with_exit_2(tmp_path: Path, capsys) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["export", str(empty), "-f", "coco", "-o", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "has no review project yet" in err and str(empty) in err and len(err.strip().splitlines()) == 1
    assert not (empty / ".groundlabel").exists()  # exporting never creates a project

    bad = tmp_path / "bad.json"
    bad.write_text('{"images": [{"id": 1, "file_name": "x.png", "width": 4, "height": 4}]}')
    assert main(["import", str(empty), str(bad), "-f", "coco"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("groundlabel: error: ") and "bad.json: images[0]: missing image: no 'x.png'" in err
    assert "Traceback" not in err

    assert main(["detect", str(empty), str(tmp_path), "--labels", "cat", "--into-project"]) == 2
    assert "--into-project needs exactly one folder" in capsys.readouterr().err


def test_export_to_a_path_that_cannot_be_a_folder_is_one_line(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "images"
    make_review_folder(folder)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert main(["export", str(folder), "-f", "voc", "-o", str(blocker)]) == 2
    err = capsys.readouterr().err
    assert "cannot write" in err and "a-file" in err and "Traceback" not in err
    assert blocker.read_text() == "not a folder"
