"""Does CPU bf16 autocast give the boxes fp32 gives? Measured on trained weights, which decide.

``python -m benchmarks.bf16_agreement [--model DIR | --arch rt-detr-v2|d-fine --train-images 300
--epochs 40] [--test-images 200] [--keep-model DIR] [--zero-shot grounding-dino,owlv2] [--speed]``

Random weights exaggerate every numeric difference (their logits sit near the threshold and
their boxes are arbitrary), so they cannot say whether bf16 is good enough. The synthetic
shapes detector that ``groundlabel train`` makes is a real trained model with a known answer:

1. train it (RT-DETRv2, tiny config, from scratch, as ``benchmarks.train_synthetic``) or take
   ``--model DIR``;
2. detect on held-out shape images (a seed the training never saw) with the product's
   ``Detector`` in fp32, then under CPU bf16 autocast with each set of fp32 islands: none,
   the heads, the heads and the deformable sampling (``FamilyAdapter.fp32_island_groups``);
3. per variant: COCOeval mAP@0.5 against the ground truth (the criterion: within 0.01 of
   fp32), the share of fp32 boxes (score >= 0.3) matched one to one (Hungarian on IoU, same
   class) by a bf16 box with IoU >= 0.95 (criterion: >= 99 %), and the median seconds per image.

``--speed`` times full-size architectures (RT-DETRv2 r18vd at 640, grounding-dino-tiny; random
weights) on the reference photos, fp32 against bf16, with each one's share of the matmul peak.
``--zero-shot`` adds, as information only, the same box agreement for full-size zero-shot
architectures with random weights on the reference photos. The header gives the CPU's bf16
capability and the fp32/bf16 matmul peaks measured in the same run.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import random
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks.speed_support import print_precision_header

REPO = Path(__file__).resolve().parents[1]
PHOTOS = sorted((REPO / "assets" / "reference" / "photos").glob("*.png"))
MATCH_SCORE = 0.3  # the fp32 boxes a user would see (about the default box threshold)
VARIANTS: list[tuple[str, str, tuple[str, ...]]] = [
    ("fp32", "fp32", ()),
    ("bf16, no islands", "bf16", ()),
    ("bf16, heads fp32", "bf16", ("heads",)),
    ("bf16, heads + sampling fp32", "bf16", ("heads", "sampling")),
]


def train_model(output: Path, images: int, epochs: int, size: int, arch: str = "rt-detr-v2") -> Path:
    from groundlabel.devtools.synthetic_shapes import write_shapes_project
    from groundlabel.trainers.loop import Hooks, TrainOptions, train

    with tempfile.TemporaryDirectory() as work:
        folder = write_shapes_project(Path(work) / "shapes", images, seed=0, size=size)
        started = time.perf_counter()
        options = TrainOptions(
            folder=folder, output=output, arch=arch, from_scratch=True, config_file=Path("tiny"), epochs=epochs,
            image_size=size, batch_size=16, lr=1e-3, device="cpu",
        )  # fmt: skip
        result = train(options, Hooks(show_progress=False))
    print(f"trained {arch} (tiny config) on {images} shape images, {epochs} epochs, {size} px: best val "
          f"mAP@0.5 {result.best.map50:.3f} in {(time.perf_counter() - started) / 60:.1f} min")  # fmt: skip
    return output


def test_set(count: int, size: int) -> tuple[list, list[list[tuple[str, tuple[float, ...]]]]]:
    from groundlabel.devtools.synthetic_shapes import shapes_image

    rng = random.Random(20261207)  # not the training seed
    images, truth = [], []
    for _ in range(count):
        image, boxes = shapes_image(rng, size)
        images.append(image)
        truth.append([(box.name, box.xyxy) for box in boxes])
    return images, truth


def map50(results: list, truth: list, classes: list[str]) -> float:
    """COCOeval bbox mAP@0.5 of the results against the known boxes."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    ids = {name: i + 1 for i, name in enumerate(classes)}
    gt = {"images": [], "annotations": [], "categories": [{"id": i, "name": n} for n, i in ids.items()]}
    detections = []
    for index, (result, boxes) in enumerate(zip(results, truth, strict=True)):
        gt["images"].append({"id": index + 1, "width": result.image_size[0], "height": result.image_size[1]})
        for name, (x0, y0, x1, y1) in boxes:
            gt["annotations"].append({
                "id": len(gt["annotations"]) + 1, "image_id": index + 1, "category_id": ids[name],
                "bbox": [x0, y0, x1 - x0, y1 - y0], "area": (x1 - x0) * (y1 - y0), "iscrowd": 0,
            })  # fmt: skip
        for (x0, y0, x1, y1), score, label in zip(result.boxes, result.scores, result.labels, strict=True):
            detections.append({"image_id": index + 1, "category_id": ids[label],
                               "bbox": [x0, y0, x1 - x0, y1 - y0], "score": score})  # fmt: skip
    if not detections:
        return 0.0
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = gt
        coco.createIndex()
        evaluator = COCOeval(coco, coco.loadRes(detections), "bbox")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return max(0.0, float(evaluator.stats[1]))


