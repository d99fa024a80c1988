"""CPU seconds per image of each detector family, on its full-size architecture with random weights.

``python -m benchmarks.detector_speed --sections families`` (or ``python -m
benchmarks.family_speed``). For every family it builds the published architecture
(``groundlabel.devtools.random_families``: no download; random weights compute exactly
as much as real ones), then times, interleaved in the same process, the family's
transformers reference path (processor, model, post-processing) and
``Detector.detect`` (decode included) on the reference photos. Medians of the rounds.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
PHOTOS = sorted((REPO / "assets" / "reference" / "photos").glob("*.png"))
FAMILIES = ["grounding-dino", "mm-grounding-dino", "owlv2", "owlvit"]
CLASSES = ["cat", "person", "astronaut", "rocket", "flag"]
THRESHOLD = 0.3


def reference_seconds(family: str, model, processor, path: Path) -> float:
    """One image through the model card's code for ``family``."""
    from groundlabel.images import load_image

    started = time.perf_counter()
    image = load_image(path)
    with torch.inference_mode():
        if "grounding-dino" in family:
            text = ". ".join(CLASSES) + "."
            inputs = processor(images=[image], text=[text], return_tensors="pt")
            outputs = model(**inputs)
            processor.post_process_grounded_object_detection(
                outputs, inputs["input_ids"], threshold=THRESHOLD, text_threshold=0.25,
                target_sizes=[image.size[::-1]],
            )  # fmt: skip
        else:
            inputs = processor(text=[CLASSES], images=[image], return_tensors="pt")
            outputs = model(**inputs)
            side = max(image.size)
            target = (side, side) if family == "owlv2" else image.size[::-1]
            processor.post_process_grounded_object_detection(
                outputs, threshold=THRESHOLD, target_sizes=[target]
            )
    return time.perf_counter() - started


def detector_seconds(detector, labels, path: Path) -> float:
    started = time.perf_counter()
    result = next(detector.detect([path], labels, box_threshold=THRESHOLD, text_threshold=0.25))
    assert result.ok, result.error
    return time.perf_counter() - started


def measure(family: str, rounds: int) -> dict[str, float]:
    from groundlabel.detector import Detector
    from groundlabel.devtools.random_families import build_random_family
    from groundlabel.labels import LabelSet
    from groundlabel.model_loading import LoadedModel

    model, processor = build_random_family(family, full_size=True)
    detector = Detector(LoadedModel(model, processor, torch.device("cpu"), torch.float32, family))
    # The reference runs an unpatched twin: the detector's fast paths patch its own instance.
    reference_model, _ = build_random_family(family, full_size=True)
    labels = LabelSet.from_names(CLASSES)
    detector_seconds(detector, labels, PHOTOS[0])  # warm-up (kernel build, caches)
    reference_seconds(family, reference_model, processor, PHOTOS[0])
    ref, ours = [], []
    for _ in range(rounds):
        for path in PHOTOS:
            ref.append(reference_seconds(family, reference_model, processor, path))
            ours.append(detector_seconds(detector, labels, path))
    parameters = sum(p.numel() for p in model.parameters()) / 1e6
    return {"reference": statistics.median(ref), "detector": statistics.median(ours), "params_m": parameters}


def run_families(rounds: int, families: list[str] | None = None) -> dict[str, dict[str, float]]:
    threads = torch.get_num_threads()
    print(f"\n== families: CPU s/image, full-size random weights, {threads} threads, {rounds} round(s) ==")
    print(f"{'family':<20}{'params (M)':>12}{'reference':>12}{'groundlabel':>13}")
    results = {}
    for family in families or FAMILIES:
        figures = measure(family, rounds)
        results[family] = figures
        print(
            f"{family:<20}{figures['params_m']:>12.0f}{figures['reference']:>11.2f}s{figures['detector']:>12.2f}s",
            flush=True,
        )
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--families", nargs="+", choices=FAMILIES, default=FAMILIES)
    args = parser.parse_args(argv)
    run_families(args.rounds, args.families)


if __name__ == "__main__":
    main()
