"""Scrubbing a 1080p clip in the reviewer: request-to-displayed latency through the real frame path.

Why: issue 27 asks that stepping, jumping and dragging across a 1080p clip stay responsive.
The path measured is the desktop's own (``frame_files.file_source`` -> ``ImageLoader`` -> the
project's PNG frame cache -> ``loaded``), offscreen; "displayed" is the ``loaded`` signal the
canvas paints from. The reference is the code before issue 27 in the same run: a 4-image cache
without the megabyte bound, no dropping of stale requests, PNG cache written at zlib level 6.

    python -m benchmarks.desktop_scrub --runs 3
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

WIDTH, HEIGHT, FPS = 1920, 1080, 30


def write_clip(path: Path, frames: int) -> None:
    """A textured 1080p H.264 clip with motion: a noise texture that slides, so it does not compress away."""
    import av
    import numpy as np

    rng = np.random.default_rng(0)
    texture = rng.integers(0, 256, (HEIGHT // 8, WIDTH // 8, 3), dtype=np.uint8)
    texture = np.kron(texture, np.ones((8, 8, 1), dtype=np.uint8))  # 8-px blocks: texture the codec keeps
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "18", "g": "60"}
        for index in range(frames):
            image = np.roll(texture, (index * 3, index * 5), axis=(0, 1))
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def make_project(folder: Path, frames: int):
    from groundlabel.project import ReviewProject
    from groundlabel.project.video_frames import add_video_frames

    folder.mkdir(parents=True)
    write_clip(folder / "clip.mp4", frames)
    project = ReviewProject.open(folder, scan=False)
    ids = add_video_frames(
        project, "clip.mp4", WIDTH, HEIGHT, [(i, i / FPS) for i in range(frames)], FPS, frames
    )
    return project, [ids[i] for i in range(frames)]


class Screen:
    """The loader and what it displayed, as the controller wires them."""

    def __init__(self, project, ids: list[int], new: bool) -> None:
        from groundlabel.desktop.image_loader import ImageLoader

        self.project, self.ids = project, ids
        self.loader = ImageLoader() if new else ImageLoader(cache_size=4, cache_mb=1e9, drop_stale=False)
        self.shown: list[tuple[object, float]] = []
        self.loader.loaded.connect(lambda key, image, error: self.shown.append((key, time.perf_counter())))

    def request(self, image_id: int) -> float:
        from groundlabel.desktop.frame_files import file_source

        record = self.project.image(image_id)
        start = time.perf_counter()
        self.loader.request(image_id, file_source(self.project, record))
        position = self.ids.index(image_id)
        if position + 1 < len(self.ids):  # the controller's read-ahead of the next image
            next_id = self.ids[position + 1]
            self.loader.prefetch(next_id, file_source(self.project, self.project.image(next_id)))
        return start

    def wait_for(self, image_id: int, start: float, timeout: float = 60.0) -> float:
        from PySide6.QtWidgets import QApplication

        while time.perf_counter() - start < timeout:
            for key, when in self.shown:
                if key == image_id and when >= start:
                    return when - start
            QApplication.processEvents()
            time.sleep(0.0005)
        raise TimeoutError(f"frame {image_id} not displayed")

    def show(self, image_id: int) -> float:
        return self.wait_for(image_id, self.request(image_id))


def one_run(folder: Path, project, ids: list[int], new: bool, seed: int) -> dict[str, float]:
    from PySide6.QtWidgets import QApplication

    from groundlabel.project import video_frames

    video_frames.PNG_LEVEL = 1 if new else 6
    shutil.rmtree(project.db_path.parent / video_frames.FRAME_CACHE, ignore_errors=True)
    screen = Screen(project, ids, new)
    rng = random.Random(seed)
    out: dict[str, float] = {}
    start_at = rng.randrange(10, len(ids) // 3)
    screen.show(ids[start_at])
    # `.` pressed again as soon as the frame shows: its read-ahead is still decoding.
    out["step cold"] = screen.show(ids[start_at + 1])
    screen.loader.wait()
    QApplication.processEvents()
    for offset in range(2, 8):
        screen.show(ids[start_at + offset])
    screen.loader.wait()
    QApplication.processEvents()
    out["step back (revisit)"] = screen.show(ids[start_at + 6])
    out["random jump"] = screen.show(ids[rng.randrange(len(ids) // 2, len(ids) - 70)])
    screen.loader.wait()
    QApplication.processEvents()
    # A fast drag: 60 positions over 2 s, across frames not visited yet.
    first = len(ids) - 65
    screen.shown.clear()
    drag_start = time.perf_counter()
    last = drag_start
    for step in range(60):
        target = drag_start + step * (2.0 / 60)
        while time.perf_counter() < target:
            QApplication.processEvents()
            time.sleep(0.001)
        last = screen.request(ids[first + step])
    out["drag: final frame latency"] = screen.wait_for(ids[first + 59], last)
    out["drag: frames displayed"] = float(len({key for key, when in screen.shown if when < last + 60}))
    screen.loader.wait()
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--frames", type=int, default=300)
    args = parser.parse_args(argv)

    from PySide6.QtWidgets import QApplication

    from benchmarks.speed_support import precision_header

    app = QApplication.instance() or QApplication([])
    print(precision_header())
    print(f"cpu cores: {os.cpu_count()}, clip {WIDTH}x{HEIGHT} {FPS} fps, {args.frames} frames, H.264 GOP 60")
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        project, ids = make_project(Path(tmp) / "project", args.frames)
        size = (Path(tmp) / "project" / "clip.mp4").stat().st_size
        print(f"clip written in {time.perf_counter() - started:.1f} s ({size / 1e6:.1f} MB)")
        results: dict[str, dict[str, list[float]]] = {"before": {}, "after": {}}
        for run in range(args.runs):
            for name, new in (("before", False), ("after", True)):
                for metric, value in one_run(Path(tmp), project, ids, new, seed=run).items():
                    results[name].setdefault(metric, []).append(value)
    del app
    print(f"\nmedian of {args.runs} runs (ms unless counted)")
    print(f"{'measure':<28}{'before':>10}{'after':>10}")
    for metric in results["after"]:
        before = statistics.median(results["before"][metric])
        after = statistics.median(results["after"][metric])
        if metric.endswith("displayed"):
            print(f"{metric:<28}{before:>10.0f}{after:>10.0f}")
        else:
            print(f"{metric:<28}{1000 * before:>10.0f}{1000 * after:>10.0f}")


if __name__ == "__main__":
    main()