def box_agreement(reference: list, other: list) -> tuple[int, int, float]:
    """(fp32 boxes above MATCH_SCORE, those matched by an ``other`` box of the same class with
    IoU >= 0.95, the median matched IoU), Hungarian matching per image and class."""
    from scipy.optimize import linear_sum_assignment

    from groundlabel.boxes import box_iou

    total = good = 0
    ious: list[float] = []
    for ref, oth in zip(reference, other, strict=True):
        for label in set(ref.labels):
            a = [
                b
                for b, s, lab in zip(ref.boxes, ref.scores, ref.labels, strict=True)
                if lab == label and s >= MATCH_SCORE
            ]
            b = [b for b, lab in zip(oth.boxes, oth.labels, strict=True) if lab == label]
            total += len(a)
            if not a or not b:
                continue
            iou = box_iou(torch.tensor(a), torch.tensor(b)).numpy()
            rows, cols = linear_sum_assignment(-iou)
            matched = iou[rows, cols]
            ious.extend(matched.tolist())
            good += int((matched >= 0.95).sum())
    return total, good, float(np.median(ious)) if ious else float("nan")


def run_variant(model: str, dtype: str, groups: tuple[str, ...], images: list, labels, rounds: int):
    """(results, median seconds per image) of the product's Detector with these fp32 groups."""
    from groundlabel.detector import Detector
    from groundlabel.families import adapter_for
    from groundlabel.model_loading import load_model

    loaded = load_model(model, device="cpu", dtype=dtype)
    adapter = adapter_for(loaded.model.config.model_type)
    kept = adapter.fp32_groups_kept
    adapter.fp32_groups_kept = tuple(g for g in groups if g in adapter.fp32_island_groups)
    try:
        detector = Detector(loaded)
    finally:
        adapter.fp32_groups_kept = kept
    settings = {"box_threshold": 0.01, "text_threshold": 0.0, "max_detections": 100}
    next(detector.detect([images[0]], labels, **settings))  # warm-up
    times: list[float] = []
    results: list = []
    for round_ in range(rounds):
        for image in images:
            started = time.perf_counter()
            result = next(detector.detect([image], labels, **settings))
            times.append(time.perf_counter() - started)
            if round_ == 0:
                results.append(result)
    return results, statistics.median(times)


def trained_agreement(model: str, test_images: int, size: int, rounds: int) -> None:
    from groundlabel.labels import LabelSet
    from groundlabel.model_loading import closed_set_classes

    classes = closed_set_classes(model) or ["square", "disc", "triangle"]
    labels = LabelSet.from_names(classes)
    images, truth = test_set(test_images, size)
    print(f"\n== trained synthetic-shapes detector ({model}), {test_images} held-out images, {size} px ==")
    print(
        f"{'variant':<30}{'mAP@0.5':>9}{'Δ mAP':>8}{'IoU≥0.95':>10}{'med IoU':>9}{'s/image':>9}{'speed-up':>9}"
    )
    reference = None
    for name, dtype, groups in VARIANTS:
        results, seconds = run_variant(model, dtype, groups, images, labels, rounds)
        score = map50(results, truth, classes)
        if reference is None:
            reference = (results, score, seconds)
            print(f"{name:<30}{score:>9.4f}{'':>8}{'':>10}{'':>9}{seconds:>9.4f}{1.0:>8.2f}x")
            continue
        total, good, median_iou = box_agreement(reference[0], results)
        share = 100 * good / total if total else float("nan")
        print(f"{name:<30}{score:>9.4f}{score - reference[1]:>+8.4f}{share:>9.1f}%{median_iou:>9.4f}"
              f"{seconds:>9.4f}{reference[2] / seconds:>8.2f}x")  # fmt: skip
    print(
        f"(criteria: |Δ mAP@0.5| <= 0.01 and >= 99 % of the fp32 boxes with score >= {MATCH_SCORE} matched at IoU >= 0.95)"
    )


