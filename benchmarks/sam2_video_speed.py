"""SAM 2.1 video propagation per frame on CPU: what ``track --tracker CHECKPOINT`` costs a frame.

    python -m benchmarks.sam2_video_speed [--frames 8] [--objects 1,3] [--width 1280 --height 720]
        [--model-type sam2_video|sam3_tracker_video|edgetam_video]

SAM 2.1 Hiera-T (``facebook/sam2.1-hiera-tiny``'s architecture, transformers' defaults) with
random weights (none can be downloaded here; the time does not depend on them), saved and
loaded as ``groundlabel track --tracker FOLDER`` loads it, on a synthetic clip of a texture
sliding across the frame. N objects are prompted with boxes on the first frame; each later
frame is one ``Sam2VideoTracker.update``: the vision encoder at 1024², the memory attention
over the last frames, the mask decoder per object, the memory encoder, the masks upsampled
and encoded as RLE. Figures are medians over the frames after the first.

The reference, measured in the same run: segmenting every frame anew with SAM 2.1's image
model (``groundlabel.segmenters.sam2``: ``embed`` plus ``masks_for_boxes`` for the same boxes),
which is what masks on every frame would cost without propagation (and it would still need a
detector on every frame to give the boxes). Also printed: the FLOPs of one propagated frame
(torch's FLOP counter) against the fp32 matmul peak measured now.

``--model-type`` times the other video trackers the same way, at their published architecture
with random weights (``devtools.random_trackers``): SAM 3's tracker (its ViT at 1008²) or
EdgeTAM (RepViT-M1 through timm, so only where timm is installed); the reference stays SAM
2.1's image model.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from benchmarks.speed_support import count_flops, flops_line, print_precision_header
from groundlabel.devtools.random_segmenters import save_random_segmenter
from groundlabel.devtools.random_trackers import FAMILIES, save_random_video_tracker
from groundlabel.segmenters import load_segmenter
from groundlabel.trackers import tracker_factory


def clip(frames: int, width: int, height: int) -> list[Image.Image]:
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (height // 8, width // 8, 3), dtype=np.uint8).repeat(8, 0).repeat(8, 1)
    return [Image.fromarray(np.roll(base, 6 * t, axis=1)) for t in range(frames)]


def boxes_for(objects: int, width: int, height: int) -> np.ndarray:
    step = width / (objects + 1)
    return np.array(
        [[step * (i + 0.5), height * 0.3, step * (i + 1.3), height * 0.8] for i in range(objects)]
    )


def propagation(factory, frames: list[Image.Image], boxes: np.ndarray) -> tuple[float, list[float]]:
    """(seconds of the prompted frame, seconds of each later frame)."""
    tracker = factory(low_score=0.1, new_track_score=0.5, max_lost=1000)
    scores, labels = np.full(len(boxes), 0.9), ["object"] * len(boxes)
    times = []
    for position, frame in enumerate(frames):
        start = time.perf_counter()
        if position == 0:
            tracker.update(0, boxes, scores, labels, image=frame)
        else:
            tracker.update(position, np.zeros((0, 4)), np.zeros(0), [], image=frame)
        times.append(time.perf_counter() - start)
    return times[0], times[1:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--objects", default="1,3")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument(
        "--model-type", choices=FAMILIES, default="sam2_video", help="the video tracker to time"
    )
    args = parser.parse_args()
    if args.frames < 4:
        parser.error("--frames must be at least 4 (the FLOP count runs on frames 2 and 3)")
    if args.model_type == "edgetam_video" and importlib.util.find_spec("timm") is None:
        raise SystemExit(
            "EdgeTAM's RepViT backbone runs through timm (which needs torchvision): pip install timm"
        )
    peaks = print_precision_header()
    frames = clip(args.frames, args.width, args.height)
    print(
        f"{args.model_type}; clip: {args.frames} frames of {args.width}x{args.height}; "
        f"{torch.get_num_threads()} threads"
    )
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = save_random_video_tracker(
            Path(tmp) / f"{args.model_type}-full", family=args.model_type, full_size=True
        )
        factory = tracker_factory(str(checkpoint), "cpu")
        image_model = load_segmenter(
            str(save_random_segmenter("sam2", Path(tmp) / "sam2.1-hiera-tiny", full_size=True)), device="cpu"
        )
        for objects in (int(n) for n in args.objects.split(",")):
            boxes = boxes_for(objects, args.width, args.height)
            first, later = propagation(factory, frames, boxes)
            per_frame = statistics.median(later)
            anew = []
            for frame in frames[1:]:
                start = time.perf_counter()
                image_model.masks_for_boxes(image_model.embed(frame), [tuple(b) for b in boxes])
                anew.append(time.perf_counter() - start)
            reference = statistics.median(anew)
            print(
                f"{objects} object(s): propagation {per_frame:.2f} s/frame ({1 / per_frame:.2f} frames/s; "
                f"prompted frame {first:.2f} s) | reference, SAM 2.1 image model on every frame "
                f"{reference:.2f} s/frame | ratio {reference / per_frame:.2f}"
            )
        tracker = factory(low_score=0.1, new_track_score=0.5, max_lost=1000)
        boxes = boxes_for(1, args.width, args.height)
        tracker.update(0, boxes, np.full(1, 0.9), ["object"], image=frames[0])
        tracker.update(1, np.zeros((0, 4)), np.zeros(0), [], image=frames[1])
        try:
            flops = count_flops(lambda: tracker.update(2, np.zeros((0, 4)), np.zeros(0), [], image=frames[2]))
        except AttributeError as exc:  # EdgeTAM's timm backbone under the counter's module hooks
            print(f"FLOPs: torch's FLOP counter cannot run {args.model_type} here ({exc})")
            return
        start = time.perf_counter()
        tracker.update(3, np.zeros((0, 4)), np.zeros(0), [], image=frames[3])
        print(flops_line(flops, time.perf_counter() - start, peaks["fp32"], "one propagated frame, 1 object"))


if __name__ == "__main__":
    main()
