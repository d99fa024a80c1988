"""SAM and SAM 2.1 image embeddings on CPU: fp32 against bf16 autocast, time and mask agreement.

    python -m benchmarks.mask_bf16 [--runs 3] [--families sam sam2] [--threads N]

For SAM ViT-B (``facebook/sam-vit-base``'s architecture) and SAM 2.1 Hiera-T
(``facebook/sam2.1-hiera-tiny``'s), full-size with random weights (the time does not depend on
them), loaded twice like hub checkpoints: ``--dtype fp32`` and ``--dtype bf16`` (the image
encoder under CPU bf16 autocast, the prompt encoder and mask decoder in fp32). On each
reference photo it times ``embed`` (median of ``--runs`` after a warm-up), counts the
encoder's FLOPs once (torch's FLOP counter) and sets the achieved FLOP/s against the matmul
peak of the same dtype measured in the same run, then decodes three boxes per photo from
both embeddings and reports the masks' IoU (bf16 against fp32). Targets (issue 28): the
embedding >= 3x faster in bf16, mask IoU >= 0.98. For SAM it also times bf16 with the
position bias built in full, as transformers runs it, beside groundlabel's folded bias
(``groundlabel/inference/rel_pos_attention.py``), and for SAM 2.1 transformers' Hiera attention
beside groundlabel's (``groundlabel/inference/hiera_attention.py``), so the table shows what each saves.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks.speed_support import count_flops, print_precision_header

PHOTOS = sorted((Path(__file__).resolve().parents[1] / "assets" / "reference" / "photos").glob("*.png"))
FAMILIES = {
    "sam": "SAM ViT-B (sam-vit-base)",
    "sam_hq": "SAM-HQ ViT-B (sam-hq-vit-base)",
    "sam2": "SAM 2.1 Hiera-T (sam2.1-hiera-tiny)",
}
BOXES = ((120.0, 60.0, 400.0, 480.0), (40.0, 40.0, 220.0, 260.0), (250.0, 200.0, 500.0, 500.0))


def median_seconds(call, runs: int) -> float:
    call()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def measure(family: str, folder: Path, runs: int, peaks: dict[str, float]) -> None:
    from groundlabel.devtools.random_segmenters import save_random_segmenter
    from groundlabel.images import load_image
    from groundlabel.segmenters import load_segmenter

    saved = str(save_random_segmenter(family, folder, full_size=True))
    segmenters = {dtype: load_segmenter(saved, device="cpu", dtype=dtype) for dtype in ("fp32", "bf16")}
    # bf16 as transformers runs it: SAM's position bias built in full (groundlabel folds it; see
    # groundlabel/inference/rel_pos_attention.py), SAM 2.1's Hiera attention with the weights it
    # computes and never reads (groundlabel skips them; groundlabel/inference/hiera_attention.py).
    unfolded = load_segmenter(saved, device="cpu", dtype="bf16")
    folded = [m for m in unfolded.model.modules() if "forward" in vars(m)]
    for module in folded:
        del module.forward
    from groundlabel.inference.hiera_attention import _stream_in_bf16

    for module in unfolded.model.modules():  # SAM 2.1's trunk: its stream as transformers leaves it
        for key, hook in list(module._forward_pre_hooks.items()):
            if hook is _stream_in_bf16:
                del module._forward_pre_hooks[key]
    if folded:
        segmenters["bf16 unfolded"] = unfolded
    images = [load_image(p) for p in PHOTOS]
    seconds = {dtype: [] for dtype in segmenters}
    ious: list[float] = []
    for image in images:
        for dtype, segmenter in segmenters.items():
            seconds[dtype].append(median_seconds(lambda s=segmenter, i=image: s.embed(i), runs))
        masks = {
            dtype: [p.mask for p in s.masks_for_boxes(s.embed(image), BOXES)]
            for dtype, s in segmenters.items()
        }
        ious.extend(iou(a, b) for a, b in zip(masks["fp32"], masks["bf16"], strict=True))
    flops = count_flops(lambda: segmenters["fp32"].embed(images[0]))
    fp32, bf16 = statistics.median(seconds["fp32"]), statistics.median(seconds["bf16"])
    share = {d: 100 * flops / s / peaks[d] for d, s in (("fp32", fp32), ("bf16", bf16))}
    plain = statistics.median(seconds["bf16 unfolded"]) if "bf16 unfolded" in seconds else None
    unfolded_cell = f"{plain:.2f} s ({fp32 / plain:.2f}x)" if plain else "(the same path)"
    print(
        f"| {FAMILIES[family]} | {fp32:.2f} s ({share['fp32']:.0f} % of peak) | {unfolded_cell} | {bf16:.2f} s "
        f"({share['bf16']:.0f} % of peak) | {fp32 / bf16:.2f}x | {min(ious):.4f} / {statistics.median(ious):.4f} "
        f"| {flops / 1e9:.0f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of each embedding (median)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--families", nargs="+", default=list(FAMILIES), choices=list(FAMILIES))
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    peaks = print_precision_header()
    print(
        f"{len(PHOTOS)} reference photos, {len(BOXES)} boxes each; embedding: median of {args.runs} runs per photo"
    )
    print(
        "| model | embed fp32 | bf16 as transformers runs it | embed bf16 autocast (groundlabel) "
        "| speed-up | mask IoU bf16 vs fp32 (min / median) | GFLOP |"
    )
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="groundlabel-mask-bf16-") as tmp:
        for family in args.families:
            measure(family, Path(tmp) / family, args.runs, peaks)


if __name__ == "__main__":
    main()
