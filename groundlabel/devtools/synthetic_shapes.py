"""A known answer for training: simple shapes on textured backgrounds, written as a reviewed project.

Zero-shot models cannot be measured here (no weights), but a detector trained from scratch
can: three classes (square, disc, triangle) of random colour, size and place on a noisy,
striped background, with exact boxes. ``write_shapes_project`` writes the images into a
folder and records every box as an accepted hand-drawn box of a reviewed image, so ``train``,
``export`` and the desktop see a normal reviewed project. The same seed gives the same pixels.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

SHAPE_CLASSES = ("square", "disc", "triangle")


@dataclass(frozen=True)
class ShapeBox:
    name: str
    xyxy: tuple[float, float, float, float]


def _background(rng: random.Random, size: int) -> Image.Image:
    """Noise over stripes of a random direction: texture the model must learn to ignore."""
    seed = rng.randrange(2**32)
    noise = np.random.default_rng(seed).integers(0, 60, (size, size, 3), dtype=np.uint8)
    base = np.array([rng.randrange(60, 180) for _ in range(3)], dtype=np.int16)
    yy, xx = np.mgrid[0:size, 0:size]
    period = rng.randrange(6, 20)
    stripes = ((xx + yy * rng.choice((0, 1, -1))) // period % 2 * 30).astype(np.int16)
    pixels = np.clip(base + noise.astype(np.int16) + stripes[..., None] - 30, 0, 255).astype(np.uint8)
    return Image.fromarray(pixels, "RGB")


def _free(box: tuple[int, int, int, int], taken: list[tuple[int, int, int, int]]) -> bool:
    x0, y0, x1, y1 = box
    return all(x1 <= a0 or x0 >= a1 or y1 <= b0 or y0 >= b1 for a0, b0, a1, b1 in taken)


def shapes_image(
    rng: random.Random, size: int = 128, max_shapes: int = 3, min_side: float = 0.15, max_side: float = 0.45
) -> tuple[Image.Image, list[ShapeBox]]:
    """One image with 1..max_shapes shapes that do not overlap, and their exact boxes."""
    image = _background(rng, size)
    draw = ImageDraw.Draw(image)
    taken: list[tuple[int, int, int, int]] = []
    boxes: list[ShapeBox] = []
    for _ in range(rng.randint(1, max_shapes)):
        for _attempt in range(20):
            side = rng.randint(int(size * min_side), int(size * max_side))
            x0, y0 = rng.randint(0, size - side), rng.randint(0, size - side)
            box = (x0, y0, x0 + side, y0 + side)
            if _free(box, taken):
                break
        else:
            continue
        name = rng.choice(SHAPE_CLASSES)
        colour = tuple(rng.choice((rng.randrange(0, 50), rng.randrange(200, 256))) for _ in range(3))
        x0, y0, x1, y1 = box
        if name == "square":
            draw.rectangle((x0, y0, x1 - 1, y1 - 1), fill=colour)
        elif name == "disc":
            draw.ellipse((x0, y0, x1 - 1, y1 - 1), fill=colour)
        else:
            draw.polygon([(x0, y1 - 1), (x1 - 1, y1 - 1), ((x0 + x1 - 1) / 2, y0)], fill=colour)
        taken.append(box)
        boxes.append(ShapeBox(name, (float(x0), float(y0), float(x1), float(y1))))
    return image, boxes


def write_shapes_project(
    folder: str | Path, count: int, seed: int = 0, size: int = 128, max_shapes: int = 3
) -> Path:
    """``count`` shape images in ``folder`` as a reviewed project (every box accepted, hand-drawn)."""
    from groundlabel.project import ImageState, ReviewProject

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    truth: dict[str, list[ShapeBox]] = {}
    for i in range(count):
        image, boxes = shapes_image(rng, size, max_shapes)
        name = f"shape{i:04d}.png"
        image.save(folder / name)
        truth[name] = boxes
    with ReviewProject.open(folder) as project:
        ids = project.ensure_classes(SHAPE_CLASSES)
        with project.batch():
            for record in project.images():
                for box in truth.get(record.path, []):
                    project.insert_box(record.id, ids[box.name], box.xyxy)
                project.set_image_state(record.id, ImageState.REVIEWED)
    return folder