def zero_shot_agreement(families: list[str], rounds: int) -> None:
    """Information only: full-size random weights, the reference photos, fp32 against bf16 (kept islands)."""
    from groundlabel.devtools.random_families import save_random_family
    from groundlabel.labels import LabelSet

    labels = LabelSet.parse("cat, person, helmet")
    from PIL import Image

    images = [Image.open(p).convert("RGB") for p in PHOTOS]
    print("\n== zero-shot families, full-size architecture, random weights (information only) ==")
    print(
        f"{'family':<18}{'fp32 s/image':>13}{'bf16 s/image':>13}{'speed-up':>9}{'IoU≥0.95':>10}{'med IoU':>9}"
    )
    for family in families:
        with tempfile.TemporaryDirectory() as work:
            folder = save_random_family(Path(work) / family, family, full_size=True)
            fp32, fp32_s = run_variant(str(folder), "fp32", (), images, labels, rounds)
            bf16, bf16_s = run_variant(str(folder), "bf16", ("heads", "sampling"), images, labels, rounds)
        total, good, median_iou = box_agreement(fp32, bf16)
        share = 100 * good / total if total else float("nan")
        print(
            f"{family:<18}{fp32_s:>13.2f}{bf16_s:>13.2f}{fp32_s / bf16_s:>8.2f}x{share:>9.1f}%{median_iou:>9.4f}"
        )


def _d_fine_full_size(classes: list[str]):
    from groundlabel.detector import Detector
    from groundlabel.model_loading import LoadedModel
    from groundlabel.trainers import architecture
    from groundlabel.trainers.model_setup import new_processor, scratch_model

    model = scratch_model(architecture("d-fine"), classes).eval()  # transformers' default D-FINE config
    return Detector(LoadedModel(model, new_processor(640), torch.device("cpu"), torch.float32, "d-fine"))


def _random_full_size(family: str, name: str):
    """A full-size random-weights detector of a zero-shot family, as ``Detector.load`` would wrap it."""
    from groundlabel.detector import Detector
    from groundlabel.devtools.random_families import build_random_family
    from groundlabel.model_loading import LoadedModel

    model, processor = build_random_family(family, full_size=True)
    return Detector(LoadedModel(model, processor, torch.device("cpu"), torch.float32, name))


def _owlv2_base():
    return _random_full_size("owlv2", "owlv2-base-patch16")


#: the full-size architectures ``--speed`` times: (builder, prompt, whether it takes the classes)
SPEED_MODELS = {
    "rt-detr-v2": ("rt-detr-v2 r18vd (640)", "square, disc, triangle"),
    "d-fine": ("d-fine (default config, 640)", "square, disc, triangle"),
    "grounding-dino": ("grounding-dino-tiny", "cat, person, helmet"),
    "owlv2": ("owlv2-base-patch16 (960)", "cat, person, helmet"),
    "owlvit": ("owlvit-base-patch32 (768)", "cat, person, helmet"),
    "mm-grounding-dino": ("mm-grounding-dino-tiny", "cat, person, helmet"),
}


