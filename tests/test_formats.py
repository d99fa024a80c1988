"""Each export format, read back by a tool that did not write it, and imported back losslessly."""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from test_project_helpers import CLASSES, SIZES, copy_images_only, make_review_folder

from groundlabel.errors import GroundlabelError
from groundlabel.formats.export_job import export_dataset
from groundlabel.formats.registry import get_format
from groundlabel.project import BoxSource, BoxStatus, ImageState, ReviewProject
from groundlabel.project.exchange import import_dataset, project_dataset

FORMATS = ["coco", "voc", "yolo", "hf", "labelstudio"]


@pytest.fixture
def review_folder(tmp_path: Path):
    folder = tmp_path / "images"
    expected = make_review_folder(folder)
    return folder, expected


def export(
    folder: Path, name: str, out: Path, images: str = "reviewed", mode: str = "hardlink", **options
) -> list[Path]:
    with ReviewProject.open(folder) as project:
        report = project_dataset(project, images)
    assert not report.failures
    return export_dataset(report.dataset, out, name, folder, image_mode=mode, options=options).written


def test_coco_export_loads_in_pycocotools_and_scores_ap_1_against_itself(
    review_folder, tmp_path: Path
) -> None:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    folder, expected = review_folder
    (path,) = export(folder, "coco", tmp_path / "out")
    ground_truth = COCO(str(path))
    assert [c["name"] for c in ground_truth.loadCats(ground_truth.getCatIds())] == CLASSES
    assert min(ground_truth.getImgIds()) == 1 and min(ground_truth.getAnnIds()) == 1
    images = {i["file_name"]: i for i in ground_truth.loadImgs(ground_truth.getImgIds())}
    assert set(images) == set(expected)  # reviewed and reviewed-empty only; sub/new.png is not reviewed
    for name, image in images.items():
        assert (image["width"], image["height"]) == SIZES[name]  # rotated.jpg: 20x40 as shown
        annotations = ground_truth.loadAnns(ground_truth.getAnnIds(imgIds=[image["id"]]))
        got = sorted((ground_truth.cats[a["category_id"]]["name"], tuple(a["bbox"])) for a in annotations)
        want = sorted((c, (x0, y0, x1 - x0, y1 - y0)) for c, (x0, y0, x1, y1) in expected[name])
        assert got == want
        assert all(a["iscrowd"] == 0 and a["area"] == a["bbox"][2] * a["bbox"][3] for a in annotations)

    detections = [dict(a, score=1.0) for a in json.loads(path.read_text())["annotations"]]
    evaluation = COCOeval(ground_truth, ground_truth.loadRes(detections), "bbox")
    evaluation.evaluate()
    evaluation.accumulate()
    evaluation.summarize()
    assert evaluation.stats[0] == pytest.approx(1.0)


def _voc_bndbox(xyxy, width, height):
    """The documented VOC rounding, restated independently: 1-based inclusive, halves up."""

    def span(low, high, size):
        first, last = math.floor(low + 0.5) + 1, math.floor(high + 0.5)
        if last < first:
            first = last = math.floor((low + high) / 2) + 1
        return min(max(first, 1), size), min(max(last, 1), size)

    (xmin, xmax), (ymin, ymax) = span(xyxy[0], xyxy[2], width), span(xyxy[1], xyxy[3], height)
    return xmin, ymin, xmax, ymax


