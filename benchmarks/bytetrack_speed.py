"""ByteTrack association speed: frames per second of ``groundlabel.trackers.bytetrack.ByteTrack``.

    python -m benchmarks.bytetrack_speed [--frames 1000] [--objects 5,30,100] [--runs 3]

Association only (the boxes are given, as with ``track --detections``): a synthetic scene of N
objects moving on straight lines through a 1920x1080 frame, each box jittered by 2 px, 10 % of
them dropped, a few low-scored false positives a frame, objects leaving and new ones entering.
The figure is ``update`` calls per second over the whole clip (track finishing and gap
interpolation included), median of ``--runs``. The issue's target is at least 200 frames/s. No
other tracker is installed here to set beside it (Roboflow's ``trackers`` needs
``opencv-python``, which clashes with the headless OpenCV groundlabel uses).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from groundlabel.trackers.bytetrack import ByteTrack

WIDTH, HEIGHT = 1920, 1080


def scene(frames: int, objects: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray, list[str]]]:
    """Per frame: boxes (xyxy), scores and labels, from ``objects`` objects alive at any time."""
    rng = np.random.default_rng(seed)

    def spawn() -> np.ndarray:
        x, y = rng.uniform(0, WIDTH - 80), rng.uniform(0, HEIGHT - 160)
        return np.array([x, y, rng.uniform(30, 80), rng.uniform(60, 160), *rng.uniform(-6, 6, 2)])

    alive = [spawn() for _ in range(objects)]
    out = []
    for _ in range(frames):
        boxes, scores = [], []
        for i, (x, y, w, h, vx, vy) in enumerate(alive):
            if not (-w < x < WIDTH and -h < y < HEIGHT):
                alive[i] = spawn()  # left the picture: someone new enters
                continue
            alive[i][:2] += (vx, vy)
            if rng.random() < 0.1:
                continue
            boxes.append(np.array([x, y, x + w, y + h]) + rng.uniform(-2, 2, 4))  # jittered
            scores.append(rng.uniform(0.6, 0.95))
        for _ in range(rng.poisson(2)):
            x, y = rng.uniform(0, WIDTH - 40), rng.uniform(0, HEIGHT - 40)
            boxes.append([x, y, x + 40, y + 40])
            scores.append(rng.uniform(0.1, 0.4))
        out.append((np.array(boxes).reshape(-1, 4), np.array(scores), ["person"] * len(scores)))
    return out


def frames_per_second(frames: list, runs: int) -> tuple[float, int]:
    rates, tracks = [], 0
    for _ in range(runs):
        tracker = ByteTrack()
        started = time.perf_counter()
        ids = set()
        for index, (boxes, scores, labels) in enumerate(frames):
            ids.update(box.track_id for box in tracker.update(index, boxes, scores, labels))
        ids.update(box.track_id for box in tracker.finish())
        rates.append(len(frames) / (time.perf_counter() - started))
        tracks = len(ids)
    return statistics.median(rates), tracks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=1000)
    parser.add_argument("--objects", default="5,30,100", help="objects alive per frame, comma-separated")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"ByteTrack association, {args.frames} frames of {WIDTH}x{HEIGHT}, median of {args.runs} runs")
    print("| objects per frame | frames/s | tracks made |")
    print("|---|---|---|")
    for count in (int(c) for c in args.objects.split(",")):
        rate, tracks = frames_per_second(scene(args.frames, count), args.runs)
        print(f"| {count} | {rate:.0f} | {tracks} |")


if __name__ == "__main__":
    main()
