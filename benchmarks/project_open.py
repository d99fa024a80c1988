"""How long opening a review project takes on a large folder (the issue asks < 1 s for 10,000 images).

    python benchmarks/project_open.py [--images 10000]

Creates tiny PNGs in a temporary folder, then times: the first open (creates the database
and inserts every image), a reopen (nothing new), and listing all images with counts.
Opening reads file names only; sizes and hashes are filled later, per image.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from PIL import Image

from groundlabel.project import ReviewProject


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10_000)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="groundlabel-bench-"))
    try:
        template = folder / "template.png"
        Image.new("RGB", (64, 48), "gray").save(template)
        for i in range(args.images):
            target = folder / f"part{i // 1000:02d}" / f"img{i:05d}.png"
            target.parent.mkdir(exist_ok=True)
            shutil.copyfile(template, target)
        template.unlink()

        for label in ("first open (create + insert)", "reopen"):
            start = time.perf_counter()
            project = ReviewProject.open(folder)
            elapsed = time.perf_counter() - start
            print(f"{label:32s} {elapsed * 1000:8.1f} ms  ({args.images} images)")
            if label == "reopen":
                start = time.perf_counter()
                images = project.images()
                print(
                    f"{'list images with counts':32s} {(time.perf_counter() - start) * 1000:8.1f} ms  ({len(images)})"
                )
            project.close()
    finally:
        shutil.rmtree(folder)


if __name__ == "__main__":
    main()
