"""Masks through every format: export, read back, import into a fresh folder, pixels compared.

Exact where the format stores RLE or label pixels (COCO RLE, HF, VOC, Label Studio brush,
shards); IoU >= 0.98 where it stores polygons (COCO polygons, YOLO seg, Label Studio polygons).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from mask_folder import MASK_CLASSES, box_of, make_mask_folder
from test_project_helpers import copy_images_only

from groundlabel import masks
from groundlabel.formats.export_job import export_dataset
from groundlabel.formats.registry import get_format
from groundlabel.project import ReviewProject
from groundlabel.project.exchange import import_dataset, project_dataset

# (format, options, exact pixels)
CASES = [
    ("coco", {"coco_masks": "polygons"}, False),
    ("coco", {"coco_masks": "rle"}, True),
    ("yolo", {}, False),
    ("voc", {}, True),
    ("hf", {}, True),
    ("labelstudio", {"ls_masks": "brush"}, True),
    ("labelstudio", {"ls_masks": "polygons"}, False),
    ("shards", {}, True),
]


@pytest.fixture(scope="module")
def mask_folder(tmp_path_factory) -> tuple[Path, dict]:
    folder = tmp_path_factory.mktemp("masks") / "images"
    return folder, make_mask_folder(folder)


def export(folder: Path, name: str, out: Path, **options) -> None:
    with ReviewProject.open(folder) as project:
        report = project_dataset(project)
    assert not report.failures
    export_dataset(report.dataset, out, name, folder, image_mode="copy", options=options)


def _imported(folder: Path, tmp_path: Path, name: str, out: Path) -> dict[str, list]:
    fresh = tmp_path / "fresh"
    copy_images_only(folder, fresh)
    dataset = get_format(name).read(out, None)
    with ReviewProject.open(fresh) as project:
        import_dataset(project, dataset)
        names = {c.id: c.name for c in project.classes()}
        return {
            image.path: [(names[b.class_id], b.xyxy, b.mask) for b in project.boxes(image.id)]
            for image in project.images()
            if image.state in ("reviewed", "reviewed-empty")
        }


@pytest.mark.parametrize(("name", "options", "exact"), CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_masks_survive_export_and_import(mask_folder, tmp_path: Path, name, options, exact) -> None:
    folder, expected = mask_folder
    out = tmp_path / "out"
    export(folder, name, out, **options)
    got = _imported(folder, tmp_path, name, out)
    assert sorted(got) == sorted(expected)
    for path, boxes in expected.items():
        # Match each expected box to the imported box of its class with the nearest corners.
        remaining = list(got[path])
        assert len(remaining) == len(boxes), path
        for cls, mask, box in boxes:
            want = box_of(mask, box)
            match = min(
                (b for b in remaining if b[0] == cls),
                key=lambda b: sum(abs(p - q) for p, q in zip(b[1], want, strict=True)),
            )
            remaining.remove(match)
            assert match[1] == pytest.approx(want, abs=1e-4), (path, cls)
            if mask is None:
                assert match[2] is None, (path, cls)
                continue
            assert match[2] is not None, (path, cls)
            pixels = masks.decode(match[2])
            if exact:
                assert np.array_equal(pixels, mask), (path, cls)
            else:
                assert masks.iou(masks.encode(mask), match[2]) >= 0.98, (path, cls)


def test_every_coco_annotation_has_a_segmentation_field(mask_folder, tmp_path: Path) -> None:
    folder, _ = mask_folder
    export(folder, "coco", tmp_path / "out")
    document = json.loads((tmp_path / "out" / "annotations" / "instances_train.json").read_text())
    annotations = document["annotations"]
    assert annotations and all("segmentation" in a for a in annotations)
    plain = [a for a in annotations if a["segmentation"] == []]
    assert len(plain) == 1 and plain[0]["area"] == 400.0  # the 20x20 box without a mask
    polygons = [a for a in annotations if a["segmentation"]]
    assert all(isinstance(a["segmentation"], list) and a["iscrowd"] == 0 for a in polygons)
    two_parts = [a for a in polygons if len(a["segmentation"]) == 2]
    assert len(two_parts) == 1  # b.png's mask in two parts: two polygons


def test_yolo_seg_rows_and_voc_pngs_have_the_layout_readers_expect(mask_folder, tmp_path: Path) -> None:
    from PIL import Image

    folder, _ = mask_folder
    export(folder, "yolo", tmp_path / "yolo")
    rows = (tmp_path / "yolo" / "labels" / "train" / "a.txt").read_text().splitlines()
    assert len(rows) == 3 and all(len(r.split()) >= 7 and len(r.split()) % 2 == 1 for r in rows)
    assert all(0 <= float(v) <= 1 for r in rows for v in r.split()[1:])
    export(folder, "voc", tmp_path / "voc")
    voc = tmp_path / "voc"
    assert (voc / "ImageSets" / "Segmentation" / "train.txt").read_text().split() == [
        "a",
        "b",
        "empty",
        "rotated",
    ]
    with (
        Image.open(voc / "SegmentationObject" / "a.png") as objects,
        Image.open(voc / "SegmentationClass" / "a.png") as classes,
    ):
        assert objects.mode == classes.mode == "P" and objects.size == (96, 72)
        assert set(np.unique(np.asarray(objects))) == {0, 1, 2}  # object 3 has no mask
        assert set(np.unique(np.asarray(classes))) == {0, 1, 2}  # labelmap lines: cat 1, dog 2
    assert "<segmented>1</segmented>" in (voc / "Annotations" / "a.xml").read_text()


def test_detect_output_coco_carries_masks_as_rle(tmp_path: Path) -> None:
    from groundlabel.detector import DetectionResult
    from groundlabel.formats.coco import CocoImageEntry, build_coco, coco_boxes, read_coco_file

    mask = np.zeros((30, 40), dtype=bool)
    mask[3:20, 5:17] = True
    result = DetectionResult("x.png", (40, 30), boxes=[[5, 3, 17, 20], [1, 1, 4, 4]], scores=[0.9, 0.5],
                             labels=["cat", "dog"], class_ids=[0, 1], masks=[masks.encode(mask), None],
                             mask_scores=[0.7, None])  # fmt: skip
    document = build_coco([CocoImageEntry("x.png", 40, 30, coco_boxes(result))], MASK_CLASSES)
    first, second = document["annotations"]
    assert first["segmentation"] == masks.encode(mask) and first["mask_score"] == 0.7 and first["area"] == 204
    assert second["segmentation"] == []
    path = tmp_path / "detect.json"
    path.write_text(json.dumps(document))
    read = read_coco_file(path)
    assert np.array_equal(masks.decode(read.images[0].boxes[0].mask), mask)
    assert read.images[0].boxes[0].mask_score == 0.7 and read.images[0].boxes[1].mask is None


def test_a_mask_of_the_wrong_size_in_a_file_is_one_clear_error(mask_folder, tmp_path: Path) -> None:
    from groundlabel.formats.dataset import FormatError

    folder, _ = mask_folder
    export(folder, "coco", tmp_path / "out", coco_masks="rle")
    path = tmp_path / "out" / "annotations" / "instances_train.json"
    document = json.loads(path.read_text())
    masked = next(a for a in document["annotations"] if a["segmentation"])
    masked["segmentation"] = masks.encode(np.zeros((5, 5), dtype=bool))
    path.write_text(json.dumps(document))
    with pytest.raises(FormatError, match=r"the RLE mask is \[5, 5\] \(h, w\) but the image is"):
        get_format("coco").read(tmp_path / "out", None)


def test_cli_export_then_import_keeps_the_masks(mask_folder, tmp_path: Path) -> None:
    from groundlabel.cli import main

    folder, expected = mask_folder
    out = tmp_path / "coco"
    assert main(["export", str(folder), "-f", "coco", "-o", str(out), "--coco-masks", "rle"]) == 0
    fresh = tmp_path / "fresh"
    copy_images_only(folder, fresh)
    assert main(["import", str(fresh), str(out), "-f", "coco"]) == 0
    with ReviewProject.open(fresh) as project:
        image = project.image_by_path("b.png")
        (box,) = project.boxes(image.id)
        assert image.mask_count == 1 and image.state == "reviewed"
        assert np.array_equal(masks.decode(box.mask), expected["b.png"][0][1])


def test_the_labeling_config_decides_brush_or_polygons(mask_folder, tmp_path: Path) -> None:
    from groundlabel.formats.dataset import FormatError
    from groundlabel.formats.labelstudio_masks import mask_control

    folder, _ = mask_folder
    config = (
        '<View><Image name="img" value="$image"/><RectangleLabels name="box" toName="img">'
        '<Label value="cat"/></RectangleLabels><PolygonLabels name="outline" toName="img">'
        '<Label value="cat"/></PolygonLabels></View>'
    )
    control = mask_control(config)
    assert (control.style, control.from_name, control.to_name) == ("polygons", "outline", "img")
    assert mask_control(config.replace("PolygonLabels", "BrushLabels")).style == "brush"
    assert mask_control('<View><Image name="i" value="$image"/></View>') is None
    export(folder, "labelstudio", tmp_path / "ls", ls_masks="brush", ls_config=config)
    tasks = json.loads((tmp_path / "ls" / "tasks.json").read_text())
    regions = [r for t in tasks for r in t["annotations"][0]["result"]]
    masked = [r for r in regions if r["type"] != "rectanglelabels"]
    assert masked and all(r["type"] == "polygonlabels" and r["from_name"] == "outline" for r in masked)
    boxes = [r for r in regions if r["type"] == "rectanglelabels"]
    assert {(r["from_name"], r["to_name"]) for r in boxes + masked} <= {("box", "img"), ("outline", "img")}
    assert (tmp_path / "ls" / "labeling-config.xml").read_text() == config
    imported = _imported(folder, tmp_path, "labelstudio", tmp_path / "ls")
    assert sum(b[2] is not None for boxes in imported.values() for b in boxes) == 4
    with pytest.raises(FormatError, match="has no BrushLabels or PolygonLabels control"):
        export(
            folder, "labelstudio", tmp_path / "ls2", ls_config=config.split("<PolygonLabels")[0] + "</View>"
        )


def test_a_label_studio_brush_region_without_a_rectangle_becomes_a_box(tmp_path: Path) -> None:
    mask = np.zeros((20, 30), dtype=bool)
    mask[4:9, 10:25] = True
    region = {"id": "sam1", "from_name": "tag", "to_name": "image", "type": "brushlabels",
              "original_width": 30, "original_height": 20, "score": 0.6,
              "value": {"format": "rle", "rle": masks.to_labelstudio_brush(mask), "brushlabels": ["cat"]}}  # fmt: skip
    path = tmp_path / "export.json"
    path.write_text(
        json.dumps([{"data": {"image": "/data/local-files/?d=x.png"}, "predictions": [{"result": [region]}]}])
    )
    (image,) = get_format("labelstudio").read(path, None).images
    (box,) = image.boxes
    assert box.class_name == "cat" and box.xyxy == (10.0, 4.0, 25.0, 9.0) and box.score == 0.6
    assert np.array_equal(masks.decode(box.mask), mask)


def test_without_the_label_studio_sdk_brush_masks_say_how_to_get_it(monkeypatch) -> None:
    import builtins

    from groundlabel.errors import GroundlabelError

    real_import = builtins.__import__

    def no_sdk(name, *args, **kwargs):
        if name.startswith("label_studio_sdk"):
            raise ModuleNotFoundError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_sdk)
    with pytest.raises(GroundlabelError, match=r"pip install 'groundlabel\[backend\]'"):
        masks.to_labelstudio_brush(np.ones((3, 3), dtype=bool))


def test_importing_masks_onto_the_same_boxes_gives_them_their_masks(mask_folder, tmp_path: Path) -> None:
    folder, expected = mask_folder
    out = tmp_path / "coco"
    export(folder, "coco", out, coco_masks="rle")
    fresh = tmp_path / "fresh"
    copy_images_only(folder, fresh)
    dataset = get_format("coco").read(out, None)
    boxes_only = get_format("coco").read(out, None)
    for image in boxes_only.images:
        image.boxes = [replace(b, mask=None) for b in image.boxes]
    with ReviewProject.open(fresh) as project:
        import_dataset(project, boxes_only)
        assert sum(i.mask_count for i in project.images()) == 0
        report = import_dataset(project, dataset)
        assert report.boxes == 0 and report.masks_added == 4
        image = project.image_by_path("b.png")
        assert np.array_equal(masks.decode(project.boxes(image.id)[0].mask), expected["b.png"][0][1])
