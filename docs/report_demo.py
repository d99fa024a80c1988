"""Build a demo review project and its report, for the README screenshot of ``groundlabel report``.

    python docs/report_demo.py /tmp/demo && chromium --headless --screenshot=docs/images/report.png \
        --window-size=1200,2400 /tmp/demo/report.html

Images are crops of the reference photos; decisions are synthetic, drawn from a fixed seed: each
class's proposals are accepted with a probability rising with the score, so the curves look like a
real review (the model itself is not run).
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

from PIL import Image

from groundlabel.cli import main
from groundlabel.project import BoxSource, BoxStatus, ImageState, ReviewProject

PHOTOS = Path(__file__).resolve().parents[1] / "assets" / "reference" / "photos"
CLASSES = {"cat": 0.45, "person": 0.3, "rocket": 0.6, "flag": 0.5, "helmet": 0.2}  # where accepting starts


def build(folder: Path, images: int = 24, seed: int = 0) -> None:
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    photos = [Image.open(p).convert("RGB") for p in sorted(PHOTOS.glob("*.png"))]
    for i in range(images):
        photo = photos[i % len(photos)]
        x, y = rng.randint(0, photo.width // 3), rng.randint(0, photo.height // 3)
        photo.crop((x, y, x + photo.width * 2 // 3, y + photo.height * 2 // 3)).save(
            folder / f"img{i:03d}.png"
        )
    with ReviewProject.open(folder) as project:
        ids = project.ensure_classes(CLASSES)
        all_images = project.images()
        for n, image in enumerate(all_images):
            for name, cut in CLASSES.items():
                for _ in range(rng.randint(0, 4)):
                    score = rng.random()
                    accepted = rng.random() < 1 / (1 + 2.718 ** (-(score - cut) * 14))
                    x0, y0 = rng.uniform(0, 100), rng.uniform(0, 100)
                    project.insert_box(
                        image.id, ids[name], (x0, y0, x0 + 60, y0 + 60), source=BoxSource.MODEL,
                        status=BoxStatus.ACCEPTED if accepted else BoxStatus.REJECTED, score=score,
                    )  # fmt: skip
                if rng.random() < 0.25:
                    project.insert_box(image.id, ids[name], (10, 10, 70, 70))
            if n < images * 3 // 4:
                project.set_image_state(image.id, ImageState.REVIEWED)
        # Two confusions: a rejected "helmet" replaced by a hand-drawn "person".
        for image in all_images[:2]:
            project.insert_box(image.id, ids["helmet"], (5, 5, 50, 50), source=BoxSource.MODEL,
                               status=BoxStatus.REJECTED, score=0.4)  # fmt: skip
            project.insert_box(image.id, ids["person"], (6, 5, 50, 51))


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "demo-report")
    build(target)
    main(["calibrate", str(target), "--min-decisions", "20"])
    sys.exit(main(["report", str(target), "-o", str(target / "report.html")]))
