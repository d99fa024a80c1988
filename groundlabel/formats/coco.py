"""COCO detection JSON, the shape both ``detect`` output and dataset export use.

Ids start at 1 (id 0 breaks pycocotools' evaluation), categories keep class order,
``bbox`` is [x, y, width, height] in pixels of the image as shown. ``build_coco`` is what
``groundlabel detect`` writes; ``write_coco_dataset``/``read_coco`` are the dataset format.

Every annotation has ``segmentation`` (Datumaro warns for each one without it): ``[]`` for
a box without a mask, as Datumaro itself writes, else the mask in one of two encodings:

- **polygons** (the dataset export's default, ``iscrowd: 0``): what every COCO trainer reads
  for instance masks. Detectron2's default ``mask_format="polygon"``, Ultralytics'
  ``convert_coco(use_segments=True)``, YOLOX and transformers' COCO image processors take
  polygons and fail or skip on RLE; MMDetection, torchvision's references and Datumaro take
  both. Outer contours on pixel edges (``masks.to_polygons``): IoU >= 0.98 with the mask;
  holes are lost.
- **RLE** (``detect -o``, and the export's ``coco_masks="rle"``): pycocotools' compressed
  RLE, exact to the pixel. ``detect`` writes scored predictions, and COCO's results format
  (``COCO.loadRes``, ``COCOeval(iouType="segm")``) computes areas from RLE only. Written with
  ``iscrowd: 0``: crowd regions are ignored in training by torchvision and Detectron2.

``area`` is the mask's pixel count when there is a mask, else the box's area.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from groundlabel import masks
from groundlabel.atomic import write_json_atomic
from groundlabel.formats.dataset import (
    Dataset,
    DatasetBox,
    DatasetImage,
    FormatError,
    Progress,
    read_json_file,
    tick,
)
from groundlabel.formats.images_out import ImagePlacer
from groundlabel.formats.staging import write_json


@dataclass
class CocoBox:
    xyxy: Sequence[float]
    category_index: int  # 0-based position in the class list
    score: float | None = None
    mask: masks.RLE | None = None
    mask_score: float | None = None


#: The two ``segmentation`` encodings (see the module docstring).
SEGMENTATION_ENCODINGS = ("polygons", "rle")


def segmentation_field(mask: masks.RLE | None, encoding: str) -> list[list[float]] | dict[str, Any]:
    """A mask as COCO ``segmentation``: ``[]`` without one, else polygons or compressed RLE."""
    if mask is None:
        return []
    if encoding == "rle":
        return masks.normalise(mask)
    if encoding != "polygons":
        raise ValueError(f"unknown COCO segmentation encoding {encoding!r}: use polygons or rle")
    return masks.to_polygons(mask)


def coco_boxes(result: Any) -> list[CocoBox]:
    """A ``DetectionResult``'s boxes, with its masks and mask scores when it has them."""
    count = len(result.boxes)
    box_masks = list(result.masks) if result.masks else [None] * count
    mask_scores = list(result.mask_scores) if result.mask_scores else [None] * count
    rows = zip(result.boxes, result.class_ids, result.scores, box_masks, mask_scores, strict=True)
    return [CocoBox(b, c, s, m, ms) for b, c, s, m, ms in rows]


@dataclass
class CocoImageEntry:
    file_name: str
    width: int
    height: int
    boxes: list[CocoBox] = field(default_factory=list)


def build_coco(
    entries: Iterable[CocoImageEntry],
    class_names: Sequence[str],
    info: dict[str, Any] | None = None,
    segmentation: str = "rle",
) -> dict[str, Any]:
    """A COCO document; masks as ``segmentation`` (``"rle"``, exact, or ``"polygons"``)."""
    images, annotations = [], []
    for image_id, entry in enumerate(entries, start=1):
        images.append(
            {"id": image_id, "file_name": entry.file_name, "width": entry.width, "height": entry.height}
        )
        for box in entry.boxes:
            x0, y0, x1, y1 = (float(v) for v in box.xyxy)
            width, height = x1 - x0, y1 - y0
            annotation: dict[str, Any] = {
                "id": len(annotations) + 1,
                "image_id": image_id,
                "category_id": box.category_index + 1,
                "bbox": [x0, y0, width, height],
                "area": width * height if box.mask is None else float(masks.area(box.mask)),
                "segmentation": segmentation_field(box.mask, segmentation),
                "iscrowd": 0,
            }
            if box.score is not None:
                annotation["score"] = float(box.score)
            if box.mask_score is not None:
                annotation["mask_score"] = float(box.mask_score)
            annotations.append(annotation)
    categories = [{"id": i, "name": name, "supercategory": ""} for i, name in enumerate(class_names, start=1)]
    document: dict[str, Any] = {"info": info or {}, "images": images, "annotations": annotations}
    document["categories"] = categories
    return document


