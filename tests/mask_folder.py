"""A small review folder whose boxes carry masks (imported by the mask format and reader tests)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from groundlabel import masks
from groundlabel.project import BoxSource, BoxStatus, ImageState, ReviewProject

MASK_CLASSES = ["cat", "dog"]
MASK_SIZES = {"a.png": (96, 72), "b.png": (64, 48), "rotated.jpg": (40, 60), "empty.png": (32, 24)}

# (class, mask or None, box when there is no mask)
Expected = dict[str, list[tuple[str, np.ndarray | None, tuple[float, float, float, float]]]]


def _ellipse(
    size: tuple[int, int], centre: tuple[int, int], axes: tuple[int, int], angle: float
) -> np.ndarray:
    canvas = np.zeros((size[1], size[0]), dtype=np.uint8)
    cv2.ellipse(canvas, centre, axes, angle, 0, 360, 1, -1)
    return canvas.astype(bool)


def _star(size: tuple[int, int]) -> np.ndarray:
    canvas = np.zeros((size[1], size[0]), dtype=np.uint8)
    angles = np.linspace(0, 2 * np.pi, 10, endpoint=False)
    radii = np.where(np.arange(10) % 2 == 0, 20, 10)
    points = np.stack([70 + radii * np.cos(angles), 40 + radii * np.sin(angles)], axis=1)
    cv2.fillPoly(canvas, [points.astype(np.int32)], 1)
    return canvas.astype(bool)


def expected_masks() -> Expected:
    """What an export of ``make_mask_folder`` holds, per image (reviewed ones only)."""
    a, b, rotated = MASK_SIZES["a.png"], MASK_SIZES["b.png"], MASK_SIZES["rotated.jpg"]
    two_parts = _ellipse(b, (16, 16), (10, 7), 0) | _ellipse(b, (46, 32), (12, 9), 30)
    return {
        "a.png": [
            ("cat", _ellipse(a, (25, 30), (18, 12), 20), (0, 0, 0, 0)),
            ("dog", _star(a), (0, 0, 0, 0)),
            ("dog", None, (40.0, 50.0, 60.0, 70.0)),  # a box without a mask
        ],
        "b.png": [("cat", two_parts, (0, 0, 0, 0))],
        "rotated.jpg": [("dog", _ellipse(rotated, (20, 35), (12, 18), 0), (0, 0, 0, 0))],  # as shown
        "empty.png": [],
    }


def box_of(
    mask: np.ndarray | None, box: tuple[float, float, float, float]
) -> tuple[float, float, float, float]:
    return box if mask is None else masks.bbox(masks.encode(mask))


def make_mask_folder(folder: Path) -> Expected:
    """Images, a project with masked boxes (accepted), a pending masked box that stays out,
    a reviewed negative; ``rotated.jpg`` is stored 60x40 with EXIF orientation 6 (shown 40x60)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for name in ("a.png", "b.png", "empty.png"):
        width, height = MASK_SIZES[name]
        Image.fromarray(rng.integers(0, 255, (height, width, 3), dtype=np.uint8)).save(folder / name)
    stored = Image.fromarray(rng.integers(0, 255, (40, 60, 3), dtype=np.uint8))
    exif = stored.getexif()
    exif[0x0112] = 6
    stored.save(folder / "rotated.jpg", exif=exif)
    expected = expected_masks()
    with ReviewProject.open(folder) as project:
        ids = {name: project.insert_class(name).id for name in MASK_CLASSES}
        images = {image.path: image.id for image in project.images()}
        for path, boxes in expected.items():
            project.ensure_image_info(images[path], with_hash=False)
            for n, (cls, mask, box) in enumerate(boxes):
                project.insert_box(
                    images[path], ids[cls], box_of(mask, box), source=BoxSource.MODEL if n else BoxSource.HAND,
                    status=BoxStatus.ACCEPTED, score=0.8 if n else None,
                    mask=None if mask is None else masks.encode(mask), mask_score=None if mask is None else 0.9,
                    mask_model=None if mask is None else "sam",
                )  # fmt: skip
            project.set_image_state(images[path], ImageState.REVIEWED if boxes else ImageState.REVIEWED_EMPTY)
        pending = masks.encode(_ellipse(MASK_SIZES["a.png"], (80, 15), (8, 6), 0))
        project.insert_box(images["a.png"], ids["cat"], masks.bbox(pending), source=BoxSource.MODEL,
                           status=BoxStatus.PENDING, score=0.3, mask=pending)  # fmt: skip
    return expected
