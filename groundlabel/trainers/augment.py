"""Augmentations that move the boxes with the pixels: flips, scale jitter, box-safe crops.

Each transform takes a PIL image and an (n, 4) array of xyxy pixel boxes and returns both
transformed; ``tests/test_train_augment.py`` checks with hypothesis that a box still covers
the same pixels afterwards. The crop is box-safe: it never cuts through a box (the window
holds the union of all boxes), so no label is left describing half an object.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
from PIL import Image

Boxes = np.ndarray  # (n, 4) float xyxy pixels


def hflip(image: Image.Image, boxes: Boxes) -> tuple[Image.Image, Boxes]:
    width = image.width
    out = boxes.copy()
    out[:, 0], out[:, 2] = width - boxes[:, 2], width - boxes[:, 0]
    return image.transpose(Image.Transpose.FLIP_LEFT_RIGHT), out


def vflip(image: Image.Image, boxes: Boxes) -> tuple[Image.Image, Boxes]:
    height = image.height
    out = boxes.copy()
    out[:, 1], out[:, 3] = height - boxes[:, 3], height - boxes[:, 1]
    return image.transpose(Image.Transpose.FLIP_TOP_BOTTOM), out


def rescale(
    image: Image.Image, boxes: Boxes, factor: float, resample: int = Image.Resampling.BILINEAR
) -> tuple[Image.Image, Boxes]:
    """Resize by ``factor`` (at least one pixel a side); boxes scale by the sizes actually reached."""
    width, height = max(1, round(image.width * factor)), max(1, round(image.height * factor))
    sx, sy = width / image.width, height / image.height
    return image.resize((width, height), resample), boxes * np.array([sx, sy, sx, sy], dtype=boxes.dtype)


def safe_crop(
    image: Image.Image, boxes: Boxes, rng: random.Random, min_fraction: float = 0.5
) -> tuple[Image.Image, Boxes]:
    """A random window, at least ``min_fraction`` of each side where the boxes allow, holding every box whole."""
    width, height = image.size
    if len(boxes):
        ux0, uy0 = int(np.floor(boxes[:, 0].min())), int(np.floor(boxes[:, 1].min()))
        ux1, uy1 = int(np.ceil(boxes[:, 2].max())), int(np.ceil(boxes[:, 3].max()))
    else:
        cx, cy = rng.randint(0, width - 1), rng.randint(0, height - 1)
        ux0, uy0, ux1, uy1 = cx, cy, cx + 1, cy + 1
    ux0, uy0 = max(0, ux0), max(0, uy0)
    ux1, uy1 = min(width, ux1), min(height, uy1)
    want_w = max(ux1 - ux0, int(width * rng.uniform(min_fraction, 1.0)))
    want_h = max(uy1 - uy0, int(height * rng.uniform(min_fraction, 1.0)))
    x0 = rng.randint(max(0, ux1 - want_w), min(ux0, width - want_w))
    y0 = rng.randint(max(0, uy1 - want_h), min(uy0, height - want_h))
    out = boxes - np.array([x0, y0, x0, y0], dtype=boxes.dtype)
    return image.crop((x0, y0, x0 + want_w, y0 + want_h)), out


@dataclass(frozen=True)
class Augmentation:
    """The training recipe: each transform applied with its own chance."""

    hflip: float = 0.5
    vflip: float = 0.0
    crop: float = 0.5
    scale: tuple[float, float] = (0.75, 1.25)

    def __call__(self, image: Image.Image, boxes: Boxes, rng: random.Random) -> tuple[Image.Image, Boxes]:
        if rng.random() < self.crop:
            image, boxes = safe_crop(image, boxes, rng)
        if rng.random() < self.hflip:
            image, boxes = hflip(image, boxes)
        if rng.random() < self.vflip:
            image, boxes = vflip(image, boxes)
        low, high = self.scale
        if (low, high) != (1.0, 1.0):
            image, boxes = rescale(image, boxes, rng.uniform(low, high))
        return image, boxes


NO_AUGMENTATION = Augmentation(hflip=0.0, vflip=0.0, crop=0.0, scale=(1.0, 1.0))
