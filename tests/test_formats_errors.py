"""Bad dataset files: one message naming the file and the entry, and nothing half-imported."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_project_helpers import images_to_import_into

from groundlabel.formats.dataset import FormatError
from groundlabel.formats.registry import get_format
from groundlabel.project import ReviewProject
from groundlabel.project.exchange import import_dataset


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return images_to_import_into(tmp_path)


def coco(tmp_path: Path, annotations, images=None, categories=None) -> Path:
    document = {
        "images": images
        if images is not None
        else [
            {"id": 1, "file_name": "chelsea.png", "width": 451, "height": 300},
            {"id": 2, "file_name": "astronaut.png", "width": 512, "height": 512},
        ],
        "annotations": annotations,
        "categories": categories if categories is not None else [{"id": 1, "name": "cat"}],
    }
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document))
    return path


def imported_state(folder: Path) -> tuple:
    """Classes, boxes and image states (the lazily cached sizes and hashes may be filled by a failed import)."""
    with ReviewProject.open(folder) as project:
        dump = project.dump_state()
        return dump["classes"], dump["boxes"], [(i.path, i.state) for i in project.images()]


def import_file(folder: Path, path: Path, name: str) -> None:
    dataset = get_format(name).read(path, None)
    with ReviewProject.open(folder) as project:
        import_dataset(project, dataset)


def ann(i, image_id=1, category_id=1, bbox=(1, 1, 10, 10)):
    return {"id": i, "image_id": image_id, "category_id": category_id, "bbox": list(bbox)}


@pytest.mark.parametrize(
    ("annotations", "images", "message"),
    [
        (
            [ann(7, category_id=9)],
            None,
            r"bad\.json: annotations\[0\] \(id 7\): unknown class: category_id 9",
        ),
        (
            [ann(1), ann(2, bbox=(400, 10, 60, 10))],
            None,
            r"annotations\[1\] \(id 2\): box .* outside the 451x300",
        ),
        ([ann(1, image_id=5)], None, r"annotations\[0\] \(id 1\): image_id 5 is not in"),
        ([ann(1, bbox=(1, 1, "x", 3))], None, r"annotations\[0\] \(id 1\): \"bbox\" must be"),
        (
            [],
            [{"id": 1, "file_name": "gone.png", "width": 5, "height": 5}],
            r"images\[0\]: missing image: no 'gone\.png'",
        ),
        (
            [],
            [{"id": 1, "file_name": "chelsea.png", "width": 300, "height": 451}],
            r"images\[0\]: says chelsea\.png is 300x451",
        ),
        (
            [],
            [{"id": 1, "file_name": "chelsea.png"}],
            r"images\[0\] \(chelsea\.png\): \"width\" and \"height\"",
        ),
    ],
)
def test_bad_coco_entries_are_named_and_nothing_is_imported(
    folder, tmp_path, annotations, images, message
) -> None:
    path = coco(tmp_path, annotations, images)
    before = imported_state(folder)
    with pytest.raises(FormatError, match=message):
        import_file(folder, path, "coco")
    assert imported_state(folder) == before  # not even the valid first annotation or the class


def test_not_json_and_not_coco(folder: Path, tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text("{ nope")
    with pytest.raises(FormatError, match=r"a\.json: not readable JSON"):
        import_file(folder, tmp_path / "a.json", "coco")
    (tmp_path / "b.json").write_text("[1, 2]")
    with pytest.raises(FormatError, match=r"b\.json: not COCO"):
        import_file(folder, tmp_path / "b.json", "coco")


def test_voc_errors_name_the_xml_file_and_object(folder: Path, tmp_path: Path) -> None:
    voc = tmp_path / "voc" / "Annotations"
    voc.mkdir(parents=True)
    (voc / "chelsea.xml").write_text(
        "<annotation><filename>chelsea.png</filename><size><width>451</width><height>300</height>"
        "<depth>3</depth></size><object><name>cat</name><bndbox><xmin>10</xmin><ymin>10</ymin>"
        "<xmax>five</xmax><ymax>20</ymax></bndbox></object></annotation>"
    )
    with pytest.raises(FormatError, match=r"chelsea\.xml: <object> #1 \(cat\): <xmax> must be a number"):
        import_file(folder, tmp_path / "voc", "voc")
    (voc / "chelsea.xml").write_text("<annotation><filename>chel")
    with pytest.raises(FormatError, match=r"chelsea\.xml: not readable XML"):
        import_file(folder, tmp_path / "voc", "voc")


def test_yolo_unknown_class_and_out_of_image_box(folder: Path, tmp_path: Path) -> None:
    yolo = tmp_path / "yolo"
    (yolo / "labels").mkdir(parents=True)
    (yolo / "data.yaml").write_text("names: [cat, dog]\n")
    (yolo / "labels" / "chelsea.txt").write_text("0 0.5 0.5 0.2 0.2\n2 0.5 0.5 0.1 0.1\n")
    with pytest.raises(FormatError, match=r"chelsea\.txt: line 2: unknown class: id 2"):
        import_file(folder, yolo, "yolo")
    (yolo / "labels" / "chelsea.txt").write_text("1 0.95 0.5 0.2 0.2\n")
    with pytest.raises(FormatError, match=r"chelsea\.txt: line 1: box .* outside the 451x300 image"):
        import_file(folder, yolo, "yolo")
    (yolo / "data.yaml").unlink()
    with pytest.raises(FormatError, match=r"no data\.yaml or classes\.txt"):
        import_file(folder, yolo, "yolo")


def test_labelstudio_errors_name_the_task_and_region(folder: Path, tmp_path: Path) -> None:
    region = {
        "type": "rectanglelabels",
        "original_width": 451,
        "original_height": 300,
        "value": {"x": 1, "y": 1, "width": 5, "height": 5, "rotation": 30, "rectanglelabels": ["cat"]},
    }
    task = {
        "id": 12,
        "data": {"image": "/data/upload/3/0123abcd-chelsea.png"},
        "annotations": [{"result": [region]}],
    }
    path = tmp_path / "export.json"
    path.write_text(json.dumps([task]))
    with pytest.raises(
        FormatError, match=r"export\.json: task 12 result\[0\]: rotated boxes are not supported"
    ):
        import_file(folder, path, "labelstudio")
    path.write_text(json.dumps([{"id": 3, "data": {"text": "hello"}}]))
    with pytest.raises(FormatError, match=r"task 3: needs \"data\": \{\"image\": URL\}"):
        import_file(folder, path, "labelstudio")


def test_labelstudio_export_from_the_server_imports_by_upload_name(folder: Path, tmp_path: Path) -> None:
    """Label Studio renames uploads to <8 hex>-<name>; annotations win over predictions; cancelled ones are skipped."""

    def region(label, x):
        value = {"x": x, "y": 10, "width": 10, "height": 20, "rotation": 0, "rectanglelabels": [label]}
        return {"type": "rectanglelabels", "original_width": 451, "original_height": 300, "value": value}

    tasks = [
        {
            "id": 1,
            "data": {"image": "/data/upload/3/0123abcd-chelsea.png"},
            "annotations": [
                {"result": [region("cat", 10)], "was_cancelled": False, "updated_at": "2026-01-02T00:00:00Z"},
                {"result": [region("dog", 20)], "was_cancelled": True, "updated_at": "2026-01-03T00:00:00Z"},
            ],
            "predictions": [{"result": [dict(region("cat", 50), score=0.7)], "model_version": "m"}],
        },
        {
            "id": 2,
            "data": {"image": "/data/local-files/?d=photos/astronaut.png"},
            "annotations": [],
            "predictions": [7],  # Label Studio's JSON export lists predictions by id only
        },
    ]
    path = tmp_path / "export.json"
    path.write_text(json.dumps(tasks))
    import_file(folder, path, "labelstudio")
    with ReviewProject.open(folder) as project:
        chelsea = project.image_by_path("chelsea.png")
        (box,) = project.boxes(chelsea.id)
        assert project.class_record(box.class_id).name == "cat"
        assert box.xyxy == pytest.approx((45.1, 30.0, 90.2, 90.0))
        assert project.image_by_path("astronaut.png").box_count == 0  # a task with nothing is skipped


def test_a_name_that_fits_several_images_is_refused_not_guessed(folder: Path, tmp_path: Path) -> None:
    (folder / "chelsea.jpg").write_bytes((folder / "rotated.jpg").read_bytes())
    yolo = tmp_path / "yolo"
    (yolo / "labels").mkdir(parents=True)
    (yolo / "data.yaml").write_text("names: [cat]\n")
    (yolo / "labels" / "chelsea.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    with pytest.raises(
        FormatError, match=r"chelsea\.txt: 'chelsea' matches several images: chelsea\.jpg, chelsea\.png"
    ):
        import_file(folder, yolo, "yolo")


def test_two_entries_for_one_image_are_refused(folder: Path, tmp_path: Path) -> None:
    images = [
        {"id": 1, "file_name": "chelsea.png", "width": 451, "height": 300},
        {"id": 2, "file_name": "./chelsea.png", "width": 451, "height": 300},
    ]
    with pytest.raises(FormatError, match=r"images\[1\]: chelsea\.png is listed twice \(also images\[0\]\)"):
        import_file(folder, coco(tmp_path, [], images), "coco")
