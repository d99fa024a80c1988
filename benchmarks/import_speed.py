"""How long `groundlabel import` takes on dense images and on a COCO-sized file (issue 30).

    python -m benchmarks.import_speed [--runs 3] [--dense 100000] [--coco-images 118000]
                                      [--coco-boxes 860000] [--coco-runs 1]

Writes synthetic COCO files (tiny 64x48 PNGs, hard-linked so 118,000 images cost one
file's space; import reads each image's header for its size) and times:

- the growth curve in this process: the old per-box algorithm (re-reading the image, which
  counts its boxes, for every insert and comparing each box with every box on the image),
  reproduced here as the reference, and the current importer, at growing box counts on
  one image; linear means time / box stays flat;
- (a) the real CLI, ``groundlabel import``, with ``--dense`` boxes on one image (median);
- (b) the real CLI on ``--coco-images`` images holding ``--coco-boxes`` boxes.

Each CLI run is a child process; its wall time and peak resident memory (``wait4``) are printed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

from groundlabel.formats.registry import get_format
from groundlabel.project import ReviewProject
from groundlabel.project.exchange import import_dataset
from groundlabel.project.models import BoxSource, BoxStatus
from groundlabel.project.store import PROJECT_DIR

WIDTH, HEIGHT = 64, 48


def _grid_box(i: int) -> list[float]:
    """A distinct COCO [x, y, w, h] box inside the 64x48 image for every i (no duplicates)."""
    return [(i % 5000) * 0.01, (i // 5000) * 0.01, 10.0, 10.0]


def write_coco(path: Path, images: int, boxes: int) -> None:
    """A COCO file of ``images`` images sharing ``boxes`` boxes round-robin, streamed to disk."""
    with open(path, "w", encoding="utf-8") as out:
        out.write('{"categories": [{"id": 1, "name": "thing"}], "images": [')
        out.write(
            ",".join(
                json.dumps(
                    {
                        "id": i + 1,
                        "file_name": f"p{i // 1000:03d}/i{i:06d}.png",
                        "width": WIDTH,
                        "height": HEIGHT,
                    }
                )
                for i in range(images)
            )
        )
        out.write('], "annotations": [')
        for start in range(0, boxes, 100_000):
            if start:
                out.write(",")
            out.write(
                ",".join(
                    json.dumps(
                        {
                            "id": j + 1,
                            "image_id": j % images + 1,
                            "category_id": 1,
                            "bbox": _grid_box(j // images),
                            "area": 100.0,
                            "iscrowd": 0,
                        }
                    )
                    for j in range(start, min(boxes, start + 100_000))
                )
            )
        out.write("]}")


def make_folder(folder: Path, images: int) -> None:
    """``images`` PNGs of 64x48, hard links of one file (a copy where links are refused)."""
    template = folder / "template.png"
    folder.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (WIDTH, HEIGHT), "gray").save(template)
    for i in range(images):
        target = folder / f"p{i // 1000:03d}" / f"i{i:06d}.png"
        target.parent.mkdir(exist_ok=True)
        try:
            os.link(template, target)
        except OSError:
            shutil.copyfile(template, target)
    template.unlink()


def _old_import(project: ReviewProject, dataset) -> None:
    """The importer's inner loop before issue 30, kept here only as the reference."""
    with project.batch():
        class_ids = project.ensure_classes(dataset.class_names)
        for image in dataset.images:
            record = project.image_by_path(image.file_name)
            project.ensure_image_info(record.id, with_hash=False)
            existing = project.boxes(record.id)
            for box in image.boxes:
                key = (class_ids[box.class_name], box.xyxy)
                same = next(
                    (
                        b
                        for b in existing
                        if b.class_id == key[0]
                        and all(abs(p - q) < 1e-6 for p, q in zip(b.xyxy, key[1], strict=True))
                    ),
                    None,
                )
                if same is None:
                    project.insert_box(
                        record.id, key[0], box.xyxy, source=BoxSource.IMPORT, status=BoxStatus.ACCEPTED
                    )


def _in_process(root: Path, boxes: int, old: bool) -> float:
    folder = root / f"curve-{boxes}-{'old' if old else 'new'}"
    make_folder(folder, 1)
    coco = folder.with_suffix(".json")
    write_coco(coco, 1, boxes)
    start = time.perf_counter()
    dataset = get_format("coco").read(coco, None)
    with ReviewProject.open(folder) as project:
        (_old_import if old else import_dataset)(project, dataset)
    elapsed = time.perf_counter() - start
    shutil.rmtree(folder)
    return elapsed


def _cli(folder: Path, coco: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one ``groundlabel import`` into a fresh project."""
    shutil.rmtree(folder / PROJECT_DIR, ignore_errors=True)
    command = [sys.executable, "-m", "groundlabel", "import", str(folder), str(coco), "--format", "coco"]
    start = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - start
    stderr = child.stderr.read().decode(errors="replace")
    child.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"import failed: {stderr[-2000:]}")
    return elapsed, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of the dense CLI import (median)")
    parser.add_argument("--dense", type=int, default=100_000, help="boxes on one image for (a)")
    parser.add_argument("--curve", type=int, nargs="+", default=[2000, 8000, 32000, 100_000])
    parser.add_argument("--old-curve", type=int, nargs="+", default=[1000, 2000, 4000])
    parser.add_argument("--coco-images", type=int, default=118_000)
    parser.add_argument("--coco-boxes", type=int, default=860_000)
    parser.add_argument("--coco-runs", type=int, default=1)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="groundlabel-import-bench-"))
    try:
        print("growth on one image (in process, read + import)")
        for old in (True, False):
            for boxes in args.old_curve if old else args.curve:
                seconds = _in_process(root, boxes, old)
                name = "old (reference)" if old else "current"
                print(f"  {name:16s} {boxes:>7d} boxes {seconds:8.2f} s  {seconds / boxes * 1e6:7.1f} us/box")
        dense = root / "dense"
        make_folder(dense, 1)
        write_coco(dense.with_suffix(".json"), 1, args.dense)
        runs = [_cli(dense, dense.with_suffix(".json")) for _ in range(args.runs)]
        print(
            f"(a) groundlabel import, {args.dense} boxes on one image: median "
            f"{statistics.median(r[0] for r in runs):.2f} s of {args.runs} runs "
            f"({', '.join(f'{r[0]:.2f}' for r in runs)}), peak RSS {max(r[1] for r in runs):.0f} MiB"
        )
        shutil.rmtree(dense)
        big = root / "coco"
        start = time.perf_counter()
        make_folder(big, args.coco_images)
        write_coco(big.with_suffix(".json"), args.coco_images, args.coco_boxes)
        print(
            f"    (made {args.coco_images} images and the COCO file in {time.perf_counter() - start:.1f} s)"
        )
        runs = [_cli(big, big.with_suffix(".json")) for _ in range(args.coco_runs)]
        print(
            f"(b) groundlabel import, {args.coco_images} images, {args.coco_boxes} boxes: "
            f"{', '.join(f'{r[0]:.1f} s' for r in runs)}, peak RSS {max(r[1] for r in runs):.0f} MiB"
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
