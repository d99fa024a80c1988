"""CPU seconds per image of SAM 3 (full-size, random weights): groundlabel against the reference path.

``python -m benchmarks.sam3_speed [--rounds 3] [--classes 1,3] [--bf16] [--family sam3_lite_text]``.
The published architecture (transformers' default ``Sam3Config``: 840 M parameters, 1008x1008;
``sam3_lite_text``: the same vision tower and detector with the small MobileCLIP text tower) is
built with random weights, which compute exactly as much as real ones. The reference
is the model card's code (``Sam3Processor(images=..., text=phrase)``, the full forward,
``post_process_instance_segmentation``), which imports torchvision, so the whole
benchmark re-runs itself in the readers venv (``GROUNDLABEL_TEST_READERS_VENV``, or one
built as the tests build it) where both paths share one model object and their rounds
interleave. groundlabel's path there imports no torchvision (it never asks for it).

For several classes the reference runs the model once per phrase, as its processor
takes one phrase per image; groundlabel encodes the image once and runs each phrase on
that encoding. Medians of the rounds; decode, preprocessing and mask encoding included.
``--bf16`` adds groundlabel under CPU bf16 autocast (``--dtype bf16``: the heads in fp32) on the
same model object, with the whole detection's FLOP/s (counted once per class count) against the
matmul peaks of the same run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PHOTO = REPO / "assets" / "reference" / "photos" / "chelsea.png"
CLASSES = ["cat", "person", "remote control"]
THRESHOLD = 0.3


def _readers_python() -> Path:
    sys.path.insert(0, str(REPO / "tests"))
    from readers_venv import readers_python

    return readers_python(Path(tempfile.mkdtemp(prefix="sam3-bench-venv-")))


def _stub_torchvision_ops() -> None:
    """The PyPI torchvision's C++ ops cannot load beside the CPU torch; the text path needs none."""
    import torch

    library = torch.library.Library("torchvision", "DEF")
    library.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    library.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    _stub_torchvision_ops.library = library  # keep the registration alive


def _reference_seconds(model, processor, image_path: Path, phrases: list[str]) -> float:
    import torch

    from groundlabel.images import load_image

    started = time.perf_counter()
    image = load_image(image_path)
    with torch.inference_mode():
        for phrase in phrases:
            inputs = processor(images=image, text=phrase, return_tensors="pt")
            outputs = model(**inputs)
            processor.post_process_instance_segmentation(
                outputs, threshold=THRESHOLD, mask_threshold=0.5, target_sizes=[image.size[::-1]]
            )
    return time.perf_counter() - started


def _ours_seconds(detector, image_path: Path, phrases: list[str]) -> float:
    from groundlabel.labels import LabelSet

    started = time.perf_counter()
    result = next(detector.detect(image_path, LabelSet.from_names(phrases), box_threshold=THRESHOLD))
    assert result.ok, result.error
    return time.perf_counter() - started


def inside(
    rounds: int, class_counts: list[int], warmup: bool, bf16: bool = False, family: str = "sam3"
) -> None:
    """The measurement, run in the readers venv."""
    _stub_torchvision_ops()
    import torch
    from transformers import Sam3ImageProcessor, Sam3Processor

    from groundlabel.detector import Detector
    from groundlabel.devtools.random_families import build_random_family
    from groundlabel.model_loading import LoadedModel

    model, inputs = build_random_family(family, full_size=True)
    parameters = sum(p.numel() for p in model.parameters())
    reference = Sam3Processor(image_processor=Sam3ImageProcessor(), tokenizer=inputs.tokenizer)
    detector = Detector(LoadedModel(model, inputs, torch.device("cpu"), torch.float32, f"random-{family}"))
    variants = [("ours", detector)]
    if bf16:
        from benchmarks.speed_support import count_flops, print_precision_header

        peaks = print_precision_header()
        from groundlabel.images import load_image

        pixels = detector.adapter.pixels([load_image(PHOTO)])["pixel_values"]
        with torch.inference_mode():
            flops = count_flops(lambda: model.get_vision_features(pixel_values=pixels))
        print(f"vision encoder: {flops / 1e9:.0f} GFLOP per image", flush=True)
        on_bf16 = LoadedModel(
            model, inputs, torch.device("cpu"), torch.float32, f"random-{family}", cpu_autocast=True
        )
        variants.append(("ours bf16", Detector(on_bf16)))
    load = os.getloadavg()
    print(f"{family} full size, random weights: {parameters / 1e6:.0f} M parameters; image {PHOTO.name}; "
          f"{os.cpu_count()} cores, {torch.get_num_threads()} torch threads, load average {load[0]:.1f} at start",
          flush=True)  # fmt: skip
    if warmup:
        _ours_seconds(detector, PHOTO, CLASSES[:1])  # allocator, lazy imports
    for count in class_counts:
        phrases = CLASSES[:count]
        times: dict[str, list[float]] = {name: [] for name, _ in variants}
        times["reference"] = []
        ours, ref = times["ours"], times["reference"]
        for number in range(rounds):  # alternate which path goes first
            order = [*variants, ("reference", None)][:: 1 if number % 2 == 0 else -1]
            for name, chosen in order:
                if chosen is not None:
                    times[name].append(_ours_seconds(chosen, PHOTO, phrases))
                else:
                    times[name].append(_reference_seconds(model, reference, PHOTO, phrases))
                print(f"  round {number + 1}, {count} class(es), {name}: {times[name][-1]:.2f} s", flush=True)
        o, r = statistics.median(ours), statistics.median(ref)
        print(f"{count} class(es): groundlabel {o:.2f} s/image, reference {r:.2f} s/image, "
              f"ratio {r / o:.2f}x  (rounds: ours {[round(x, 2) for x in ours]}, "
              f"reference {[round(x, 2) for x in ref]})")  # fmt: skip
        if bf16:
            b = statistics.median(times["ours bf16"])
            whole = count_flops(lambda p=phrases: _ours_seconds(detector, PHOTO, p))
            print(f"{count} class(es): groundlabel bf16 autocast {b:.2f} s/image, {o / b:.2f}x its fp32 "
                  f"(rounds {[round(x, 2) for x in times['ours bf16']]}); the whole detection "
                  f"{whole / 1e9:.0f} GFLOP: {100 * whole / b / peaks['bf16']:.0f} % of the bf16 matmul peak "
                  f"in bf16, {100 * whole / o / peaks['fp32']:.0f} % of the fp32 peak in fp32")  # fmt: skip
    print(f"load average at end {os.getloadavg()[0]:.1f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--classes", default="1,3", help="class counts to time, comma-separated (at most 3)")
    parser.add_argument("--warmup", action="store_true", help="one untimed detection first")
    parser.add_argument("--bf16", action="store_true", help="also groundlabel under CPU bf16 autocast")
    parser.add_argument("--family", choices=["sam3", "sam3_lite_text"], default="sam3")
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    counts = [min(len(CLASSES), int(c)) for c in args.classes.split(",")]
    if args.inside:
        inside(args.rounds, counts, args.warmup, args.bf16, args.family)
        return 0
    python = _readers_python()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    command = [str(python), "-m", "benchmarks.sam3_speed", "--inside", "--rounds", str(args.rounds),
               "--classes", args.classes, "--family", args.family] + (["--warmup"] if args.warmup else []) + (["--bf16"] if args.bf16 else [])  # fmt: skip
    return subprocess.run(command, cwd=REPO, env=env, check=False).returncode


if __name__ == "__main__":
    raise SystemExit(main())
