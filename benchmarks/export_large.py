"""How long exporting a large reviewed folder takes (the issue asks < 30 s for 10,000 images).

    python -m benchmarks.export_large [--images 10000] [--rounds 3] [--formats yolo,coco]

Builds a temporary folder of small JPEGs (in 100 subfolders), a project with every image
reviewed and two accepted boxes on each, then times ``groundlabel export --split
train=0.8,val=0.2 --images hardlink`` per format: the median of ``--rounds`` runs (each
replaces the previous export), after one warm-up run that also fills the image sizes the
project reads from the headers once. The reference, measured in the same run, is the floor
for any export that links the images: a hard-linked copy of the folder tree
(``shutil.copytree`` with ``os.link``).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from PIL import Image

from groundlabel.cli import main as cli
from groundlabel.project import BoxSource, BoxStatus, ImageState, ReviewProject


def build_folder(folder: Path, count: int) -> None:
    template = folder / "template.jpg"
    Image.new("RGB", (320, 240), "gray").save(template, quality=90)
    for i in range(count):
        target = folder / f"part{i % 100:02d}" / f"img{i:05d}.jpg"
        target.parent.mkdir(exist_ok=True)
        shutil.copyfile(template, target)
    template.unlink()
    with ReviewProject.open(folder) as project, project.batch():
        cat, person = project.insert_class("cat").id, project.insert_class("person").id
        for image in project.images():
            project.insert_box(
                image.id, cat, (10, 10, 100, 80), source=BoxSource.HAND, status=BoxStatus.ACCEPTED
            )
            project.insert_box(image.id, person, (120, 30, 300, 230), source=BoxSource.MODEL, status=BoxStatus.ACCEPTED, score=0.8)  # fmt: skip
            project.set_image_state(image.id, ImageState.REVIEWED)


def timed(function) -> float:
    start = time.perf_counter()
    with contextlib.redirect_stderr(io.StringIO()):
        function()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--formats", default="yolo,coco,voc,hf,labelstudio")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="groundlabel-bench-export-"))
    try:
        folder = root / "images"
        folder.mkdir()
        start = time.perf_counter()
        build_folder(folder, args.images)
        print(f"built {args.images} images and their project in {time.perf_counter() - start:.1f} s")

        def export(fmt: str) -> None:
            argv = [
                "export",
                str(folder),
                "-f",
                fmt,
                "-o",
                str(root / f"out-{fmt}"),
                "--split",
                "train=0.8,val=0.2",
            ]
            assert cli([*argv, "--images", "hardlink"]) == 0

        def linked_tree() -> None:
            target = root / "linked-tree"
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(
                folder, target, copy_function=os.link, ignore=shutil.ignore_patterns(".groundlabel")
            )

        warm = timed(lambda: export(args.formats.split(",")[0]))
        print(f"warm-up export (reads every image header once)   {warm:6.2f} s")
        results: dict[str, list[float]] = {"reference: hard-linked copy of the tree": []}
        for _ in range(args.rounds):  # interleaved, so contention hits every entry alike
            results["reference: hard-linked copy of the tree"].append(timed(linked_tree))
            for fmt in args.formats.split(","):
                results.setdefault(f"export --format {fmt} --images hardlink", []).append(
                    timed(lambda fmt=fmt: export(fmt))
                )
        for label, times in results.items():
            print(
                f"{label:48s} median {statistics.median(times):6.2f} s  (runs: {', '.join(f'{t:.2f}' for t in times)})"
            )
    finally:
        shutil.rmtree(root)


if __name__ == "__main__":
    main()
