"""Every mask export, opened unchanged by the readers people use, holds the exported pixels.

One small folder (``mask_folder``: masks of one and of two parts, a box without a mask,
an EXIF-rotated image, a reviewed negative) is exported once per format by the CLI. Pixels
are compared with the project's masks: exactly where the format stores RLE or label PNGs,
at IoU >= 0.98 where it stores polygons.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from mask_folder import MASK_CLASSES, MASK_SIZES, make_mask_folder

from groundlabel import masks
from groundlabel.cli import main

READERS_DIR = Path(__file__).parent / "readers"
EXPORTS = {
    "coco": ["-f", "coco"],
    "coco-rle": ["-f", "coco", "--coco-masks", "rle"],
    "voc": ["-f", "voc"],
    "yolo": ["-f", "yolo"],
    "hf": ["-f", "hf"],
    "labelstudio": ["-f", "labelstudio"],
}


class MaskExport:
    def __init__(self, root: Path) -> None:
        self.folder = root / "images"
        self.expected = make_mask_folder(self.folder)
        self.out = {}
        for name, args in EXPORTS.items():
            self.out[name] = root / name
            assert main(["export", str(self.folder), "-o", str(self.out[name]), *args]) == 0

    def masks_of(self, file_name: str) -> list[tuple[str, np.ndarray]]:
        return [(cls, mask) for cls, mask, _ in self.expected[file_name] if mask is not None]


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> MaskExport:
    return MaskExport(tmp_path_factory.mktemp("mask-readers"))


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def assert_same_masks(
    got: list[tuple[str, np.ndarray]], want: list[tuple[str, np.ndarray]], exact: bool
) -> None:
    """Each wanted mask has a read mask of its class: equal, or at IoU >= 0.98."""
    assert sorted(c for c, _ in got) == sorted(c for c, _ in want)
    remaining = list(got)
    for cls, mask in want:
        best = max((g for g in remaining if g[0] == cls), key=lambda g: iou(g[1], mask))
        remaining.remove(best)
        assert best[1].shape == mask.shape
        if exact:
            assert np.array_equal(best[1], mask), cls
        else:
            assert iou(best[1], mask) >= 0.98, (cls, iou(best[1], mask))


@pytest.mark.parametrize(("name", "exact"), [("coco", False), ("coco-rle", True)])
def test_pycocotools_ann_to_mask_gives_the_pixels(export: MaskExport, name: str, exact: bool) -> None:
    from pycocotools.coco import COCO

    coco = COCO(str(export.out[name] / "annotations" / "instances_train.json"))
    names = {c["id"]: c["name"] for c in coco.loadCats(coco.getCatIds())}
    assert list(names.values()) == MASK_CLASSES
    images = {i["file_name"]: i for i in coco.loadImgs(coco.getImgIds())}
    assert set(images) == set(export.expected)
    for file_name, info in images.items():
        assert (info["width"], info["height"]) == MASK_SIZES[file_name]
        anns = coco.loadAnns(coco.getAnnIds(imgIds=[info["id"]]))
        assert len(anns) == len(export.expected[file_name])
        got = [(names[a["category_id"]], coco.annToMask(a).astype(bool)) for a in anns if a["segmentation"]]
        assert_same_masks(got, export.masks_of(file_name), exact)


@pytest.mark.parametrize(("name", "exact"), [("coco", False), ("coco-rle", True)])
def test_datumaro_reads_coco_masks_without_a_warning(
    export: MaskExport, name: str, exact: bool, caplog
) -> None:
    import datumaro as dm
    from datumaro.components.annotation import AnnotationType

    with caplog.at_level(logging.WARNING):
        # An object in several parts is several polygons: Datumaro merges them into one mask.
        dataset = dm.Dataset.import_from(
            str(export.out[name]), "coco_instances", merge_instance_polygons=True
        )
        items = list(dataset)
    assert not [r for r in caplog.records if "segmentation" in r.getMessage()]
    labels = [label.name for label in dataset.categories()[AnnotationType.label]]
    assert labels == MASK_CLASSES
    stems = {Path(n).stem: n for n in export.expected}
    assert {item.id for item in items} == set(stems)
    for item in items:
        file_name = stems[item.id]
        got = [
            (labels[a.label], a.image.astype(bool)) for a in item.annotations if a.type == AnnotationType.mask
        ]
        assert_same_masks(got, export.masks_of(file_name), exact)
        assert sum(a.type == AnnotationType.bbox for a in item.annotations) == len(export.expected[file_name])


def test_datumaro_reads_voc_instance_and_class_pngs(export: MaskExport) -> None:
    import datumaro as dm
    from datumaro.components.annotation import AnnotationType

    dataset = dm.Dataset.import_from(str(export.out["voc"]), "voc")
    labels = [label.name for label in dataset.categories()[AnnotationType.label]]
    assert [n for n in labels if n != "background"] == MASK_CLASSES
    stems = {Path(n).stem: n for n in export.expected}
    for item in dataset:
        file_name = stems[item.id]
        got = [
            (labels[a.label], a.image.astype(bool)) for a in item.annotations if a.type == AnnotationType.mask
        ]
        assert_same_masks(got, export.masks_of(file_name), exact=True)


def test_hf_datasets_loads_the_masks_as_rle(export: MaskExport) -> None:
    import datasets
    from pycocotools import mask as coco_mask

    out = export.out["hf"]
    loaded = datasets.load_dataset("imagefolder", data_dir=str(out))["train"]
    rows = [json.loads(line) for line in (out / "train" / "metadata.jsonl").read_text().splitlines()]
    ids = {row["image_id"]: row["file_name"] for row in rows}
    assert sorted(ids[row["image_id"]] for row in loaded) == sorted(export.expected)
    for row in loaded:
        file_name = ids[row["image_id"]]
        objects = row["objects"]
        assert len(objects["segmentation"]) == len(objects["bbox"]) == len(export.expected[file_name])
        got = [
            (name, coco_mask.decode({"size": rle["size"], "counts": rle["counts"].encode()}).astype(bool))
            for name, rle in zip(objects["category_name"], objects["segmentation"], strict=True)
        ]
        got = [(name, pixels) for name, pixels in got if pixels.any()]  # a box without a mask: no pixels
        assert_same_masks(got, export.masks_of(file_name), exact=True)


def test_label_studio_sdk_brush_decoder_gives_the_pixels(export: MaskExport) -> None:
    from label_studio_sdk.converter.brush import decode_from_annotation

    out = export.out["labelstudio"]
    assert "<BrushLabels" in (out / "labeling-config.xml").read_text()
    tasks = json.loads((out / "tasks.json").read_text())
    assert {t["data"]["file_name"] for t in tasks} == set(export.expected)
    for task in tasks:
        result = task["annotations"][0]["result"]
        # The SDK's converter reads results flattened, as Label Studio's own converter does.
        flat = [{**r, **r["value"]} for r in result if r["type"] == "brushlabels"]
        layers = decode_from_annotation("mask", flat)
        got = [(name.split("-")[1], layer > 127) for name, layer in layers.items()]
        assert_same_masks(got, export.masks_of(task["data"]["file_name"]), exact=True)


@pytest.mark.slow  # Ultralytics trains in the readers venv
def test_ultralytics_checks_the_seg_dataset_and_trains_a_seg_model(
    export: MaskExport, readers_venv, tmp_path_factory
) -> None:
    root = tmp_path_factory.mktemp("mask-readers")
    python = readers_venv
    env = {**os.environ, "YOLO_CONFIG_DIR": str(root / "yolo-config"), "YOLO_OFFLINE": "1", "HOME": str(root)}
    run = subprocess.run(
        [str(python), str(READERS_DIR / "mask_readers.py"), str(export.out["yolo"]), str(root / "work")],
        capture_output=True, text=True, env=env, timeout=600, cwd=root,
    )  # fmt: skip
    line = next((x for x in run.stdout.splitlines() if x.startswith("MASK-READERS-JSON ")), None)
    assert line, run.stdout[-3000:] + run.stderr[-3000:]
    result = json.loads(line.removeprefix("MASK-READERS-JSON "))
    assert list(result["names"].values()) == MASK_CLASSES
    assert result["task"] == "segment" and result["trained"]
    assert set(result["items"]) == set(export.expected)
    for file_name, item in result["items"].items():
        width, height = MASK_SIZES[file_name]
        assert item["shape"] == [height, width]
        objects = item["objects"]
        assert len(objects) == len(export.expected[file_name])  # a box without a mask: its rectangle
        outlines, filled = [], []
        for obj in objects:
            name = MASK_CLASSES[obj["class"]]
            # The outline Ultralytics read, rasterised as COCO (pixel edges), the convention written.
            outlines.append((name, masks.decode(masks.from_polygons([obj["segment"]], width, height))))
            pixels = np.zeros(height * width, dtype=bool)
            pixels[obj["pixels"]] = True
            filled.append((name, pixels.reshape(height, width)))
        want = export.masks_of(file_name)
        assert_same_masks([o for o in outlines if _is_masked(o[1], want)], want, exact=False)
        # Ultralytics' polygon2mask fills the outline inclusively on truncated coordinates: one
        # more column and row on the right and bottom edges. It still covers every mask pixel.
        for cls, mask in want:
            best = max((f for f in filled if f[0] == cls), key=lambda f: iou(f[1], mask))
            assert (best[1] & mask).sum() >= 0.99 * mask.sum() and iou(best[1], mask) >= 0.85


def _is_masked(pixels: np.ndarray, want: list[tuple[str, np.ndarray]]) -> bool:
    """Whether a read outline is one of the masks (not the rectangle of a box without one)."""
    return any(iou(pixels, mask) > 0.5 for _, mask in want)
