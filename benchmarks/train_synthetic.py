"""The known answer for training: mAP@0.5 on synthetic shapes against minutes of training, and
the trained architecture's CPU detection speed against grounding-dino-tiny's.

``python -m benchmarks.train_synthetic [--images 300] [--epochs 40] [--size 128] [--config tiny]
[--dtypes fp32,bf16] [--repeats 3] [--step-share]``

Part 1 writes the synthetic shapes project (``groundlabel.devtools.synthetic_shapes``: three
classes on textured backgrounds, 1-3 shapes an image), trains RT-DETRv2 from scratch with
``groundlabel.trainers.loop.train`` (the CLI's loop; split train=0.8,val=0.2 as export) and
prints COCOeval mAP@0.5 on val after each epoch with the minutes spent so far. The target is
mAP@0.5 >= 0.9. ``--dtypes fp32,bf16`` trains once per dtype (bf16: CPU autocast, ``train
--dtype bf16``) and compares best mAP@0.5 and the median epoch time; ``--repeats N`` trains N
times per dtype, interleaved, and gives the median of the runs' epoch times beside each run's.

``--step-share`` times one optimiser step (forward, loss, backward, AdamW) of the full-size
RT-DETRv2 r18vd at ``--size`` on a batch of ``--batch-size`` random images, per dtype, and sets
its FLOPs (counted once with torch's FLOP counter, backward included) against the matmul peak of
that dtype measured in the same run: the share of the peak that training reaches.

Part 2 times ``Detector.detect`` (decode included) on CPU for the full-size RT-DETRv2 r18vd
architecture at 640x640 and for grounding-dino-tiny (random weights compute as much as real
ones), interleaved in the same process, on the reference photos: images/s, medians of rounds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
PHOTOS = sorted((REPO / "assets" / "reference" / "photos").glob("*.png"))
TARGET = 0.9


def run_training(
    images: int, epochs: int, size: int, config: str, batch_size: int, lr: float, dtype: str = "fp32"
) -> dict[str, float]:
    from groundlabel.devtools.synthetic_shapes import write_shapes_project
    from groundlabel.trainers.loop import Hooks, TrainOptions, train

    threads = torch.get_num_threads()
    print(f"== training: RT-DETRv2 ({config} config, from scratch) on {images} synthetic images, {size} px, "
          f"CPU, {threads} threads, {dtype} ==")  # fmt: skip
    print(f"{'epoch':>6}{'minutes':>9}{'loss':>9}{'mAP':>8}{'mAP@0.5':>9}")
    with tempfile.TemporaryDirectory() as work:
        folder = write_shapes_project(Path(work) / "shapes", images, seed=0, size=size)
        config_file = (
            None if config == "default" else _r18vd_config(Path(work)) if config == "r18vd" else Path(config)
        )
        started = time.perf_counter()
        reached: list[tuple[float, float]] = []

        def on_epoch(record) -> None:
            minutes = (time.perf_counter() - started) / 60
            reached.append((minutes, record.map50))
            print(
                f"{record.epoch:>6}{minutes:>9.1f}{record.loss:>9.2f}{record.map:>8.3f}{record.map50:>9.3f}",
                flush=True,
            )

        options = TrainOptions(
            folder=folder, output=Path(work) / "model", from_scratch=True,
            config_file=config_file, epochs=epochs, image_size=size,
            batch_size=batch_size, lr=lr, device="cpu", dtype=dtype,
        )  # fmt: skip
        result = train(options, Hooks(on_epoch=on_epoch, show_progress=False))
    best = result.best
    hit = next((m for m, value in reached if value >= TARGET), None)
    print(f"best mAP@0.5 {best.map50:.3f} (epoch {best.epoch}) after {reached[-1][0]:.1f} min; "
          + (f"target {TARGET} first reached at {hit:.1f} min" if hit is not None else f"target {TARGET} not reached"))  # fmt: skip
    for name, ap in result.per_class.items():
        print(f"  {name}: AP@0.5 {ap['ap50']:.3f}")
    seconds = [record.seconds for record in result.history]
    return {"best_map50": best.map50, "epoch_s": statistics.median(seconds), "minutes": reached[-1][0]}


#: transformers' default RTDetrV2Config is the ResNet-50 variant; r18vd is what ``train --arch
#: rt-detr-v2`` starts from (PekingU/rtdetr_v2_r18vd), so ``--config r18vd`` trains that size.
R18VD = {
    "backbone_config": {"model_type": "rt_detr_resnet", "depths": [2, 2, 2, 2], "hidden_sizes": [64, 128, 256, 512],
                        "layer_type": "basic", "out_features": ["stage2", "stage3", "stage4"]},
    "encoder_in_channels": [128, 256, 512], "decoder_layers": 3, "hidden_expansion": 0.5,
}  # fmt: skip


def _r18vd_config(folder: Path) -> Path:
    path = folder / "r18vd.json"
    path.write_text(json.dumps(R18VD))
    return path


def _rt_detr_full_size(classes: list[str]):
    from groundlabel.detector import Detector
    from groundlabel.model_loading import LoadedModel
    from groundlabel.trainers import architecture
    from groundlabel.trainers.model_setup import new_processor, scratch_model

    with tempfile.TemporaryDirectory() as work:
        model = scratch_model(architecture("rt-detr-v2"), classes, _r18vd_config(Path(work))).eval()
    return Detector(
        LoadedModel(model, new_processor(640), torch.device("cpu"), torch.float32, "rt-detr-v2-r18vd")
    )


def run_step_share(size: int, batch_size: int, dtypes: list[str], steps: int = 5) -> None:
    """Seconds and share of the matmul peak of one training step, per dtype (medians of ``steps``)."""
    from benchmarks.speed_support import count_flops, flops_line, print_precision_header
    from groundlabel.precision import training_autocast
    from groundlabel.trainers.cpu_tuning import tune_cpu_training

    peaks = print_precision_header()
    model = _rt_detr_full_size(["square", "disc", "triangle"]).model.train()
    # as the training loop does: the allocator for every dtype, the bf16 parts only under autocast
    tuned = {dtype: tune_cpu_training(model, torch.device("cpu"), dtype) for dtype in dtypes}
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    generator = torch.Generator().manual_seed(0)
    pixels = torch.rand(batch_size, 3, size, size, generator=generator)
    labels = [
        {"class_labels": torch.tensor([i % 3]), "boxes": torch.tensor([[0.3 + 0.1 * i, 0.5, 0.2, 0.3]])}
        for i in range(batch_size)
    ]

    def step(dtype: str) -> None:
        with training_autocast("cpu", dtype):
            loss = model(
                pixel_values=pixels.to(memory_format=tuned.get(dtype, torch.preserve_format)),
                labels=labels,
            ).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    flops = count_flops(lambda: step("fp32"))
    print(f"== one training step: RT-DETRv2 r18vd, batch {batch_size} at {size} px, "
          f"{torch.get_num_threads()} threads, medians of {steps} steps ==")  # fmt: skip
    medians = {}
    for dtype in dtypes:
        step(dtype)  # warm-up
        times = []
        for _ in range(steps):
            started = time.perf_counter()
            step(dtype)
            times.append(time.perf_counter() - started)
        medians[dtype] = statistics.median(times)
        print(f"{dtype}: {medians[dtype]:.2f} s/step (steps {[round(t, 2) for t in times]})")
        print(flops_line(flops, medians[dtype], peaks[dtype], f"  training step, {dtype}"))
    if len(medians) > 1:
        first = next(iter(medians))
        for dtype, median in medians.items():
            print(f"{dtype}: {medians[first] / median:.2f}x the {first} step")


def _grounding_dino_tiny():
    from groundlabel.detector import Detector
    from groundlabel.devtools.random_families import build_random_family
    from groundlabel.model_loading import LoadedModel

    model, processor = build_random_family("grounding-dino", full_size=True)
    return Detector(LoadedModel(model, processor, torch.device("cpu"), torch.float32, "grounding-dino-tiny"))


def run_speed(rounds: int) -> None:
    from groundlabel.labels import LabelSet

    classes = ["square", "disc", "triangle"]
    labels = LabelSet.from_names(classes)
    detectors = {
        "rt-detr-v2 r18vd (640)": _rt_detr_full_size(classes),
        "grounding-dino-tiny": _grounding_dino_tiny(),
    }
    for detector in detectors.values():
        next(detector.detect([PHOTOS[0]], labels, box_threshold=0.3))  # warm-up
    times: dict[str, list[float]] = {name: [] for name in detectors}
    for _ in range(rounds):
        for path in PHOTOS:
            for name, detector in detectors.items():
                started = time.perf_counter()
                result = next(detector.detect([path], labels, box_threshold=0.3))
                assert result.ok, result.error
                times[name].append(time.perf_counter() - started)
    print(
        f"\n== detection speed on CPU ({torch.get_num_threads()} threads), full-size random weights, {rounds} round(s) =="
    )
    base = statistics.median(times["grounding-dino-tiny"])
    for name, values in times.items():
        median = statistics.median(values)
        params = sum(p.numel() for p in detectors[name].model.parameters()) / 1e6
        print(f"{name:<26}{params:>7.1f} M params{1 / median:>8.2f} images/s{base / median:>7.1f}x")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument(
        "--config",
        default="tiny",
        help="tiny, r18vd, default (transformers' RTDetrV2Config: ResNet-50), or a config.json",
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--skip-training", action="store_true")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--repeats", type=int, default=1, help="training runs per dtype, interleaved")
    parser.add_argument("--step-share", action="store_true", help="one training step's share of the peak")
    parser.add_argument(
        "--dtypes", default="fp32", help="train once per dtype, e.g. fp32,bf16 (bf16: CPU autocast)"
    )
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    dtypes = [d.strip() for d in args.dtypes.split(",") if d.strip()]
    if args.step_share:
        run_step_share(args.size, args.batch_size, dtypes)
    if not args.skip_training:
        runs: dict[str, list[dict[str, float]]] = {dtype: [] for dtype in dtypes}
        for _ in range(args.repeats):
            for dtype in dtypes:
                runs[dtype].append(
                    run_training(
                        args.images, args.epochs, args.size, args.config, args.batch_size, args.lr, dtype
                    )
                )
        if len(runs) > 1 or args.repeats > 1:
            epoch = {dtype: statistics.median(r["epoch_s"] for r in done) for dtype, done in runs.items()}
            base = epoch[dtypes[0]]
            for dtype, done in runs.items():
                print(f"{dtype}: best mAP@0.5 {[round(r['best_map50'], 3) for r in done]}, median epoch "
                      f"{epoch[dtype]:.1f} s over {len(done)} run(s) {[round(r['epoch_s'], 1) for r in done]} "
                      f"({base / epoch[dtype]:.2f}x)")  # fmt: skip
    if not args.skip_speed:
        run_speed(args.rounds)


if __name__ == "__main__":
    main()