def full_size_speed(rounds: int, peaks: dict[str, float], models: list[str] | None = None) -> None:
    """Seconds per reference photo of full-size architectures (random weights compute as much as
    trained ones), fp32 against bf16 autocast with the kept islands, and the share of the peak."""
    from benchmarks.speed_support import count_flops
    from benchmarks.train_synthetic import _grounding_dino_tiny, _rt_detr_full_size
    from groundlabel.images import load_image
    from groundlabel.inference.fp32_islands import keep_fp32
    from groundlabel.labels import LabelSet

    images = [load_image(p) for p in PHOTOS]
    print(f"\n== full-size architectures, reference photos, {rounds} round(s), medians ==")
    print(
        f"{'model':<26}{'fp32 s/image':>13}{'bf16 s/image':>13}{'speed-up':>9}{'fp32 % peak':>12}{'bf16 % peak':>12}"
    )
    builds = {
        "rt-detr-v2": _rt_detr_full_size,
        "d-fine": _d_fine_full_size,
        "grounding-dino": lambda classes: _grounding_dino_tiny(),
        "owlv2": lambda classes: _owlv2_base(),
        "owlvit": lambda classes: _random_full_size("owlvit", "owlvit-base-patch32"),
        "mm-grounding-dino": lambda classes: _random_full_size("mm-grounding-dino", "mm-grounding-dino-tiny"),
    }
    for key in models or ["rt-detr-v2", "grounding-dino"]:
        name, spec = SPEED_MODELS[key]
        classes = [c.strip() for c in spec.split(",")]
        fp32, bf16 = (builds[key](classes) for _ in range(2))
        labels = LabelSet.parse(spec)
        # as Detector.__init__ does for a model loaded with --dtype bf16 (its fast paths already on)
        bf16.adapter.cpu_autocast = True
        keep_fp32(bf16.model, bf16.adapter.fp32_islands())
        seconds = {}
        for dtype, detector in (("fp32", fp32), ("bf16", bf16)):
            next(detector.detect([images[0]], labels))
            times = []
            for _ in range(rounds):
                for image in images:
                    started = time.perf_counter()
                    next(detector.detect([image], labels))
                    times.append(time.perf_counter() - started)
            seconds[dtype] = statistics.median(times)
        pixels = fp32.adapter.pixels([images[0]])
        prompt = fp32.prompts(labels)[0]
        flops = count_flops(
            lambda fp32=fp32, pixels=pixels, prompt=prompt: fp32.adapter.forward(pixels, prompt)
        )
        share = {d: 100 * flops / seconds[d] / peaks[d] for d in seconds}
        print(f"{name:<26}{seconds['fp32']:>13.2f}{seconds['bf16']:>13.2f}{seconds['fp32'] / seconds['bf16']:>8.2f}x"
              f"{share['fp32']:>11.0f}%{share['bf16']:>11.0f}%")  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a trained closed-set model folder (default: train one now)")
    parser.add_argument("--keep-model", type=Path, help="where to keep the model trained now")
    parser.add_argument("--train-images", type=int, default=300)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--test-images", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3, help="timing rounds over the test images")
    parser.add_argument("--arch", default="rt-detr-v2", choices=["rt-detr-v2", "d-fine"])
    parser.add_argument("--zero-shot", default="", help="comma-separated families, e.g. grounding-dino,owlv2")
    parser.add_argument(
        "--speed", action="store_true", help="also time full-size architectures, fp32 and bf16"
    )
    parser.add_argument(
        "--speed-models",
        default="rt-detr-v2,grounding-dino",
        help=f"comma-separated, for --speed: {', '.join(SPEED_MODELS)} (default: %(default)s)",
    )
    parser.add_argument("--skip-agreement", action="store_true")
    args = parser.parse_args(argv)
    peaks = print_precision_header()
    if not args.skip_agreement:
        with tempfile.TemporaryDirectory() as work:
            model = args.model or str(
                train_model(
                    args.keep_model or Path(work) / "model",
                    args.train_images,
                    args.epochs,
                    args.size,
                    args.arch,
                )
            )
            trained_agreement(model, args.test_images, args.size, args.rounds)
    if args.speed:
        full_size_speed(args.rounds, peaks, [m.strip() for m in args.speed_models.split(",") if m.strip()])
    if args.zero_shot:
        zero_shot_agreement(
            [f.strip() for f in args.zero_shot.split(",") if f.strip()], max(1, args.rounds // 3)
        )


if __name__ == "__main__":
    main()
