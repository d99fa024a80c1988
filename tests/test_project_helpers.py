"""A small review folder with every case an export must handle (imported by the format and CLI tests)."""

from __future__ import annotations

import shutil
from pathlib import Path

from PIL import Image

from groundlabel.project import BoxSource, BoxStatus, ImageState, ReviewProject

PHOTOS = Path(__file__).resolve().parents[1] / "assets" / "reference" / "photos"
CLASSES = ["cat", "person", "a&b<c", "unused"]


def make_review_folder(folder: Path) -> dict[str, list[tuple[str, tuple[float, float, float, float]]]]:
    """Build the folder and its project; return the boxes an export must contain, per image.

    - astronaut.png (512x512), reviewed: accepted model box, hand box with fractional
      coordinates (class ``a&b<c``), and a pending and a rejected box that must not appear;
    - chelsea.png (451x300), reviewed: one accepted imported box touching the edges;
    - rotated.jpg, stored 40x20 with EXIF orientation 6, so shown 20x40; reviewed, one hand box;
    - empty.png, reviewed-empty (a negative) though it holds a rejected box;
    - sub/new.png, never reviewed: left out of default exports.
    """
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("astronaut.png", "chelsea.png"):
        shutil.copy(PHOTOS / name, folder / name)
    rotated = Image.new("RGB", (40, 20), "red")
    exif = rotated.getexif()
    exif[0x0112] = 6
    rotated.save(folder / "rotated.jpg", exif=exif)
    Image.new("RGB", (32, 24), "white").save(folder / "empty.png")
    (folder / "sub").mkdir(exist_ok=True)
    Image.new("RGB", (16, 16), "blue").save(folder / "sub" / "new.png")

    with ReviewProject.open(folder) as project:
        ids = {name: project.insert_class(name).id for name in CLASSES}
        images = {image.path: image.id for image in project.images()}

        def box(path, cls, xyxy, source=BoxSource.MODEL, status=BoxStatus.ACCEPTED, score=0.9):
            project.insert_box(images[path], ids[cls], xyxy, source=source, status=status, score=score)

        box("astronaut.png", "person", (100.25, 20.5, 300.75, 511.5))
        box("astronaut.png", "a&b<c", (10.3, 20.7, 100.5, 200.49), source=BoxSource.HAND, score=None)
        box("astronaut.png", "cat", (5, 5, 50, 50), status=BoxStatus.PENDING, score=0.4)
        box("astronaut.png", "cat", (6, 6, 60, 60), status=BoxStatus.REJECTED, score=0.3)
        box("chelsea.png", "cat", (0, 0, 451, 300), source=BoxSource.IMPORT, score=None)
        box("rotated.jpg", "cat", (2, 30, 18, 40), source=BoxSource.HAND, score=None)
        box("empty.png", "cat", (1, 1, 5, 5), status=BoxStatus.REJECTED)
        box("sub/new.png", "cat", (1, 1, 5, 5), status=BoxStatus.PENDING)
        for path in ("astronaut.png", "chelsea.png", "rotated.jpg"):
            project.set_image_state(images[path], ImageState.REVIEWED)
        project.set_image_state(images["empty.png"], ImageState.REVIEWED_EMPTY)
    return {
        "astronaut.png": [("person", (100.25, 20.5, 300.75, 511.5)), ("a&b<c", (10.3, 20.7, 100.5, 200.49))],
        "chelsea.png": [("cat", (0.0, 0.0, 451.0, 300.0))],
        "empty.png": [],
        "rotated.jpg": [("cat", (2.0, 30.0, 18.0, 40.0))],
    }


SIZES = {
    "astronaut.png": (512, 512),
    "chelsea.png": (451, 300),
    "empty.png": (32, 24),
    "rotated.jpg": (20, 40),
}


def copy_images_only(source: Path, target: Path) -> None:
    """The same images in a fresh folder without a project (to import into)."""
    for path in source.rglob("*"):
        if path.is_file() and ".groundlabel" not in path.parts:
            destination = target / path.relative_to(source)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, destination)


def images_to_import_into(root: Path) -> Path:
    """``root/images``: the review folder's images with no project yet (an import's target)."""
    source = root / "source"
    make_review_folder(source)
    target = root / "images"
    copy_images_only(source, target)
    return target
