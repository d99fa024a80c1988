"""Samples to model inputs: decoded, augmented, then the checkpoint's own processor.

The last step is the image processor saved with the model (``RTDetrImageProcessorPil``:
resize to the square input, rescale to [0, 1]), so training sees pixels exactly as
``Detector`` prepares them at inference. Targets are what the transformers loss takes:
``class_labels`` and normalised cx, cy, w, h ``boxes``.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from PIL import Image

from groundlabel.images import load_image
from groundlabel.trainers.augment import NO_AUGMENTATION, Augmentation
from groundlabel.trainers.data import Sample

#: boxes thinner than this (pixels, after augmentation) are dropped: no object is left to see.
MIN_SIDE_PX = 1.0


def targets(boxes: np.ndarray, classes: np.ndarray, size: tuple[int, int]) -> dict[str, torch.Tensor]:
    """The loss's target for one image: classes and normalised cxcywh boxes."""
    width, height = size
    keep = ((boxes[:, 2] - boxes[:, 0]) >= MIN_SIDE_PX) & ((boxes[:, 3] - boxes[:, 1]) >= MIN_SIDE_PX)
    b = torch.from_numpy(boxes[keep].astype(np.float32))
    b = b / torch.tensor([width, height, width, height], dtype=torch.float32)
    b = b.clamp(0.0, 1.0)
    cxcywh = torch.stack(
        [(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2, b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]], 1
    )
    return {"class_labels": torch.from_numpy(classes[keep].astype(np.int64)), "boxes": cxcywh.reshape(-1, 4)}


class ImageCache:
    """Decoded images kept in memory (the synthetic and small projects fit; a bound keeps big ones safe)."""

    def __init__(self, max_items: int = 4096) -> None:
        self.max_items = max_items
        self._items: dict[str, Image.Image] = {}

    def get(self, path: str) -> Image.Image:
        image = self._items.get(path)
        if image is None:
            image = load_image(path)
            if len(self._items) < self.max_items:
                self._items[path] = image
        return image


def batch_inputs(
    samples: Sequence[Sample],
    processor: Any,
    rng: random.Random,
    augmentation: Augmentation = NO_AUGMENTATION,
    cache: ImageCache | None = None,
) -> tuple[torch.Tensor, list[dict[str, torch.Tensor]]]:
    """(pixel_values, labels) for a batch, augmented with ``rng``."""
    cache = cache or ImageCache(0)
    images, labels = [], []
    for sample in samples:
        image, boxes = augmentation(cache.get(str(sample.path)), sample.boxes.copy(), rng)
        images.append(image)
        labels.append(targets(boxes, sample.classes, image.size))
    pixels = processor(images=images, return_tensors="pt")["pixel_values"]
    return pixels, labels


def epoch_batches(samples: Sequence[Sample], batch_size: int, rng: random.Random) -> Iterator[list[Sample]]:
    """The samples shuffled with ``rng``, in batches (the last one may be smaller)."""
    order = list(samples)
    rng.shuffle(order)
    for start in range(0, len(order), batch_size):
        yield order[start : start + batch_size]
