"""Box -> mask speed: one image embedding for all boxes against one full SAM pass per box.

Run ``python -m benchmarks.box_to_mask`` from the repository root. It builds the full-size
SAM ViT-B architecture (``facebook/sam-vit-base``'s config: 1024-pixel input, 12 layers)
with random weights, so the compute is the real model's without a download, and on one
reference photograph with 1, 10 and 50 boxes measures, in the same process:

- **groundlabel**: ``segmenter.embed(image)`` once, then ``masks_for_boxes`` for all boxes
  (prompt encoder + mask decoder, boxes decoded 16 at a time), masks at the image's size; the
  two are timed apart in each round, one embed serving every box count (``split_rounds``);
- **naive**: for each box the whole reference path, ``SamProcessor(image, input_boxes=[[box]])``,
  ``SamModel(**inputs, multimask_output=False)``, ``post_process_masks``: one vision pass per box.

Also groundlabel's times with SAM 2.1 hiera-tiny's architecture, the default mask model
(``--no-sam2`` skips them). Figures are medians of ``--rounds`` rounds run here. A naive run
costs N vision passes; where that is too long (``--naive-up-to``), the naive figure is N x the
measured one-box pass and is marked "estimated". The load average is printed before and
after, since a shared machine slows both sides. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from benchmarks.speed_support import print_precision_header

REPO = Path(__file__).resolve().parents[1]
PHOTO = REPO / "assets" / "reference" / "photos" / "astronaut.png"
COUNTS = (1, 10, 50)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds per measurement (medians printed)")
    parser.add_argument(
        "--naive-up-to", type=int, default=50,
        help="measure the naive way directly up to this many boxes; above it, print N x the median "
        "naive one-box pass, marked as estimated (for slow or loaded machines)",
    )  # fmt: skip
    parser.add_argument("--counts", type=int, nargs="+", default=list(COUNTS))
    parser.add_argument("--no-sam2", dest="sam2", action="store_false", help="skip the SAM 2.1 tiny figures")
    parser.add_argument("--device", default="cpu")
    return parser.parse_args(argv)


def boxes_for(count: int, width: int, height: int, seed: int = 0) -> list[tuple[float, float, float, float]]:
    """``count`` deterministic boxes inside the image, 10-60 % of its sides."""
    rng = np.random.default_rng(seed)
    boxes = []
    for _ in range(count):
        w, h = rng.uniform(0.1, 0.6) * width, rng.uniform(0.1, 0.6) * height
        x0, y0 = rng.uniform(0, width - w), rng.uniform(0, height - h)
        boxes.append((float(x0), float(y0), float(x0 + w), float(y0 + h)))
    return boxes


def timed(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def median_seconds(function, rounds: int) -> float:
    return statistics.median(timed(function) for _ in range(max(1, rounds)))


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def split_rounds(segmenter, image: Image.Image, counts, rounds: int) -> dict[int, float]:
    """groundlabel's time for each box count: ``embed`` + ``masks_for_boxes``, median over rounds.

    Each round runs ``embed`` once and then ``masks_for_boxes`` for every count on that
    embedding (what a call with that many boxes runs: one embed, then the boxes), so a slow
    machine pays one vision pass per round instead of one per count.
    """
    embeds: list[float] = []
    decodes: dict[int, list[float]] = {count: [] for count in counts}
    for _ in range(max(1, rounds)):
        start = time.perf_counter()
        embedding = segmenter.embed(image)
        sync(segmenter.device)
        embeds.append(time.perf_counter() - start)
        for count in counts:
            boxes = boxes_for(count, *image.size)
            start = time.perf_counter()
            assert len(segmenter.masks_for_boxes(embedding, boxes)) == count
            sync(segmenter.device)
            decodes[count].append(time.perf_counter() - start)
    embed = statistics.median(embeds)
    print(f"  {segmenter.model_name}: embed {embed:.2f} s (median of {len(embeds)})", flush=True)
    return {count: embed + statistics.median(times) for count, times in decodes.items()}


def naive_run(model, processor, image: Image.Image, boxes, device: torch.device) -> None:
    for box in boxes:
        inputs = processor(images=image, input_boxes=[[list(box)]], return_tensors="pt").to(device)
        with torch.inference_mode():
            outputs = model(**inputs, multimask_output=False)
        processor.post_process_masks(
            outputs.pred_masks.cpu(), inputs["original_sizes"].cpu(), inputs["reshaped_input_sizes"].cpu()
        )
    sync(device)


def parameters(model: torch.nn.Module) -> str:
    return f"{sum(p.numel() for p in model.parameters()) / 1e6:.1f} M parameters"


def main(argv: list[str] | None = None) -> None:
    from groundlabel.devtools.random_segmenters import build_random_segmenter
    from groundlabel.segmenters.sam import SamSegmenter

    args = parse_args(argv)
    device = torch.device(args.device)
    image = Image.open(PHOTO).convert("RGB")
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch threads "
        f"{torch.get_num_threads()}, device {device}; load average before: {os.getloadavg()[0]:.1f}"
    )
    print(f"image: {PHOTO.name} {image.width}x{image.height}; rounds {args.rounds}")
    print_precision_header()
    model, processor = build_random_segmenter("sam", full_size=True)
    model.to(device)
    print(f"SAM ViT-B (sam-vit-base architecture, random weights): {parameters(model)}")
    segmenter = SamSegmenter(model, processor, device, torch.float32, "random-sam-vit-base")
    rows = []
    one_box = median_seconds(
        lambda: naive_run(model, processor, image, boxes_for(1, *image.size), device), args.rounds
    )
    print(f"  naive one-box pass: {one_box:.2f} s (median of {args.rounds})", flush=True)
    ours = split_rounds(segmenter, image, args.counts, args.rounds)
    for count in args.counts:
        if count == 1:
            naive, how = one_box, "measured"
        elif count <= args.naive_up_to:
            boxes = boxes_for(count, *image.size)
            naive = median_seconds(lambda b=boxes: naive_run(model, processor, image, b, device), args.rounds)
            how = "measured"
        else:
            naive, how = count * one_box, "estimated"
        rows.append((count, ours[count], naive, how))
        print(f"  {count:3d} box(es): groundlabel {ours[count]:7.2f} s, naive {naive:7.2f} s ({how}), "
              f"{naive / ours[count]:5.1f}x faster", flush=True)  # fmt: skip
    if args.sam2:
        model2, _ = build_random_segmenter("sam2", full_size=True)
        from groundlabel.segmenters.sam2 import Sam2Preprocessing, Sam2Segmenter

        model2.to(device)
        print(f"SAM 2.1 hiera-tiny architecture (random weights): {parameters(model2)}")
        sam2 = Sam2Segmenter(model2, Sam2Preprocessing(), device, torch.float32, "random-sam2.1-hiera-tiny")
        for count, seconds in split_rounds(sam2, image, args.counts, args.rounds).items():
            print(f"  {count:3d} box(es): groundlabel {seconds:7.2f} s", flush=True)
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    print("| boxes | groundlabel (one embedding) | naive (one SAM pass per box) | speed-up |")
    print("|---:|---:|---:|---:|")
    for count, ours, naive, how in rows:
        note = "" if how == "measured" else f" ({how}: {count} x the one-box pass)"
        print(f"| {count} | {ours:.2f} s | {naive:.2f} s{note} | {naive / ours:.1f}x |")


if __name__ == "__main__":
    main()
