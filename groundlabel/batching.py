"""Shape-bucketed batching: several images per model pass without changing any box.

Grounding DINO's processor pads every image of a batch to the largest one, and the
padded pixels change the backbone's features and so the boxes and scores (on five
photos of different sizes, batches of 3 gave 71 boxes where single images gave 72).
Images whose resized shape is the same need no padding, so a batch made only of them
computes what each image alone computes. The detector therefore looks at a window of
upcoming images, groups them by resized shape, and batches within each group; results
still come out in input order.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Iterator, Sequence
from typing import TypeVar

import torch

T = TypeVar("T")

# How many batches' worth of images are looked at together when grouping by shape: more
# finds fuller batches in a mixed folder, fewer keeps latency and memory low.
WINDOW_BATCHES = 4


def window_size(batch_size: int) -> int:
    """Images grouped at once; a batch size of 1 streams image by image as before."""
    return 1 if batch_size <= 1 else batch_size * WINDOW_BATCHES


def windows(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive runs of at most ``size`` items."""
    window: list[T] = []
    for item in items:
        window.append(item)
        if len(window) >= size:
            yield window
            window = []
    if window:
        yield window


def bucket_by_shape(shapes: Sequence[Hashable | None], batch_size: int) -> list[list[int]]:
    """Indices grouped by equal shape (``None``: not batched at all), cut into ``batch_size``.

    Groups keep the order in which their shape first appears, and indices stay ascending
    within a group, so the result does not depend on anything but the input.
    """
    groups: dict[Hashable, list[int]] = {}
    for index, shape in enumerate(shapes):
        if shape is not None:
            groups.setdefault(shape, []).append(index)
    batches: list[list[int]] = []
    for indices in groups.values():
        batches.extend(indices[i : i + batch_size] for i in range(0, len(indices), batch_size))
    return batches


def pixel_shape(pixels: dict[str, torch.Tensor]) -> tuple[int, int]:
    """(height, width) of a preprocessed image, the bucket key."""
    height, width = pixels["pixel_values"].shape[-2:]
    return int(height), int(width)


def concat_pixels(parts: Sequence[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """One batch from single-image processor outputs of equal shape (nothing to pad)."""
    if len(parts) == 1:
        return parts[0]
    return {key: torch.cat([part[key] for part in parts]) for key in parts[0]}
