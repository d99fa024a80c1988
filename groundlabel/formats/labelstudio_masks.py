"""Masks in Label Studio results: ``BrushLabels`` RLE or ``PolygonLabels``, as the config says.

Which one a project takes is its labeling config's business: ``mask_control`` finds the
config's ``<BrushLabels>`` or ``<PolygonLabels>`` control (brush first, as Label Studio's
SAM examples use) and its ``name``/``toName``, and every writer (the export, the ML
backend's predictions) emits that kind. Our own export's config gets a ``BrushLabels``
control by default: brush RLE is exact to the pixel; polygons (``--ls-masks polygons``)
are editable point by point in Label Studio but lose holes.

- **Brush**: ``{"format": "rle", "rle": [...], "brushlabels": [label]}``, encoded and
  decoded by ``label_studio_sdk.converter.brush`` through ``groundlabel.masks``.
- **Polygon**: ``{"points": [[x%, y%], ...], "closed": true, "polygonlabels": [label]}``,
  percent of ``original_width``/``original_height``; one region per part of the mask.

A box's mask regions carry the box region's id plus ``-mask`` (``-mask2``... for more
parts), so reading pairs them with their rectangle; a mask region with no rectangle (drawn
in Label Studio, or sent by a SAM backend) becomes a box of its own, its box the mask's.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

from groundlabel import masks
from groundlabel.formats.dataset import FormatError

BRUSH, POLYGONS = "brush", "polygons"
MASK_STYLES = (BRUSH, POLYGONS)
MASK_SUFFIX = "-mask"
MASK_FROM_NAME = "mask"
_TYPES = {BRUSH: "brushlabels", POLYGONS: "polygonlabels"}
_TAGS = {"BrushLabels": BRUSH, "PolygonLabels": POLYGONS}


@dataclass(frozen=True)
class MaskControl:
    """The control masks go to: ``style`` (brush or polygons), its ``name`` and ``toName``."""

    style: str
    from_name: str = MASK_FROM_NAME
    to_name: str = "image"


def mask_control(config: str) -> MaskControl | None:
    """The mask control of a labeling config (XML text): brush before polygons; None without one."""
    try:
        root = ET.fromstring(config)
    except ET.ParseError as exc:
        raise FormatError("labeling config", "", f"not readable XML ({exc})") from None
    found = {}
    for element in root.iter():
        style = _TAGS.get(element.tag)
        if style and style not in found and element.get("name"):
            found[style] = MaskControl(style, element.get("name"), element.get("toName") or "image")
    return found.get(BRUSH) or found.get(POLYGONS)


def rectangle_control(config: str) -> tuple[str, str] | None:
    """``(name, toName)`` of a labeling config's first ``<RectangleLabels>``; None without one."""
    try:
        root = ET.fromstring(config)
    except ET.ParseError as exc:
        raise FormatError("labeling config", "", f"not readable XML ({exc})") from None
    element = next((e for e in root.iter("RectangleLabels") if e.get("name")), None)
    return None if element is None else (element.get("name"), element.get("toName") or "image")


def add_mask_control(
    view: ET.Element, control: MaskControl, labels: list[tuple[str, dict[str, str]]]
) -> None:
    """Append the mask control with the same ``<Label>``s as the rectangles to a config's ``<View>``."""
    tag = next(tag for tag, style in _TAGS.items() if style == control.style)
    element = ET.SubElement(view, tag, {"name": control.from_name, "toName": control.to_name})
    if control.style == BRUSH:
        element.set("smart", "true")
    for name, attributes in labels:
        ET.SubElement(element, "Label", {"value": name, **attributes})


def mask_regions(
    mask: masks.RLE,
    label: str,
    width: int,
    height: int,
    control: MaskControl,
    region_id: str,
    score: float | None = None,
) -> list[dict[str, Any]]:
    """The result items of one mask: one brush region, or one polygon region per part."""
    common = {
        "from_name": control.from_name,
        "to_name": control.to_name,
        "type": _TYPES[control.style],
        "original_width": width,
        "original_height": height,
        "image_rotation": 0,
    }
    if score is not None:
        common["score"] = float(score)
    if control.style == BRUSH:
        value = {"format": "rle", "rle": masks.to_labelstudio_brush(mask), "brushlabels": [label]}
        return [{"id": region_id, **common, "value": value}]
    regions = []
    for n, polygon in enumerate(masks.to_polygons(mask), start=1):
        points = [
            [polygon[i] / width * 100, polygon[i + 1] / height * 100] for i in range(0, len(polygon), 2)
        ]
        value = {"points": points, "closed": True, "polygonlabels": [label]}
        regions.append({"id": region_id if n == 1 else f"{region_id}{n}", **common, "value": value})
    return regions


@dataclass
class MaskPiece:
    """One mask region read back: its label, the mask (pixels) or normalised polygon, its id."""

    region_id: str
    label: str
    score: float | None
    mask: masks.RLE | None = None  # brush, or a polygon when the size is known
    polygon: tuple[float, ...] | None = None  # fractions of the size, when it is not


def is_mask_region(region: dict[str, Any]) -> bool:
    return region.get("type") in _TYPES.values()


def read_mask_region(
    region: dict[str, Any], size: tuple[int, int] | None, file: str, where: str
) -> MaskPiece:
    """A ``brushlabels`` or ``polygonlabels`` result item as a ``MaskPiece``."""
    value = region.get("value")
    kind = region["type"]
    if not isinstance(value, dict):
        raise FormatError(file, where, "a mask region needs a value")
    labels = value.get(kind)
    if not (
        isinstance(labels, list) and len(labels) == 1 and isinstance(labels[0], str) and labels[0].strip()
    ):
        raise FormatError(file, where, f"value.{kind} must name one class")
    score = region.get("score")
    score = float(score) if isinstance(score, (int, float)) and not isinstance(score, bool) else None
    piece = MaskPiece(str(region.get("id") or where), labels[0], score)
    if kind == "brushlabels":
        rle = value.get("rle")
        if value.get("format", "rle") != "rle" or not isinstance(rle, list):
            raise FormatError(file, where, 'a brush region needs "format": "rle" and an "rle" list')
        if size is None:
            raise FormatError(file, where, "a brush mask needs original_width and original_height")
        try:
            piece.mask = masks.from_labelstudio_brush(rle, *size)
        except masks.MaskError as exc:
            raise FormatError(file, where, f"the brush mask is not usable: {exc}") from None
        return piece
    points = value.get("points")
    if not (
        isinstance(points, list)
        and len(points) >= 3
        and all(isinstance(p, list) and len(p) == 2 for p in points)
    ):
        raise FormatError(file, where, "a polygon needs at least 3 [x, y] points (percent)")
    try:
        flat = tuple(float(v) / 100 for point in points for v in point)
    except (TypeError, ValueError):
        raise FormatError(file, where, "polygon points must be numbers") from None
    if size is None:
        piece.polygon = flat
    else:
        width, height = size
        pixels = [v * (width if i % 2 == 0 else height) for i, v in enumerate(flat)]
        try:
            piece.mask = masks.from_polygons([pixels], width, height)
        except masks.MaskError as exc:
            raise FormatError(file, where, f"the polygon is not usable: {exc}") from None
    return piece


def box_id_of(mask_region_id: str) -> str | None:
    """The rectangle a mask region belongs to (``gl1-2-mask`` and ``gl1-2-mask3`` -> ``gl1-2``)."""
    head, sep, tail = mask_region_id.rpartition(MASK_SUFFIX)
    return head if sep and (tail == "" or tail.isdigit()) else None
