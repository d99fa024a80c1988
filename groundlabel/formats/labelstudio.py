"""Label Studio: a tasks JSON to import as is, and the labeling config that matches it.

Each task is ``{"data": {"image": URL, "file_name": PATH}, "annotations"|"predictions":
[{"result": [...]}]}``; each result item is a ``rectanglelabels`` region whose ``value``
holds x, y, width, height in percent of ``original_width``/``original_height`` (the
size as shown). Percentages are written unrounded, so the round trip is exact up to
float arithmetic. The config is ``<View><Image name="image" value="$image"/>
<RectangleLabels name="label" toName="image">`` with one ``<Label>`` per class, in class
order, written with ElementTree. URLs default to Label Studio's local-files form
``/data/local-files/?d=<path>``; set the prefix to match the server's document root.

Reading accepts Label Studio's JSON export: per task, the most recent non-cancelled
annotation (labelled by a person), else the most recent prediction (with scores); tasks
with neither are skipped.

Masks: when the dataset has them, the config also gets a ``BrushLabels`` (default) or
``PolygonLabels`` control and each masked box its mask regions beside its rectangle; see
``labelstudio_masks`` for the encodings, the pairing and how a config picks the kind.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from groundlabel import masks
from groundlabel.atomic import write_json_atomic, write_text_atomic
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
from groundlabel.formats.labelstudio_masks import (
    BRUSH,
    MASK_STYLES,
    MASK_SUFFIX,
    MaskControl,
    MaskPiece,
    add_mask_control,
    box_id_of,
    is_mask_region,
    mask_control,
    mask_regions,
    read_mask_region,
    rectangle_control,
)

TASKS_FILE = "tasks.json"
CONFIG_FILE = "labeling-config.xml"
DEFAULT_URL_PREFIX = "/data/local-files/?d="
FROM_NAME, TO_NAME = "label", "image"


def output_paths(out: Path) -> tuple[Path, Path]:
    """``-o x.json`` gives x.json + x.labeling-config.xml; a folder gets tasks.json + labeling-config.xml."""
    if out.suffix.lower() == ".json":
        return out, out.with_name(f"{out.stem}.{CONFIG_FILE}")
    return out / TASKS_FILE, out / CONFIG_FILE


def labeling_config(
    class_names: list[str], colours: dict[str, str] | None = None, mask: MaskControl | None = None
) -> str:
    """Image + RectangleLabels, and with ``mask`` its BrushLabels or PolygonLabels control."""
    view = ET.Element("View")
    ET.SubElement(view, "Image", {"name": TO_NAME, "value": "$image"})
    rectangles = ET.SubElement(view, "RectangleLabels", {"name": FROM_NAME, "toName": TO_NAME})
    labels = []
    for name in class_names:
        attributes = {"background": colours[name]} if colours and name in colours else {}
        labels.append((name, attributes))
        ET.SubElement(rectangles, "Label", {"value": name, **attributes})
    if mask is not None:
        add_mask_control(view, mask, labels)
    ET.indent(view)
    return ET.tostring(view, encoding="unicode") + "\n"


def _region(
    box: DatasetBox,
    width: int,
    height: int,
    region_id: str,
    with_score: bool,
    names: tuple[str, str] = (FROM_NAME, TO_NAME),
) -> dict[str, Any]:
    x0, y0, x1, y1 = box.xyxy
    region: dict[str, Any] = {
        "id": region_id,
        "from_name": names[0],
        "to_name": names[1],
        "type": "rectanglelabels",
        "original_width": width,
        "original_height": height,
        "image_rotation": 0,
        "value": {
            "x": x0 / width * 100,
            "y": y0 / height * 100,
            "width": (x1 - x0) / width * 100,
            "height": (y1 - y0) / height * 100,
            "rotation": 0,
            "rectanglelabels": [box.class_name],
        },
    }
    if with_score and box.score is not None:
        region["score"] = box.score
    return region


def build_tasks(
    dataset: Dataset,
    as_predictions: bool,
    url_prefix: str,
    model_version: str,
    progress: Progress | None = None,
    mask: MaskControl | None = None,
    box_names: tuple[str, str] = (FROM_NAME, TO_NAME),
) -> list[dict[str, Any]]:
    tasks = []
    for image_number, image in enumerate(dataset.images, start=1):
        width, height = int(image.width or 0), int(image.height or 0)
        result = []
        for n, box in enumerate(image.boxes, start=1):
            region_id = f"gl{image_number}-{n}"
            result.append(_region(box, width, height, region_id, as_predictions, box_names))
            if mask is not None and box.mask is not None:
                score = box.mask_score if as_predictions else None
                result += mask_regions(
                    box.mask, box.class_name, width, height, mask, region_id + MASK_SUFFIX, score
                )
        task: dict[str, Any] = {
            "data": {"image": f"{url_prefix}{image.file_name}", "file_name": image.file_name}
        }
        if as_predictions:
            scores = [b.score for b in image.boxes if b.score is not None]
            prediction: dict[str, Any] = {"model_version": model_version, "result": result}
            if scores:
                prediction["score"] = sum(scores) / len(scores)
            task["predictions"] = [prediction]
        else:
            task["annotations"] = [{"result": result}]
        tasks.append(task)
        tick(progress)
    return tasks


def write_labelstudio(
    dataset: Dataset,
    out: Path,
    progress: Progress | None = None,
    placer: ImagePlacer | None = None,
    *,
    as_predictions: bool = False,
    url_prefix: str = DEFAULT_URL_PREFIX,
    ls_masks: str = BRUSH,
    ls_config: str | None = None,
) -> list[Path]:
    """Tasks and config; with a ``placer`` the images too, at ``OUT/<path>``, so the default
    URLs resolve for a Label Studio whose local-files document root (and storage) is OUT.

    Masks go out as ``ls_masks`` (brush or polygons). With ``ls_config`` (the text of the
    target project's labeling config) its controls decide instead: boxes go to its
    ``RectangleLabels``, masks to its ``BrushLabels`` or ``PolygonLabels``, and that config is
    the one written beside the tasks."""
    tasks_path, config_path = output_paths(out)
    model_version = dataset.model or "groundlabel"
    if ls_masks not in MASK_STYLES:
        raise FormatError(str(out), "", f"unknown mask style {ls_masks!r}: use brush or polygons")
    mask = MaskControl(ls_masks, to_name=TO_NAME) if dataset.has_masks else None
    box_names = (FROM_NAME, TO_NAME)
    if ls_config is not None:
        box_names = rectangle_control(ls_config) or _refuse_config("RectangleLabels control for the boxes")
        if dataset.has_masks:
            mask = mask_control(ls_config) or _refuse_config(
                "BrushLabels or PolygonLabels control for the masks"
            )
    tasks = build_tasks(dataset, as_predictions, url_prefix, model_version, progress, mask, box_names)
    if len(dataset.splits) > 1:
        for task, image in zip(tasks, dataset.images, strict=True):
            task["data"]["split"] = image.split
    write_json_atomic(tasks_path, tasks)
    config = (
        ls_config if ls_config is not None else labeling_config(dataset.class_names, dataset.colours, mask)
    )
    write_text_atomic(config_path, config)
    if placer is not None:
        for image in dataset.images:
            placer.place(image.file_name, out / image.file_name)
    return [tasks_path, config_path]


def _refuse_config(missing: str) -> Any:
    raise FormatError(
        "--ls-config", "", f"the labeling config has no {missing}; add one, or leave out --ls-config"
    )


_UPLOAD_PREFIX = re.compile(r"^[0-9a-f]{8}-")


def file_name_from_url(url: str) -> str:
    """The image path a task's URL points at: ``?d=`` of local files, else the URL's path.

    Label Studio renames uploads to ``<8 hex>-<name>``; that prefix is dropped.
    """
    parsed = urlparse(url)
    local = parse_qs(parsed.query).get("d")
    if local:
        return local[0].lstrip("/")
    path = unquote(parsed.path)
    if path.startswith("/data/upload/"):
        return _UPLOAD_PREFIX.sub("", path.rsplit("/", 1)[-1])
    return path.lstrip("/")


def _latest(items: list[Any], file: str, where: str) -> dict[str, Any] | None:
    """The most recently updated, not cancelled item. Label Studio's JSON export lists
    predictions as bare ids (no result), so numbers are passed over."""
    if not isinstance(items, list) or not all(isinstance(i, (dict, int)) for i in items):
        raise FormatError(file, where, "must be a list of objects")
    usable = [i for i in items if isinstance(i, dict) and not i.get("was_cancelled")]
    # ISO timestamps sort as text; items without one keep their list order.
    return max(enumerate(usable), key=lambda p: (str(p[1].get("updated_at") or ""), p[0]), default=(0, None))[
        1
    ]


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _read_region(region: Any, file: str, where: str) -> tuple[DatasetBox, tuple[int, int] | None] | None:
    if not isinstance(region, dict):
        raise FormatError(file, where, "must be an object")
    if region.get("type") != "rectanglelabels":
        return None  # other controls (choices, text...) carry no boxes
    value = region.get("value")
    if not isinstance(value, dict) or not all(_number(value.get(k)) for k in ("x", "y", "width", "height")):
        raise FormatError(file, where, "value needs numeric x, y, width and height (percent)")
    labels = value.get("rectanglelabels")
    if not (isinstance(labels, list) and labels and all(isinstance(n, str) and n.strip() for n in labels)):
        raise FormatError(file, where, "value.rectanglelabels must name a class")
    if len(labels) > 1:
        raise FormatError(file, where, f"a box with several classes {labels} is not supported")
    if _number(value.get("rotation")) and value["rotation"] % 360 != 0:
        raise FormatError(file, where, "rotated boxes are not supported")
    if value["width"] < 0 or value["height"] < 0:
        raise FormatError(file, where, "width and height must be >= 0")
    width, height = region.get("original_width"), region.get("original_height")
    size = (
        (int(width), int(height)) if _number(width) and _number(height) and width > 0 and height > 0 else None
    )
    score = region.get("score")
    percent = (value["x"], value["y"], value["x"] + value["width"], value["y"] + value["height"])
    box = DatasetBox(
        tuple(float(v) for v in percent), labels[0], float(score) if _number(score) else None, where
    )
    return box, size


def _region_size(region: dict[str, Any]) -> tuple[int, int] | None:
    width, height = region.get("original_width"), region.get("original_height")
    if _number(width) and _number(height) and width > 0 and height > 0:
        return int(width), int(height)
    return None


def _attach_mask_pieces(
    image: DatasetImage, pieces: list[MaskPiece], boxes_by_id: dict[str, int], file: str, where: str
) -> None:
    """Give each rectangle the union of its mask regions; unpaired mask regions become boxes."""
    grouped: dict[int, list[MaskPiece]] = {}
    for piece in pieces:
        owner = box_id_of(piece.region_id)
        index = boxes_by_id.get(owner) if owner is not None else None
        if index is None:
            image.boxes.append(_box_of_mask(piece, image))
            continue
        if piece.label != image.boxes[index].class_name:
            raise FormatError(
                file,
                where,
                f"mask {piece.region_id} is {piece.label!r} but its box is {image.boxes[index].class_name!r}",
            )
        grouped.setdefault(index, []).append(piece)
    for index, group in grouped.items():
        box = image.boxes[index]
        if all(p.mask is not None for p in group):
            merged = masks.merge([p.mask for p in group])
            image.boxes[index] = replace(box, mask=merged, mask_score=group[0].score)
        else:
            image.boxes[index] = replace(box, polygons=tuple(p.polygon for p in group if p.polygon))


def _box_of_mask(piece: MaskPiece, image: DatasetImage) -> DatasetBox:
    """A mask region without a rectangle: a box around it (normalised when the size is unknown)."""
    if piece.mask is not None:
        return DatasetBox(masks.bbox(piece.mask), piece.label, piece.score, piece.region_id, mask=piece.mask)
    xs, ys = piece.polygon[0::2], piece.polygon[1::2]
    image.normalised = True
    return DatasetBox((min(xs), min(ys), max(xs), max(ys)), piece.label, piece.score, piece.region_id,
                      polygons=(piece.polygon,), box_from_mask=True)  # fmt: skip


def read_labelstudio(path: Path, progress: Progress | None = None) -> Dataset:
    """Read a Label Studio JSON export (or our tasks file): boxes in pixels when sizes are known.

    Boxes keep percent coordinates (``normalised``-style, scaled on import) when a task
    gives no ``original_width``/``original_height``.
    """
    if path.is_dir():
        path = path / TASKS_FILE
    file = str(path)
    document = read_json_file(path)
    if isinstance(document, dict):
        document = [document]
    if not isinstance(document, list):
        raise FormatError(file, "", "not a Label Studio export: expected a list of tasks")
    names: list[str] = []
    images = []
    for i, task in enumerate(document):
        where = f"task {task.get('id', i)}" if isinstance(task, dict) else f"[{i}]"
        data = task.get("data") if isinstance(task, dict) else None
        if not isinstance(data, dict) or not isinstance(data.get("image"), str):
            raise FormatError(file, where, 'needs "data": {"image": URL}')
        annotation = _latest(task.get("annotations") or [], file, f"{where} annotations")
        chosen = annotation or _latest(task.get("predictions") or [], file, f"{where} predictions")
        if chosen is None:
            continue
        result = chosen.get("result") or []
        if not isinstance(result, list):
            raise FormatError(file, where, '"result" must be a list')
        file_name = data.get("file_name") if isinstance(data.get("file_name"), str) else None
        image = DatasetImage(file_name or file_name_from_url(data["image"]), None, None, entry=where)
        image.labelled = annotation is not None
        regions, mask_items = [], []
        for n, region in enumerate(result):
            if isinstance(region, dict) and is_mask_region(region):
                mask_items.append((region, f"{where} result[{n}]"))
                continue
            read = _read_region(region, file, f"{where} result[{n}]")
            if read is not None:
                regions.append((*read, region.get("id")))
        sizes = {size for _, size, _ in regions if size is not None} | {
            _region_size(region) for region, _ in mask_items if _region_size(region) is not None
        }
        if len(sizes) > 1:
            raise FormatError(file, where, f"regions disagree on the image size: {sorted(sizes)}")
        if sizes:
            image.width, image.height = sizes.pop()
        size = None if image.width is None else (image.width, image.height)
        pieces = [read_mask_region(region, size, file, at) for region, at in mask_items]
        boxes_by_id: dict[str, int] = {}
        for box, _, region_id in regions:
            if image.width is None:
                scaled = tuple(v / 100 for v in box.xyxy)
                image.normalised = True
            else:
                w, h = image.width, image.height
                x0, y0, x1, y1 = box.xyxy
                scaled = (x0 / 100 * w, y0 / 100 * h, x1 / 100 * w, y1 / 100 * h)
            if region_id is not None:
                boxes_by_id[str(region_id)] = len(image.boxes)
            image.boxes.append(DatasetBox(scaled, box.class_name, box.score, box.entry))
        _attach_mask_pieces(image, pieces, boxes_by_id, file, where)
        for box in image.boxes:
            if box.class_name not in names:
                names.append(box.class_name)
        images.append(image)
        tick(progress)
    model = next((str(p.get("model_version")) for t in document if isinstance(t, dict)
                  for p in (t.get("predictions") if isinstance(t.get("predictions"), list) else [])
                  if isinstance(p, dict) and p.get("model_version")), None)  # fmt: skip
    return Dataset(class_names=names, images=images, source=file, model=model)
