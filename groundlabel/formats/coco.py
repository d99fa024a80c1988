"""COCO detection JSON, the shape both ``detect`` output and dataset export use.

Ids start at 1 (id 0 breaks pycocotools' evaluation), categories keep class order,
``bbox`` is [x, y, width, height] in pixels of the image as shown.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class CocoBox:
    xyxy: Sequence[float]
    category_index: int  # 0-based position in the class list
    score: float | None = None


@dataclass
class CocoImageEntry:
    file_name: str
    width: int
    height: int
    boxes: list[CocoBox] = field(default_factory=list)


def build_coco(
    entries: Iterable[CocoImageEntry], class_names: Sequence[str], info: dict[str, Any] | None = None
) -> dict[str, Any]:
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
                "area": width * height,
                "iscrowd": 0,
            }
            if box.score is not None:
                annotation["score"] = float(box.score)
            annotations.append(annotation)
    categories = [{"id": i, "name": name, "supercategory": ""} for i, name in enumerate(class_names, start=1)]
    document: dict[str, Any] = {"info": info or {}, "images": images, "annotations": annotations}
    document["categories"] = categories
    return document
