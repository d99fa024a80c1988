"""SAM 3 video per frame on CPU: what ``groundlabel track --model SAM3-VIDEO`` costs a frame, by phrase count.

    python -m benchmarks.sam3_video_speed [--frames 3] [--phrases 1,3] [--width 1280 --height 720]

``facebook/sam3``'s architecture (transformers' default ``Sam3VideoConfig``) with random
weights (none can be downloaded here; the time does not depend on them), driven through
``Sam3VideoTracker.update`` on a synthetic clip: per frame the ViT at 1008², one detector pass
per phrase on those shared features, the tracker for each object, the post-processing.
Random weights detect nothing at the checkpoint's thresholds, so no object is tracked: the
figures are the detection half, which is the part that grows with phrases (the tracker's cost
per object is ``benchmarks.sam2_video_speed --model-type sam3_tracker_video``). Medians over
the frames after the first; the FLOPs of one frame (torch's FLOP counter) against the fp32
matmul peak measured now.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from PIL import Image

from benchmarks.speed_support import count_flops, flops_line, print_precision_header
from groundlabel.devtools.random_families import clip_tokenizer
from groundlabel.devtools.random_sam3_video import build_random_sam3_video
from groundlabel.families.sam3 import Sam3Inputs, Sam3Preprocessing
from groundlabel.trackers.sam3_video import Sam3VideoTracker

PHRASES = ("car", "person", "traffic light", "bicycle", "dog")
NOTHING = (np.zeros((0, 4)), np.zeros(0), [])


def clip(frames: int, width: int, height: int) -> list[Image.Image]:
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (height // 8, width // 8, 3), dtype=np.uint8).repeat(8, 0).repeat(8, 1)
    return [Image.fromarray(np.roll(base, 6 * t, axis=1)) for t in range(frames)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=3)
    parser.add_argument("--phrases", default="1,3")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    args = parser.parse_args()
    if args.frames < 2:
        parser.error("--frames must be at least 2 (the first frame is not timed)")
    peaks = print_precision_header()
    frames = clip(args.frames + 1, args.width, args.height)
    model = build_random_sam3_video(full_size=True)
    inputs = Sam3Inputs(clip_tokenizer(model_max_length=32), Sam3Preprocessing())
    print(
        f"sam3_video (facebook/sam3 architecture, {sum(p.numel() for p in model.parameters()) / 1e6:.0f} M "
        f"parameters); clip: {args.frames} frames of {args.width}x{args.height}; {torch.get_num_threads()} threads"
    )
    for count in (int(n) for n in args.phrases.split(",")):
        phrases = [(p, p) for p in PHRASES[:count]]
        tracker = Sam3VideoTracker(model, inputs, torch.device("cpu"), phrases)
        times = []
        for position, frame in enumerate(frames[:-1]):
            start = time.perf_counter()
            tracker.update(position, *NOTHING, image=frame)
            times.append(time.perf_counter() - start)
        per_frame = statistics.median(times[1:])
        print(
            f"{count} phrase(s): {per_frame:.2f} s/frame (first frame {times[0]:.2f} s, objects "
            f"{len(tracker.session.obj_ids)})"
        )
        flops = count_flops(lambda t=tracker: t.update(args.frames, *NOTHING, image=frames[-1]))
        print(flops_line(flops, per_frame, peaks["fp32"], f"one frame, {count} phrase(s)"))


if __name__ == "__main__":
    main()
