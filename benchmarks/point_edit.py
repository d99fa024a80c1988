"""Point-edit latency in the reviewer on a cached image, on CPU (issue 20: "well under a second").

    python -m benchmarks.point_edit [--runs 15] [--embed-runs 3] [--threads N]

For SAM ViT-B (the smallest SAM, ``facebook/sam-vit-base``'s architecture) and SAM 2.1
Hiera-T (``facebook/sam2.1-hiera-tiny``'s), both full-size with random weights (no weights
can be downloaded here; the time does not depend on them), saved and loaded like hub
checkpoints. On a 512×512 photo and one box it times what a click costs in the reviewer:

- **point edit, cached**: the desktop's own path (``mask_jobs.prompt_mask``: the prompt
  encoder and mask decoder on the cached embedding, post-processing to the image's size and
  the RLE the project stores), for the 1st, 2nd and 3rd point of a box;
- **the same click without the cache** (the reference, measured in the same run): the
  vision encoder (``embed``) plus that decoder pass, which is what every click would cost
  if the embedding were not kept.

Medians of ``--runs`` runs (``--embed-runs`` for the slow vision encoder), after a warm-up.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch
from groundlabel.desktop import mask_jobs
from groundlabel.desktop.embedding_cache import EmbeddingCache
from groundlabel.desktop.mask_edits import PromptPoint

from groundlabel.devtools.random_segmenters import save_random_segmenter
from groundlabel.images import load_image
from groundlabel.segmenters import load_segmenter

PHOTO = Path(__file__).resolve().parents[1] / "assets" / "reference" / "photos" / "astronaut.png"
FAMILIES = {"sam": "SAM ViT-B (sam-vit-base)", "sam2": "SAM 2.1 Hiera-T (sam2.1-hiera-tiny)"}
BOX = (120.0, 60.0, 400.0, 480.0)
CLICKS = (PromptPoint(250, 200, True), PromptPoint(180, 420, False), PromptPoint(330, 300, True))


def median_seconds(call, runs: int) -> float:
    call()  # warm-up (allocations, lazy initialisation)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(family: str, folder: Path, runs: int, embed_runs: int) -> dict[str, float]:
    segmenter = load_segmenter(str(save_random_segmenter(family, folder, full_size=True)), device="cpu")
    cache: EmbeddingCache = EmbeddingCache()
    key = mask_jobs.embedding_key(segmenter, PHOTO)
    image = load_image(PHOTO)
    embed = median_seconds(lambda: segmenter.embed(image), embed_runs)
    embedding = mask_jobs.image_embedding(segmenter, cache, key, PHOTO)
    row = {"embed": embed}
    for n in range(1, len(CLICKS) + 1):
        points = CLICKS[:n]

        def click(points=points) -> None:
            cached = mask_jobs.image_embedding(segmenter, cache, key, PHOTO)  # a cache hit
            mask_jobs.prompt_mask(segmenter, cached, BOX, points)

        row[f"point {n}"] = median_seconds(click, runs)
    assert cache.misses == 1, "every click after the first embedding must hit the cache"
    del embedding
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="runs per cached point edit (median)")
    parser.add_argument("--embed-runs", type=int, default=3, help="runs of the vision encoder (median)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--families", nargs="+", default=list(FAMILIES), choices=list(FAMILIES))
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    load = os.getloadavg()[0]
    print(
        f"CPU ({os.cpu_count()} cores, load average {load:.1f} at the start), "
        f"{torch.get_num_threads()} torch thread(s); {PHOTO.name} 512x512, one box; medians"
    )
    print("| model | point edit, cached (1st / 2nd / 3rd point) | same click without the cache | speed-up |")
    print("|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="groundlabel-point-edit-") as tmp:
        for family in args.families:
            row = measure(family, Path(tmp) / family, args.runs, args.embed_runs)
            points = [row[f"point {n}"] for n in range(1, len(CLICKS) + 1)]
            uncached = row["embed"] + points[0]
            cached = " / ".join(f"{p * 1000:.0f} ms" for p in points)
            print(f"| {FAMILIES[family]} | {cached} | {uncached:.2f} s | {uncached / points[0]:.0f}x |")


if __name__ == "__main__":
    main()
