"""groundlabel.masks: RLE round trips exactly, polygons round trip to IoU >= 0.98, brush RLE exactly."""

from __future__ import annotations

import cv2
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from groundlabel import masks


def _rect(width: int, height: int, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    array = np.zeros((height, width), dtype=bool)
    array[y0:y1, x0:x1] = True
    return array


def test_rle_round_trip_is_exact_and_json_safe() -> None:
    array = _rect(31, 17, 3, 2, 20, 9)
    array[5, 25] = True
    rle = masks.encode(array)
    assert isinstance(rle["counts"], str) and rle["size"] == [17, 31]
    assert np.array_equal(masks.decode(rle), array)
    assert masks.area(rle) == int(array.sum()) and masks.size(rle) == (31, 17)
    assert masks.bbox(rle) == (3.0, 2.0, 26.0, 9.0)
    uncompressed = {"size": [17, 31], "counts": [10, 5, 17 * 31 - 15]}  # column-major runs
    assert masks.area(masks.normalise(uncompressed)) == 5
    assert np.array_equal(np.argwhere(masks.decode(uncompressed)[:, 0]).ravel(), np.arange(10, 15))


def test_a_square_round_trips_through_polygons_exactly_on_pixel_edges() -> None:
    array = _rect(50, 40, 3, 5, 23, 20)  # 20 x 15: came back 19 x 14 (IoU 0.89) before the offset
    polygons = masks.to_polygons(array)
    assert polygons == [[3.0, 5.0, 3.0, 20.0, 23.0, 20.0, 23.0, 5.0]]
    assert np.array_equal(masks.decode(masks.from_polygons(polygons, 50, 40)), array)


def test_thin_parts_and_lone_pixels_are_kept() -> None:
    array = np.zeros((10, 10), dtype=bool)
    array[2, 2] = True  # a lone pixel
    array[5, 1:8] = True  # a line one pixel thin ...
    array[1:9, 8] = True  # ... joined to another
    back = masks.decode(masks.from_polygons(masks.to_polygons(array), 10, 10))
    assert np.array_equal(back, array)


@st.composite
def _objects(draw: st.DrawFn) -> np.ndarray:
    """Realistic object masks: a filled star-shaped polygon or a rotated ellipse, >= 100 px."""
    width, height = draw(st.integers(30, 160)), draw(st.integers(30, 160))
    canvas = np.zeros((height, width), dtype=np.uint8)
    cx = draw(st.floats(0.3, 0.7)) * width
    cy = draw(st.floats(0.3, 0.7)) * height
    limit = min(width, height) / 2.2
    if draw(st.booleans()):
        count = draw(st.integers(3, 12))
        angles = np.sort(draw(st.lists(st.floats(0, 2 * np.pi), min_size=count, max_size=count)))
        radii = np.array(draw(st.lists(st.floats(6, limit), min_size=count, max_size=count)))
        points = np.stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles)], axis=1)
        cv2.fillPoly(canvas, [points.astype(np.int32)], 1)
    else:
        axes = (int(draw(st.floats(6, limit))), int(draw(st.floats(6, limit))))
        cv2.ellipse(canvas, (int(cx), int(cy)), axes, draw(st.floats(0, 180)), 0, 360, 1, -1)
    return canvas.astype(bool)


@settings(max_examples=60, deadline=None)
@given(_objects())
def test_polygon_round_trip_of_a_realistic_mask_keeps_iou_at_least_098(array: np.ndarray) -> None:
    if array.sum() < 100:
        return
    height, width = array.shape
    polygons = masks.to_polygons(array)
    assert polygons and all(len(p) >= 6 and len(p) % 2 == 0 for p in polygons)
    assert all(0 <= v <= max(width, height) for p in polygons for v in p)
    back = masks.from_polygons(polygons, width, height)
    assert masks.iou(masks.encode(array), back) >= 0.98


def test_polygons_of_an_empty_mask_are_none_and_back_to_an_empty_mask() -> None:
    assert masks.to_polygons(np.zeros((5, 6), dtype=bool)) == []
    assert masks.area(masks.from_polygons([], 6, 5)) == 0


def test_label_studio_brush_round_trip_is_exact() -> None:
    array = _rect(23, 13, 2, 3, 17, 11)
    array[0, 0] = True
    brush = masks.to_labelstudio_brush(array)
    assert all(isinstance(v, int) for v in brush)
    assert np.array_equal(masks.decode(masks.from_labelstudio_brush(brush, 23, 13)), array)
