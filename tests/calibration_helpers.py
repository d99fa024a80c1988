"""A review project whose decisions follow a known rule, for calibration and report tests."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from groundlabel.project import BoxSource, BoxStatus, ImageState, ReviewProject


def scores(count: int, low: float = 0.1, high: float = 0.95) -> list[float]:
    return [round(low + (high - low) * i / (count - 1), 4) for i in range(count)]


def make_images(folder: Path, count: int) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for i in range(count):
        name = f"img{i:02d}.png"
        Image.new("RGB", (64, 48), (20 * i % 255, 90, 160)).save(folder / name)
        names.append(name)
    return names


def add_rule(
    project: ReviewProject,
    name: str,
    cut: float,
    count: int = 30,
    reviewed: bool = True,
    hand: int = 0,
) -> None:
    """``count`` proposals of ``name`` spread over the images: those scoring below ``cut`` rejected,
    the others accepted; plus ``hand`` hand-drawn boxes. Images are marked reviewed if asked."""
    class_id = project.ensure_classes([name])[name]
    images = project.images()
    for i, score in enumerate(scores(count)):
        image = images[i % len(images)]
        status = BoxStatus.ACCEPTED if score >= cut else BoxStatus.REJECTED
        x = 2 + i % 10
        project.insert_box(
            image.id, class_id, (x, 2, x + 20, 30), source=BoxSource.MODEL, status=status, score=score
        )
    for i in range(hand):
        project.insert_box(images[i % len(images)].id, class_id, (40, 5, 60, 40))
    if reviewed:
        for image in images:
            project.set_image_state(image.id, ImageState.REVIEWED)


def reviewed_project(folder: Path) -> Path:
    """Three classes: cat (cut 0.5, 3 hand misses), dog (cut 0.3), bird (too few decisions),
    and one dog proposal rejected and replaced by a hand-drawn cat (a confusion)."""
    make_images(folder, 6)
    with ReviewProject.open(folder) as project:
        add_rule(project, "cat", 0.5, hand=3)
        add_rule(project, "dog", 0.3)
        add_rule(project, "bird", 0.2, count=5)
        image = project.images()[0]
        ids = project.ensure_classes(["cat", "dog"])
        project.insert_box(
            image.id,
            ids["dog"],
            (10, 10, 40, 40),
            source=BoxSource.MODEL,
            status=BoxStatus.REJECTED,
            score=0.05,
        )
        project.insert_box(image.id, ids["cat"], (11, 10, 41, 40))
    return folder