def test_voc_export_reads_back_with_elementtree(review_folder, tmp_path: Path) -> None:
    folder, expected = review_folder
    out = tmp_path / "voc"
    export(folder, "voc", out)
    ids = (out / "ImageSets" / "Main" / "train.txt").read_text().split()
    assert sorted(ids) == sorted(Path(n).with_suffix("").as_posix() for n in expected)
    for name, boxes in expected.items():
        root = ET.parse(out / "Annotations" / f"{Path(name).stem}.xml").getroot()
        assert root.findtext("path") == name
        assert root.findtext("filename") == f"{Path(name).stem}.jpg"  # PNGs are converted for JPEGImages/
        assert (out / "JPEGImages" / f"{Path(name).stem}.jpg").is_file()
        width, height = SIZES[name]
        assert (int(root.findtext("size/width")), int(root.findtext("size/height"))) == (width, height)
        assert root.findtext("size/depth") == "3"
        objects = root.findall("object")
        assert [o.findtext("name") for o in objects] == [c for c, _ in boxes]  # incl. "a&b<c" round-tripped
        for obj, (_, xyxy) in zip(objects, boxes, strict=True):
            assert obj.findtext("pose") == "Unspecified"
            assert obj.findtext("truncated") == "0" and obj.findtext("difficult") == "0"
            got = tuple(int(obj.findtext(f"bndbox/{t}")) for t in ("xmin", "ymin", "xmax", "ymax"))
            assert got == _voc_bndbox(xyxy, width, height)


def test_yolo_export_reads_back_with_an_independent_parser(review_folder, tmp_path: Path) -> None:
    folder, expected = review_folder
    out = tmp_path / "yolo"
    export(folder, "yolo", out)
    data = yaml.safe_load((out / "data.yaml").read_text())
    assert data["nc"] == len(CLASSES) and data["names"] == dict(enumerate(CLASSES))
    for name, boxes in expected.items():
        lines = (out / "labels" / "train" / f"{Path(name).stem}.txt").read_text().splitlines()
        assert len(lines) == len(boxes)  # the negative has an empty file
        width, height = SIZES[name]
        for line, (cls, (x0, y0, x1, y1)) in zip(lines, boxes, strict=True):
            index, cx, cy, w, h = line.split()
            assert data["names"][int(index)] == cls
            want = ((x0 + x1) / 2 / width, (y0 + y1) / 2 / height, (x1 - x0) / width, (y1 - y0) / height)
            assert [float(v) for v in (cx, cy, w, h)] == pytest.approx(want, abs=5e-7)


def test_labelstudio_export_matches_its_config_for_label_studio_sdk(review_folder, tmp_path: Path) -> None:
    from label_studio_sdk.label_interface import LabelInterface

    folder, expected = review_folder
    tasks_path, config_path = export(folder, "labelstudio", tmp_path / "ls")
    interface = LabelInterface(config_path.read_text())
    assert interface.get_control("label").labels == CLASSES
    tasks = json.loads(tasks_path.read_text())
    assert {t["data"]["image"] for t in tasks} == {f"/data/local-files/?d={n}" for n in expected}
    for task in tasks:
        (annotation,) = task["annotations"]
        assert interface.validate_annotation(annotation)
        name = task["data"]["file_name"]
        width, height = SIZES[name]
        assert len(annotation["result"]) == len(expected[name])
        for region, (cls, (x0, y0, x1, y1)) in zip(annotation["result"], expected[name], strict=True):
            assert (region["original_width"], region["original_height"]) == (width, height)
            value = region["value"]
            assert value["rectanglelabels"] == [cls]
            assert value["x"] / 100 * width == pytest.approx(x0) and value[
                "y"
            ] / 100 * height == pytest.approx(y0)
            assert (value["x"] + value["width"]) / 100 * width == pytest.approx(x1)
            assert (value["y"] + value["height"]) / 100 * height == pytest.approx(y1)

    predictions_path, _ = export(folder, "labelstudio", tmp_path / "ls-pred.json", as_predictions=True)
    for task in json.loads(predictions_path.read_text()):
        assert "annotations" not in task
        assert interface.validate_prediction(task["predictions"][0])


def _project_boxes(folder: Path) -> dict[str, list[tuple[str, tuple[float, ...], BoxSource, BoxStatus]]]:
    with ReviewProject.open(folder) as project:
        names = {c.id: c.name for c in project.classes()}
        return {
            image.path: [(names[b.class_id], b.xyxy, b.source, b.status) for b in project.boxes(image.id)]
            for image in project.images()
        }


