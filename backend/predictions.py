"""Detections turned into Label Studio prediction JSON.

Label Studio stores regions in percent of the image as it shows it (EXIF-upright, the
size ``load_image`` returns), with the label's exact ``value`` from the config. Masks go
out through the core's Label Studio mask writer (Label Studio's own brush codec, OpenCV contours).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from groundlabel import masks
from groundlabel.formats.labelstudio_masks import BRUSH, MASK_SUFFIX, POLYGONS, MaskControl
from groundlabel.formats.labelstudio_masks import mask_regions as core_mask_regions
from groundlabel.masks import RLE


@dataclass(frozen=True)
class Box:
    """One detected box in pixels of the upright image, with the config's label value."""

    x0: float
    y0: float
    x1: float
    y1: float
    score: float
    label: str


def region(
    box: Box, from_name: str, to_name: str, image_size: tuple[int, int], region_id: str
) -> dict[str, Any]:
    """A ``rectanglelabels`` region; coordinates clamped to 0..100 so Label Studio accepts them."""
    width, height = image_size

    def pct(value: float, total: int) -> float:
        return min(100.0, max(0.0, value / total * 100.0))

    x, y = pct(box.x0, width), pct(box.y0, height)
    return {
        "id": region_id,
        "from_name": from_name,
        "to_name": to_name,
        "type": "rectanglelabels",
        "original_width": width,
        "original_height": height,
        "image_rotation": 0,
        "value": {
            "x": x,
            "y": y,
            "width": pct(box.x1, width) - x,
            "height": pct(box.y1, height) - y,
            "rotation": 0,
            "rectanglelabels": [box.label],
        },
        "score": float(box.score),
    }


def prediction(regions: Sequence[dict[str, Any]], version: str) -> dict[str, Any]:
    """One task's prediction; its score is the mean region score (0 with no regions)."""
    scores = [r["score"] for r in regions]
    return {
        "result": list(regions),
        "score": float(sum(scores) / len(scores)) if scores else 0.0,
        "model_version": version,
    }


def mask_regions(
    mask: RLE,
    label: str,
    from_name: str,
    result_type: str,
    to_name: str,
    region_id: str,
    score: float,
    parent_id: str | None = None,
) -> list[dict[str, Any]]:
    """A mask as Label Studio regions: one ``brushlabels`` RLE, or one ``polygonlabels`` per part.

    The regions themselves are the core's (``groundlabel.formats.labelstudio_masks``, the
    same writer as ``groundlabel export --format labelstudio``). ``parent_id`` names the
    rectangle the mask belongs to: Label Studio 1.23 keeps results that share an ``id`` as
    one region of one shape (the second shape would be dropped), and nests a region under
    the one its ``parentID`` names in the region list, so box and mask stay two shapes
    shown as one group there.
    """
    width, height = masks.size(mask)
    style = BRUSH if result_type == "brushlabels" else POLYGONS
    control = MaskControl(style, from_name, to_name)
    regions = core_mask_regions(mask, label, width, height, control, region_id, score)
    if parent_id is not None:
        for item in regions:
            item["parentID"] = parent_id
    return regions


def mask_region_id(box_id: str, index: int, from_name: str) -> str:
    """The id of a box's mask in its ``index``-th mask control.

    The first is ``<box id>-mask`` (parts ``-mask2``...), the core's convention, so an
    export of the accepted predictions read by ``groundlabel import`` pairs mask and box;
    the masks in any further control get the control's name, unique in the task.
    """
    return f"{box_id}{MASK_SUFFIX}" if index == 0 else f"{box_id}{MASK_SUFFIX}-{from_name}"
