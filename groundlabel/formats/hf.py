"""Hugging Face ``datasets`` imagefolder: ``<split>/<path>`` images and ``<split>/metadata.jsonl``.

``datasets.load_dataset("imagefolder", data_dir=OUT)`` turns each folder into a split
(``val`` becomes ``validation``) and each metadata row into the shape the transformers
object-detection fine-tuning guide uses::

    {"file_name": "sub/a.jpg", "image_id": 3, "width": 640, "height": 480,
     "objects": {"id": [7], "area": [1200.0], "bbox": [[x, y, w, h]],
                 "category": [0], "category_name": ["cup"]}}

``bbox`` is COCO's [x, y, width, height] in pixels of the image as shown, ``category`` the
class's index in the project's class order (0-based) and ``category_name`` its name, so the
names travel with the rows (imagefolder ignores a dataset card's features when loading a
folder). ``image_id`` and ``id`` count from 1 across the whole export. Rows are in file
order, so the same project exports byte-identical files.

With masks, ``objects`` gains ``segmentation``: per object the mask as COCO RLE
(``{"size": [h, w], "counts": str}``, pycocotools' compressed form, exact to the pixel).
A box without a mask gets the empty mask (no pixels; read back as no mask), not null:
``datasets`` refuses splits whose metadata infer different features, and a split holding
only unmasked boxes would infer null. RLE rather than polygons: a row stays small (a string per
object, where polygons are long float lists), the pixels are exact, and
``pycocotools.mask.decode`` gives the binary masks that transformers' segmentation
processors (Mask2Former, MaskFormer) take as ``segmentation_maps``/instance masks.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from groundlabel import masks
from groundlabel.formats.dataset import Dataset, DatasetBox, DatasetImage, FormatError, Progress, tick
from groundlabel.formats.images_out import ImagePlacer
from groundlabel.formats.staging import write_text

METADATA = "metadata.jsonl"


def _row(
    image: DatasetImage, image_id: int, first_box_id: int, index: dict[str, int], with_masks: bool = False
) -> dict[str, Any]:
    objects: dict[str, list[Any]] = {"id": [], "area": [], "bbox": [], "category": [], "category_name": []}
    if with_masks:
        empty = masks.encode(np.zeros((int(image.height or 0), int(image.width or 0)), dtype=bool))
        objects["segmentation"] = [
            empty if box.mask is None else masks.normalise(box.mask) for box in image.boxes
        ]
    for n, box in enumerate(image.boxes):
        x0, y0, x1, y1 = (float(v) for v in box.xyxy)
        objects["id"].append(first_box_id + n)
        objects["area"].append((x1 - x0) * (y1 - y0))
        objects["bbox"].append([x0, y0, x1 - x0, y1 - y0])
        objects["category"].append(index[box.class_name])
        objects["category_name"].append(box.class_name)
    return {
        "file_name": image.file_name,
        "image_id": image_id,
        "width": int(image.width or 0),
        "height": int(image.height or 0),
        "objects": objects,
    }


def write_hf(
    dataset: Dataset, out: Path, progress: Progress | None = None, placer: ImagePlacer | None = None
) -> list[Path]:
    index = {name: i for i, name in enumerate(dataset.class_names)}
    rows: dict[str, list[str]] = {split: [] for split in dataset.splits}
    box_id = 1
    for image_id, image in enumerate(dataset.images, start=1):
        row = _row(image, image_id, box_id, index, dataset.has_masks)
        rows[image.split].append(json.dumps(row, ensure_ascii=False))
        box_id += len(image.boxes)
        if placer is not None:
            placer.place(image.file_name, out / image.split / image.file_name)
        tick(progress)
    written = []
    for split, lines in rows.items():
        if lines:  # an empty split folder would make load_dataset fail
            path = out / split / METADATA
            write_text(path, "".join(f"{line}\n" for line in lines))
            written.append(path)
    return written


def read_hf(path: Path, progress: Progress | None = None) -> Dataset:
    """Read an imagefolder export: every ``<split>/metadata.jsonl`` below ``path``."""
    if not path.is_dir():
        raise FormatError(str(path), "", "expected the folder holding <split>/metadata.jsonl")
    files = sorted(path.glob(f"*/{METADATA}")) or sorted(path.glob(METADATA))
    if not files:
        raise FormatError(str(path), "", f"no {METADATA} in it or in its split folders")
    dataset = Dataset(class_names=[], source=str(path), splits=[])
    order: dict[str, int] = {}  # class name -> its "category" index
    for file in files:
        split = file.parent.name if file.parent != path else "train"
        dataset.splits.append(split)
        for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), start=1):
            if line.strip():
                dataset.images.append(
                    _read_row(line, str(file), f"line {number}", split, dataset.class_names, order)
                )
                tick(progress)
    # Class order: each name at its rows' "category" index; names without one keep first-seen order.
    seen = list(enumerate(dataset.class_names))
    dataset.class_names = [
        name for _, name in sorted(seen, key=lambda p: (order.get(p[1], len(order)), p[0]))
    ]
    return dataset


def _read_row(
    line: str, file: str, where: str, split: str, names: list[str], order: dict[str, int]
) -> DatasetImage:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise FormatError(file, where, f"not JSON ({exc})") from None
    if not isinstance(row, dict) or not isinstance(row.get("file_name"), str):
        raise FormatError(file, where, 'needs a text "file_name"')
    width, height = row.get("width"), row.get("height")
    sized = isinstance(width, int) and isinstance(height, int)
    image = DatasetImage(
        row["file_name"], width if sized else None, height if sized else None, entry=where, file=file
    )
    image.split = split
    objects = row.get("objects") or {}
    bboxes = objects.get("bbox") or [] if isinstance(objects, dict) else None
    if not isinstance(bboxes, list):
        raise FormatError(file, where, '"objects" must hold a "bbox" list')
    classes = objects.get("category_name") or objects.get("category") or []
    indexes = objects.get("category") if objects.get("category_name") else None
    if isinstance(indexes, list) and len(indexes) == len(classes):
        for index, name in zip(indexes, classes, strict=True):
            if isinstance(index, int):
                order.setdefault(str(name), index)
    if len(classes) != len(bboxes):
        raise FormatError(file, where, "objects.bbox and objects.category_name differ in length")
    segmentations = objects.get("segmentation") or [None] * len(bboxes)
    if not isinstance(segmentations, list) or len(segmentations) != len(bboxes):
        raise FormatError(file, where, "objects.segmentation and objects.bbox differ in length")
    for n, (bbox, name) in enumerate(zip(bboxes, classes, strict=True)):
        if not (isinstance(bbox, list) and len(bbox) == 4 and all(isinstance(v, (int, float)) for v in bbox)):
            raise FormatError(file, f"{where} objects.bbox[{n}]", "must be [x, y, width, height] numbers")
        x, y, w, h = (float(v) for v in bbox)
        name = str(name)
        if name not in names:
            names.append(name)
        mask = _read_mask(segmentations[n], image, file, f"{where} objects.segmentation[{n}]")
        image.boxes.append(DatasetBox((x, y, x + w, y + h), name, None, f"{where} objects[{n}]", mask=mask))
    return image


def _read_mask(value: Any, image: DatasetImage, file: str, where: str) -> masks.RLE | None:
    if value is None:
        return None
    if not (isinstance(value, dict) and isinstance(value.get("size"), list) and "counts" in value):
        raise FormatError(file, where, 'must be null or a COCO RLE {"size": [h, w], "counts": ...}')
    if image.width is not None and value["size"] != [image.height, image.width]:
        raise FormatError(
            file, where, f"the mask is {value['size']} (h, w) but the image is {image.width}x{image.height}"
        )
    try:
        mask = masks.check(value, image.width, image.height)  # the door: counts, size, codes
    except masks.MaskError as exc:
        raise FormatError(file, where, f"not a usable RLE: {exc}") from None
    return mask if masks.area(mask) else None  # the empty mask stands for "no mask"
