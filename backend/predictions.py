"""Detections turned into Label Studio prediction JSON.

Label Studio stores regions in percent of the image as it shows it (EXIF-upright, the
size ``load_image`` returns), with the label's exact ``value`` from the config.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


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
