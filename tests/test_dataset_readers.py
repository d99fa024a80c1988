"""Every export, opened unchanged by the readers people train with, holds what was exported.

One folder (``dataset_folder.make_dataset_folder``: EXIF-rotated photo, PNG, 16-bit grey
PNG, CMYK JPEG, subfolder, reviewed-empty image, class ``a&b<c``) is exported once per
format with a train/val split, by hard link and by copy; each reader's items, classes,
boxes and image sizes are compared with the project, and the decoded pixels with the image
as groundlabel shows it (so a box lands on the same object in every reader).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from dataset_folder import make_dataset_folder

from groundlabel.cli import main
from groundlabel.formats.splits import assign_splits, parse_splits
from groundlabel.formats.voc import to_voc_bndbox
from groundlabel.images import load_image

FORMATS = ["coco", "voc", "yolo", "hf", "labelstudio"]
SPLIT, SEED = "train=0.7,val=0.3", 1
CLASSES = ["cat", "person", "a&b<c", "unused"]
READERS_DIR = Path(__file__).parent / "readers"


class Export:
    def __init__(self, root: Path) -> None:
        self.folder = root / "images"
        self.boxes = make_dataset_folder(self.folder)
        plan = parse_splits(SPLIT)
        self.split = assign_splits(self.boxes, plan, SEED)  # a first export: no earlier assignment
        self.out: dict[tuple[str, str], Path] = {}
        for name in FORMATS:
            for mode in ("hardlink", "copy"):
                out = root / f"{name}-{mode}"
                args = ["export", str(self.folder), "-f", name, "-o", str(out), "--split", SPLIT]
                assert main([*args, "--seed", str(SEED), "--images", mode]) == 0
                self.out[name, mode] = out

    def in_split(self, split: str) -> dict[str, list]:
        return {n: b for n, b in self.boxes.items() if self.split[n] == split}

    def shown(self, name: str) -> list[float]:
        return grey(np.asarray(load_image(self.folder / name)))


def grey(array: np.ndarray) -> list[float]:
    """The same fingerprint as ``readers/torch_readers.py``: channel mean, 8x8 block means."""
    g = array.astype(np.float64)
    if g.ndim == 3:
        g = g.mean(axis=2)
    h, w = g.shape
    return [float(g[i * h // 8 : (i + 1) * h // 8, j * w // 8 : (j + 1) * w // 8].mean()) for i in range(8) for j in range(8)]  # fmt: skip


def assert_same_pixels(got: list[float], want: list[float]) -> None:
    # JPEG re-encoding (quality 95) moves block means by a few levels; a turned image by far more.
    assert np.abs(np.array(got) - np.array(want)).max() < 6


def assert_boxes(got: list[tuple[str, list[float]]], want: list, tolerance: float) -> None:
    """``got``: (class, [x, y, w, h]); ``want``: (class, xyxy); compared as sorted lists."""
    want_xywh = sorted((c, [x0, y0, x1 - x0, y1 - y0]) for c, (x0, y0, x1, y1) in want)
    got = sorted((c, list(b)) for c, b in got)
    assert [c for c, _ in got] == [c for c, _ in want_xywh]
    for (_, g), (_, w) in zip(got, want_xywh, strict=True):
        assert g == pytest.approx(w, abs=tolerance)


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Export:
    return Export(tmp_path_factory.mktemp("readers"))


def test_copy_and_hardlink_exports_hold_the_same_bytes(export: Export) -> None:
    for name in FORMATS:
        linked, copied = export.out[name, "hardlink"], export.out[name, "copy"]
        files = sorted(p.relative_to(linked) for p in linked.rglob("*") if p.is_file())
        assert files == sorted(p.relative_to(copied) for p in copied.rglob("*") if p.is_file())
        for relative in files:
            if relative.name == "data.yaml":  # names its own folder in `path`
                continue
            assert (linked / relative).read_bytes() == (copied / relative).read_bytes(), relative
    astronaut = export.folder / "astronaut.png"
    assert os.path.samefile(
        astronaut, export.out["coco", "hardlink"] / "images" / export.split["astronaut.png"] / "astronaut.png"
    )
    assert not os.path.samefile(
        astronaut, export.out["coco", "copy"] / "images" / export.split["astronaut.png"] / "astronaut.png"
    )


def test_pycocotools_reads_each_split(export: Export) -> None:
    from pycocotools.coco import COCO

    out = export.out["coco", "hardlink"]
    for split in ("train", "val"):
        coco = COCO(str(out / "annotations" / f"instances_{split}.json"))
        names = {c["id"]: c["name"] for c in coco.loadCats(coco.getCatIds())}
        assert list(names.values()) == CLASSES
        images = {i["file_name"]: i for i in coco.loadImgs(coco.getImgIds())}
        assert set(images) == set(export.in_split(split))
        for file_name, info in images.items():
            assert (out / "images" / split / file_name).is_file()
            anns = coco.loadAnns(coco.getAnnIds(imgIds=[info["id"]]))
            assert_boxes([(names[a["category_id"]], a["bbox"]) for a in anns], export.boxes[file_name], 1e-9)


@pytest.mark.parametrize("name", ["coco", "voc", "yolo"])
def test_datumaro_imports_each_layout(export: Export, name: str) -> None:
    import datumaro as dm
    from datumaro.components.annotation import AnnotationType

    dataset = dm.Dataset.import_from(str(export.out[name, "hardlink"]), name)
    labels = [label.name for label in dataset.categories()[AnnotationType.label]]
    assert [n for n in labels if n != "background"] == CLASSES  # VOC's labelmap starts with background
    assert set(dataset.subsets()) == {"train", "val"}
    by_stem = {
        Path(n).with_suffix("").as_posix().replace("/", "__" if name == "yolo" else "/"): n
        for n in export.boxes
    }
    seen = set()
    for item in dataset:
        file_name = by_stem[item.id]
        seen.add(file_name)
        assert item.subset == export.split[file_name]
        height, width = item.media.size
        shown = load_image(export.folder / file_name)
        assert (width, height) == shown.size  # every image upright, as reviewed
        assert_same_pixels(grey(item.media.data), export.shown(file_name))
        got = [(labels[a.label], a.get_bbox()) for a in item.annotations]
        want = export.boxes[file_name]
        if name == "voc":  # Datumaro keeps VOC's 1-based pixel indices: x = xmin, w = xmax - xmin
            size = shown.size
            want = [(c, to_voc_bndbox(xyxy, *size)) for c, xyxy in want]
        assert_boxes(got, want, 1e-6 * 512 if name == "yolo" else 1e-4)  # Datumaro keeps float32
    assert seen == set(export.boxes)


def test_hf_datasets_loads_the_imagefolder(export: Export) -> None:
    import datasets

    out = export.out["hf", "hardlink"]
    loaded = datasets.load_dataset("imagefolder", data_dir=str(out))
    # imagefolder drops file_name; the metadata rows say which image each image_id is.
    lines = [line for path in out.glob("*/metadata.jsonl") for line in path.read_text().splitlines()]
    ids = {row["image_id"]: row["file_name"] for row in map(json.loads, lines)}
    assert set(ids.values()) == set(export.boxes)
    assert set(loaded) == {"train", "validation"}
    for split, hf_split in (("train", "train"), ("val", "validation")):
        rows = list(loaded[hf_split])
        assert sorted(ids[row["image_id"]] for row in rows) == sorted(export.in_split(split))
        for row in rows:
            file_name = ids[row["image_id"]]
            assert (
                row["image"].size
                == (row["width"], row["height"])
                == load_image(export.folder / file_name).size
            )
            assert_same_pixels(grey(np.asarray(row["image"].convert("RGB"))), export.shown(file_name))
            objects = row["objects"]
            assert [CLASSES[c] for c in objects["category"]] == objects["category_name"]
            assert_boxes(
                list(zip(objects["category_name"], objects["bbox"], strict=True)),
                export.boxes[file_name],
                1e-9,
            )


@pytest.mark.slow  # torchvision and Ultralytics train in the readers venv
def test_torchvision_and_ultralytics_read_and_train(export: Export, readers_venv, tmp_path_factory) -> None:
    root = tmp_path_factory.mktemp("readers")
    python = readers_venv
    work = root / "work"
    env = {**os.environ, "YOLO_CONFIG_DIR": str(root / "yolo-config"), "YOLO_OFFLINE": "1", "HOME": str(root)}
    run = subprocess.run(
        [str(python), str(READERS_DIR / "torch_readers.py"), str(export.out["coco", "hardlink"]),
         str(export.out["yolo", "hardlink"]), str(work)],
        capture_output=True, text=True, env=env, timeout=600, cwd=root,
    )  # fmt: skip
    line = next((x for x in run.stdout.splitlines() if x.startswith("READERS-JSON ")), None)
    assert line, run.stdout[-3000:] + run.stderr[-3000:]
    result = json.loads(line.removeprefix("READERS-JSON "))

    for split, items in result["torchvision"].items():
        assert set(items) == set(export.in_split(split))
        for file_name, item in items.items():
            assert tuple(item["size"]) == load_image(export.folder / file_name).size
            assert_same_pixels(item["grey"], export.shown(file_name))
            assert_boxes([(b[0], b[1:]) for b in item["boxes"]], export.boxes[file_name], 1e-9)

    ultralytics = result["ultralytics"]
    assert ultralytics["nc"] == len(CLASSES) and list(ultralytics["names"].values()) == CLASSES
    flat = {n.replace("/", "__"): n for n in export.boxes}
    for split in ("train", "val"):
        items = ultralytics["splits"][split]
        assert {flat[n] for n in items} == set(export.in_split(split))
        for name, item in items.items():
            file_name = flat[name]
            width, height = load_image(export.folder / file_name).size
            assert item["shape"] == item["decoded"] == [height, width]
            assert_same_pixels(item["grey"], export.shown(file_name))
            got = [(CLASSES[c], [(cx - w / 2) * width, (cy - h / 2) * height, w * width, h * height]) for c, cx, cy, w, h in item["boxes"]]  # fmt: skip
            assert_boxes(got, export.boxes[file_name], 1e-5 * max(width, height))
    assert ultralytics["trained"]
