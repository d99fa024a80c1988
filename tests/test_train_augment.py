"""The training augmentations move boxes with the pixels (hypothesis property tests).

Each box is painted in its own colour on a black image; after a transform the box must
cover pixels of that colour only (within a pixel at its edges for resizing) and every box
painted must still be whole (the crop never cuts one).
"""

from __future__ import annotations

import random

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from groundlabel.trainers.augment import Augmentation, hflip, rescale, safe_crop, vflip


@st.composite
def painted(draw):
    """An image with 1-4 non-overlapping boxes, each filled with a distinct colour."""
    width, height = draw(st.integers(24, 90)), draw(st.integers(24, 90))
    pixels = np.zeros((height, width, 3), dtype=np.uint8)
    boxes, colours = [], []
    for k in range(draw(st.integers(1, 4))):
        x0, y0 = draw(st.integers(0, width - 6)), draw(st.integers(0, height - 6))
        x1, y1 = (
            draw(st.integers(x0 + 5, min(width, x0 + 30))),
            draw(st.integers(y0 + 5, min(height, y0 + 30))),
        )
        if (pixels[y0:y1, x0:x1] != 0).any():
            continue
        colour = (40 + 50 * k, 255 - 40 * k, 100 + 30 * k)
        pixels[y0:y1, x0:x1] = colour
        boxes.append((x0, y0, x1, y1))
        colours.append(colour)
    return Image.fromarray(pixels), np.array(boxes, dtype=np.float32).reshape(-1, 4), colours


def _covers(image: Image.Image, boxes: np.ndarray, colours, inset: int = 0) -> None:
    pixels = np.asarray(image)
    for box, colour in zip(boxes, colours, strict=True):
        x0, y0, x1, y1 = (round(v) for v in box)
        inside = pixels[y0 + inset : y1 - inset, x0 + inset : x1 - inset]
        if inside.size:
            assert (inside == colour).all(), f"box {box.tolist()} does not cover its colour"
        # the same colour anywhere outside the box (beyond the inset) means the box did not follow
        mask = np.all(pixels == colour, axis=-1)
        mask[max(0, y0 - inset - 1) : y1 + inset + 1, max(0, x0 - inset - 1) : x1 + inset + 1] = False
        assert not mask.any(), f"pixels of box {box.tolist()} lie outside it"


@settings(max_examples=40, deadline=None)
@given(painted())
def test_flips_move_boxes_with_pixels(case):
    image, boxes, colours = case
    for transform in (hflip, vflip):
        out_image, out_boxes = transform(image, boxes)
        _covers(out_image, out_boxes, colours)
        _back_image, back_boxes = transform(out_image, out_boxes)
        assert np.allclose(back_boxes, boxes)


@settings(max_examples=40, deadline=None)
@given(painted(), st.integers(0, 10_000))
def test_safe_crop_keeps_every_box_whole(case, seed):
    image, boxes, colours = case
    out_image, out_boxes = safe_crop(image, boxes, random.Random(seed))
    width, height = out_image.size
    assert (
        (out_boxes[:, :2] >= 0).all()
        and (out_boxes[:, 2] <= width).all()
        and (out_boxes[:, 3] <= height).all()
    )
    assert np.allclose(out_boxes[:, 2:] - out_boxes[:, :2], boxes[:, 2:] - boxes[:, :2])
    _covers(out_image, out_boxes, colours)


@settings(max_examples=40, deadline=None)
@given(painted(), st.floats(0.5, 2.0))
def test_rescale_scales_boxes_with_pixels(case, factor):
    image, boxes, colours = case
    out_image, out_boxes = rescale(image, boxes, factor, resample=Image.Resampling.NEAREST)
    _covers(out_image, out_boxes, colours, inset=1)


@settings(max_examples=30, deadline=None)
@given(painted(), st.integers(0, 10_000))
def test_the_whole_recipe_keeps_boxes_on_their_pixels(case, seed):
    image, boxes, colours = case
    recipe = Augmentation(hflip=0.5, vflip=0.5, crop=0.7, scale=(1.0, 1.0))
    out_image, out_boxes = recipe(image, boxes, random.Random(seed))
    _covers(out_image, out_boxes, colours)
