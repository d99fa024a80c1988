"""The folder the dataset-reader tests export: every kind of image a reader may misread.

On top of ``make_review_folder`` (PNGs, an EXIF-rotated JPEG, a reviewed-empty image, the
class ``a&b<c``): a real photo stored rotated with EXIF orientation 6, a 16-bit grey PNG, a
CMYK JPEG, reviewed images in a subfolder two levels down, and a dozen small reviewed
images so that a split has several images to place.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from test_project_helpers import PHOTOS, make_review_folder

from groundlabel.project import BoxSource, BoxStatus, ImageState, ReviewProject

Box = tuple[str, tuple[float, float, float, float]]


def make_dataset_folder(folder: Path) -> dict[str, list[Box]]:
    """Build the folder and its project; return the boxes an export must hold, per image."""
    expected = make_review_folder(folder)
    chelsea = Image.open(PHOTOS / "chelsea.png").convert("RGB")  # 451x300 as shown
    stored = chelsea.transpose(Image.Transpose.ROTATE_90)  # orientation 6 turns it back
    exif = stored.getexif()
    exif[0x0112] = 6
    stored.save(folder / "rotated_cat.jpg", exif=exif, quality=95)
    ramp = (np.arange(48 * 64, dtype=np.uint32).reshape(48, 64) * 21).astype(np.uint16)
    Image.fromarray(ramp).save(folder / "grey16.png")  # mode I;16
    Image.new("CMYK", (48, 32), (200, 10, 30, 0)).save(folder / "cmyk.jpg", quality=95)
    deep = folder / "sub" / "deep"
    deep.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (40, 30), "green").save(deep / "leaf.png")
    for n in range(12):
        Image.new("RGB", (24 + n, 20), (10 * n, 100, 200)).save(folder / f"small_{n:02d}.png")

    new_boxes: dict[str, list[Box]] = {
        "rotated_cat.jpg": [("cat", (150.0, 20.0, 330.0, 200.0))],  # the cat's head, in the shown frame
        "grey16.png": [("person", (4.0, 6.0, 30.0, 40.0))],
        "cmyk.jpg": [("a&b<c", (1.5, 2.5, 40.0, 30.0))],
        "sub/deep/leaf.png": [("cat", (3.0, 4.0, 20.0, 25.0)), ("person", (0.0, 0.0, 40.0, 30.0))],
    }
    for n in range(12):
        cls = ("cat", "person", "a&b<c")[n % 3]
        new_boxes[f"small_{n:02d}.png"] = [(cls, (1.0, 2.0, 10.0 + n, 15.0))]
    with ReviewProject.open(folder) as project:
        ids = {c.name: c.id for c in project.classes()}
        for path, boxes in new_boxes.items():
            image = project.image_by_path(path)
            for cls, xyxy in boxes:
                project.insert_box(image.id, ids[cls], xyxy, source=BoxSource.HAND, status=BoxStatus.ACCEPTED)
            project.set_image_state(image.id, ImageState.REVIEWED)
    return {**expected, **new_boxes}