@pytest.mark.parametrize("name", FORMATS)
def test_export_then_import_round_trips_up_to_the_documented_rounding(review_folder, tmp_path, name) -> None:
    folder, expected = review_folder
    out = tmp_path / "out"
    export(folder, name, out)
    fresh = tmp_path / "fresh"
    copy_images_only(folder, fresh)
    dataset = get_format(name).read(out, None)
    with ReviewProject.open(fresh) as project:
        report = import_dataset(project, dataset)
        assert report.boxes == sum(len(b) for b in expected.values())
        states = {i.path: i.state for i in project.images()}
        again = import_dataset(project, get_format(name).read(out, None))
        assert again.boxes == 0 and again.duplicates == report.boxes  # importing twice adds nothing
    assert states["empty.png"] is ImageState.REVIEWED_EMPTY and states["astronaut.png"] is ImageState.REVIEWED
    assert states["sub/new.png"] is ImageState.NEW
    tolerance = {"coco": 1e-9, "hf": 1e-9, "labelstudio": 1e-9, "voc": 0.5, "yolo": 1e-6 * 512}[name]
    imported = _project_boxes(fresh)
    for path, boxes in expected.items():
        got = sorted(imported[path])
        want = sorted(boxes)
        assert [g[0] for g in got] == [w[0] for w in want]
        for g, (_, xyxy) in zip(got, want, strict=True):
            assert g[1] == pytest.approx(xyxy, abs=tolerance)
            assert g[2] is BoxSource.IMPORT and g[3] is BoxStatus.ACCEPTED
    if name == "voc":  # integer boxes come back exactly
        assert sorted(imported["chelsea.png"])[0][1] == (0.0, 0.0, 451.0, 300.0)


@pytest.mark.parametrize("name", FORMATS)
def test_exporting_twice_gives_identical_files_and_no_leftovers(
    review_folder, tmp_path: Path, name: str
) -> None:
    folder, _ = review_folder
    out = tmp_path / "out"
    export(folder, name, out)
    first = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    export(folder, name, out)
    second = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert first == second
    assert not [p for p in first if p.name.endswith(".tmp")]


def test_images_all_adds_unreviewed_images_but_never_pending_boxes(review_folder, tmp_path: Path) -> None:
    folder, _ = review_folder
    (path,) = export(folder, "coco", tmp_path / "all.json", images="all")
    document = json.loads(path.read_text())
    names = {i["file_name"]: i["id"] for i in document["images"]}
    assert "sub/new.png" in names
    assert not [a for a in document["annotations"] if a["image_id"] == names["sub/new.png"]]
    assert len(document["annotations"]) == 4


def test_re_export_removes_label_files_of_images_no_longer_exported(review_folder, tmp_path: Path) -> None:
    folder, _ = review_folder
    out = tmp_path / "yolo"
    export(folder, "yolo", out)
    assert (out / "labels" / "train" / "chelsea.txt").exists()
    assert (out / "images" / "train" / "chelsea.png").exists()
    with ReviewProject.open(folder) as project:
        project.set_image_state(project.image_by_path("chelsea.png").id, ImageState.PREDICTED)
    export(folder, "yolo", out)
    assert not (out / "labels" / "train" / "chelsea.txt").exists()
    assert not (out / "images" / "train" / "chelsea.png").exists()
    assert (out / "labels" / "train" / "astronaut.txt").exists()


def test_a_foreign_folder_is_never_replaced(review_folder, tmp_path: Path) -> None:
    folder, _ = review_folder
    out = tmp_path / "mine"
    (out / "labels").mkdir(parents=True)
    (out / "labels" / "precious.txt").write_text("keep me")
    with pytest.raises(GroundlabelError, match="not a groundlabel export"):
        export(folder, "yolo", out)
    assert (out / "labels" / "precious.txt").read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["images", "mine"]  # no partial folder left


def test_a_reviewed_image_deleted_from_the_folder_is_reported_not_silently_dropped(review_folder) -> None:
    folder, expected = review_folder
    (folder / "chelsea.png").unlink()
    with ReviewProject.open(folder) as project:
        report = project_dataset(project)
    assert [path for path, _ in report.failures] == ["chelsea.png"]
    assert "gone from the folder" in report.failures[0][1]
    assert {i.file_name for i in report.dataset.images} == set(expected) - {"chelsea.png"}