COCO_FILE = "annotations.json"
IMAGES, ANNOTATIONS = "images", "annotations"


def coco_output_path(out: Path) -> Path:
    """``-o x.json`` names the file; any other ``-o`` is a folder that gets ``annotations.json``."""
    return out if out.suffix.lower() == ".json" else out / COCO_FILE


def split_annotation_path(out: Path, split: str) -> Path:
    return out / ANNOTATIONS / f"instances_{split}.json"


def _coco_document(
    dataset: Dataset, images: list[DatasetImage], progress: Progress | None, segmentation: str
) -> dict[str, Any]:
    index = {name: i for i, name in enumerate(dataset.class_names)}
    entries = []
    for image in images:
        # Exports are reviewed ground truth: no "score", which would make them read as predictions.
        boxes = [CocoBox(box.xyxy, index[box.class_name], mask=box.mask) for box in image.boxes]
        entries.append(CocoImageEntry(image.file_name, int(image.width or 0), int(image.height or 0), boxes))
        tick(progress)
    return build_coco(entries, dataset.class_names, {"description": "groundlabel export"}, segmentation)


def write_coco_dataset(
    dataset: Dataset,
    out: Path,
    progress: Progress | None = None,
    placer: ImagePlacer | None = None,
    *,
    coco_masks: str = "polygons",
) -> list[Path]:
    """Write a dataset as COCO; no timestamps, so the same project exports byte-identical files.

    Masks are written as ``coco_masks``: ``"polygons"`` (default, what trainers read) or
    ``"rle"`` (exact pixels); see the module docstring for why.

    With a ``placer`` (a dataset folder) the layout is Datumaro's and CVAT's:
    ``images/<split>/<path>`` and ``annotations/instances_<split>.json`` whose ``file_name``
    is relative to ``images/<split>/`` (torchvision's ``CocoDetection(root, annFile)``).
    Without one, all images go into the single file ``coco_output_path(out)``.
    """
    if placer is None:
        path = coco_output_path(out)
        write_json_atomic(path, _coco_document(dataset, dataset.images, progress, coco_masks))
        return [path]
    written = []
    for split in dataset.splits:
        images = dataset.split_images(split)
        for image in images:
            placer.place(image.file_name, out / IMAGES / split / image.file_name)
        path = split_annotation_path(out, split)
        write_json(path, _coco_document(dataset, images, progress, coco_masks))
        written.append(path)
    return written


def _id(value: Any) -> Any:
    """An id as a dict key: ids are numbers or text; anything else (a list, an object) matches
    nothing, so it gets the same one-line error as an unknown id instead of a TypeError."""
    return value if isinstance(value, (int, float, str)) and not isinstance(value, bool) else _NO_ID


_NO_ID = object()


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def read_coco(path: Path, progress: Progress | None = None) -> Dataset:
    """Read COCO detection JSON, or a dataset folder of ``annotations/instances_<split>.json``."""
    if path.is_dir() and (path / ANNOTATIONS).is_dir():
        return _read_coco_folder(path, progress)
    if path.is_dir():
        path = path / COCO_FILE
    return read_coco_file(path, progress)


def _read_coco_folder(path: Path, progress: Progress | None) -> Dataset:
    files = sorted((path / ANNOTATIONS).glob("instances_*.json"))
    if not files:
        raise FormatError(str(path / ANNOTATIONS), "", "no instances_<split>.json files")
    merged: Dataset | None = None
    for file in files:
        part = read_coco_file(file, progress)
        split = file.stem.removeprefix("instances_")
        for image in part.images:
            image.file, image.split = part.source, split
        if merged is None:
            merged = part
            merged.source, merged.splits = str(path), [split]
            continue
        if part.class_names != merged.class_names:
            raise FormatError(part.source, "categories", f"differ from those of {files[0]}")
        merged.images.extend(part.images)
        merged.splits.append(split)
    assert merged is not None
    return merged


def _read_segmentation(value: Any, image: DatasetImage, file: str, where: str) -> masks.RLE | None:
    """An annotation's ``segmentation`` (polygons, compressed or uncompressed RLE) as a mask;
    None when absent or empty (a box without a mask)."""
    if value is None or value == [] or value == [[]]:
        return None
    width, height = int(image.width or 0), int(image.height or 0)
    if isinstance(value, list):
        if not all(
            isinstance(p, list) and len(p) >= 6 and len(p) % 2 == 0 and all(_number(v) for v in p)
            for p in value
        ):
            raise FormatError(file, where, '"segmentation" polygons must be lists of at least 3 x, y pairs')
        try:
            return masks.from_polygons(value, width, height)
        except masks.MaskError as exc:
            raise FormatError(file, where, f'"segmentation" {exc}') from None
    if not (isinstance(value, dict) and isinstance(value.get("size"), list) and "counts" in value):
        raise FormatError(file, where, '"segmentation" must be polygons or an RLE with "size" and "counts"')
    if value["size"] != [height, width]:
        raise FormatError(
            file, where, f"the RLE mask is {value['size']} (h, w) but the image is [{height}, {width}]"
        )
    try:
        return masks.check(value, width, height)
    except masks.MaskError as exc:
        raise FormatError(file, where, f'"segmentation" is not a usable RLE: {exc}') from None


