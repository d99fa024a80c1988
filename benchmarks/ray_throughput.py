"""Folder throughput: plain ``detect`` against ``--ray`` with two 1-thread workers.

Run ``python -m benchmarks.ray_throughput`` from the repository root. It builds the
full-size grounding-dino-tiny architecture with random weights (the real model's
compute, no download), fills a folder with copies of the reference photos, and then
alternates rounds of

- plain: one process, torch's default threads (all cores), ``Detector.detect`` over the folder;
- ray: Ray started once on loopback with this machine's cores, ``detect_on_ray`` with
  ``--workers`` actors of ``--threads-per-worker`` threads (the code ``detect --ray`` runs).

Each round reports images/s from the start of the round to its last result: model
loading is inside for both (the plain process loads one model, each Ray actor its own),
Ray's own start is not (it is started once, before the rounds, as on a cluster that is
already up). Medians over the rounds are printed with their ratio. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import torch

from benchmarks.speed_support import build_full_size_model

REPO = Path(__file__).resolve().parents[1]
PHOTOS = sorted((REPO / "assets" / "reference" / "photos").glob("*.png"))
LABELS = "cat, person, astronaut, rocket, flag"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each path (medians are printed)")
    parser.add_argument("--images", type=int, default=16, help="images in the folder")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads-per-worker", type=int, default=1)
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "groundlabel-bench")
    return parser.parse_args(argv)


def plain_round(model_dir: Path, folder: Path) -> float:
    from groundlabel.detector import Detector
    from groundlabel.labels import LabelSet

    start = time.perf_counter()
    detector = Detector.load(str(model_dir), device="cpu")
    stamps = []
    for result in detector.detect(folder, LabelSet.parse(LABELS)):
        assert result.ok, result.error
        stamps.append(time.perf_counter())
    return len(stamps) / (stamps[-1] - start)


def ray_round(model_dir: Path, files: list[str], workers: int, threads: int) -> float:
    from groundlabel.distributed.detect_pipeline import DetectJob, detect_on_ray

    job = DetectJob(str(model_dir), "cpu", "fp32", LABELS, 0.35, 0.25, None, None, 1, threads)
    start = time.perf_counter()
    stamps = []
    for result in detect_on_ray(files, job, workers):
        assert result.ok, result.error
        stamps.append(time.perf_counter())
    return len(stamps) / (stamps[-1] - start)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    # A token of this run, so Ray writes none to ~/.ray; Ray's files go under the cache.
    os.environ.setdefault("RAY_AUTH_MODE", "token")
    os.environ.setdefault("RAY_AUTH_TOKEN", secrets.token_hex(32))
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray

    from groundlabel.distributed.session import quiet_ray_logs, start_local

    args.cache.mkdir(parents=True, exist_ok=True)
    model_dir = build_full_size_model(args.cache / "full-size-model")
    folder = Path(tempfile.mkdtemp(prefix="ray-bench-", dir=args.cache))
    ray_temp = Path(tempfile.mkdtemp(prefix="ray-", dir=args.cache))
    try:
        for i in range(args.images):
            shutil.copy(PHOTOS[i % len(PHOTOS)], folder / f"{i:04d}.png")
        files = sorted(str(p) for p in folder.iterdir())
        cores = os.cpu_count() or 1
        print(f"{args.images} images, full-size architecture, {cores} cores, torch {torch.__version__}")
        print(f"plain: 1 process, {torch.get_num_threads()} threads; ray: {args.workers} workers x "
              f"{args.threads_per_worker} thread(s)")  # fmt: skip
        start_local(num_cpus=cores, _temp_dir=str(ray_temp))
        quiet_ray_logs()
        plain, on_ray = [], []
        for round_number in range(1, args.rounds + 1):
            plain.append(plain_round(model_dir, folder))
            on_ray.append(ray_round(model_dir, files, args.workers, args.threads_per_worker))
            print(
                f"round {round_number}: plain {plain[-1]:.4f} img/s, ray {on_ray[-1]:.4f} img/s", flush=True
            )
        ray.shutdown()
        p, q = statistics.median(plain), statistics.median(on_ray)
        print(f"median of {args.rounds}: plain {p:.4f} img/s, ray {q:.4f} img/s, ratio {q / p:.2f}x")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        shutil.rmtree(ray_temp, ignore_errors=True)


if __name__ == "__main__":
    main()