def read_coco_file(path: Path, progress: Progress | None = None) -> Dataset:
    """Read one COCO detection JSON (ground truth, or ``groundlabel detect`` output with scores)."""
    file = str(path)
    document = read_json_file(path)
    if not isinstance(document, dict) or not isinstance(document.get("images"), list):
        raise FormatError(file, "", 'not COCO: expected an object with an "images" list')
    for key in ("annotations", "categories"):
        if not isinstance(document.get(key, []), list):
            raise FormatError(file, key, "must be a list")

    categories: dict[Any, str] = {}
    for i, category in enumerate(document.get("categories", [])):
        where = f"categories[{i}]"
        if (
            not isinstance(category, dict)
            or _id(category.get("id")) is _NO_ID
            or not isinstance(category.get("name"), str)
        ):
            raise FormatError(file, where, 'needs "id" and a text "name"')
        if category["id"] in categories:
            raise FormatError(file, where, f"category id {category['id']} is used twice")
        if not category["name"].strip():
            raise FormatError(file, where, "the category name is empty")
        categories[category["id"]] = category["name"]
    names = list(categories.values())
    if len(set(names)) != len(names):
        raise FormatError(file, "categories", "two categories have the same name")

    images: dict[Any, DatasetImage] = {}
    for i, entry in enumerate(document["images"]):
        where = f"images[{i}]"
        if (
            not isinstance(entry, dict)
            or _id(entry.get("id")) is _NO_ID
            or not isinstance(entry.get("file_name"), str)
        ):
            raise FormatError(file, where, 'needs "id" and a text "file_name"')
        width, height = entry.get("width"), entry.get("height")
        if not (isinstance(width, int) and isinstance(height, int) and width > 0 and height > 0):
            raise FormatError(
                file, f"{where} ({entry['file_name']})", '"width" and "height" must be positive integers'
            )
        if entry["id"] in images:
            raise FormatError(file, where, f"image id {entry['id']} is used twice")
        images[entry["id"]] = DatasetImage(entry["file_name"], width, height, entry=where)

    any_score = False
    for i, annotation in enumerate(document.get("annotations", [])):
        where = f"annotations[{i}]"
        if not isinstance(annotation, dict):
            raise FormatError(file, where, "must be an object")
        if "id" in annotation:
            where += f" (id {annotation['id']})"
        image = images.get(_id(annotation.get("image_id")))
        if image is None:
            raise FormatError(file, where, f'image_id {annotation.get("image_id")!r} is not in "images"')
        name = categories.get(_id(annotation.get("category_id")))
        if name is None:
            raise FormatError(file, where, f"unknown class: category_id {annotation.get('category_id')!r}")
        bbox = annotation.get("bbox")
        if not (isinstance(bbox, list) and len(bbox) == 4 and all(_number(v) for v in bbox)):
            raise FormatError(file, where, '"bbox" must be [x, y, width, height] numbers')
        x, y, w, h = (float(v) for v in bbox)
        if w < 0 or h < 0:
            raise FormatError(file, where, f"bbox {bbox} has a negative width or height")
        score = annotation.get("score")
        if score is not None and not _number(score):
            raise FormatError(file, where, '"score" must be a number')
        any_score = any_score or score is not None
        mask = _read_segmentation(annotation.get("segmentation"), image, file, where)
        mask_score = annotation.get("mask_score")
        image.boxes.append(
            DatasetBox(
                (x, y, x + w, y + h),
                name,
                None if score is None else float(score),
                where,
                mask=mask,
                mask_score=float(mask_score) if mask is not None and _number(mask_score) else None,
            )
        )
    for image in images.values():
        image.labelled = not any_score
        tick(progress)

    info = document.get("info") if isinstance(document.get("info"), dict) else {}
    return Dataset(
        class_names=names,
        images=list(images.values()),
        source=file,
        model=info.get("model") if isinstance(info.get("model"), str) else None,
        box_threshold=info.get("box_threshold") if _number(info.get("box_threshold")) else None,
        text_threshold=info.get("text_threshold") if _number(info.get("text_threshold")) else None,
    )
