"""``groundlabel train FOLDER -o MODEL_DIR``: a closed-set detector from the project's reviewed boxes."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from groundlabel.cli.options import add_video_split_options, positive_int

if TYPE_CHECKING:
    from groundlabel.trainers.loop import TrainOptions


def register(subparsers: argparse._SubParsersAction) -> None:
    from groundlabel.trainers import ARCHITECTURES, DEFAULT_ARCH
    from groundlabel.trainers.base import DEFAULT_TRAIN_SPLIT

    parser = subparsers.add_parser(
        "train",
        help="train a fast closed-set detector (RT-DETRv2, D-FINE) on the reviewed images",
        description=(
            "Train on the accepted and hand-drawn boxes of reviewed images, split as `export` splits "
            "them (same --split and --seed, same images in val). Starts from a COCO-pretrained checkpoint "
            "with its head resized to the project's classes; evaluates COCO mAP on val every epoch and "
            "keeps the best epoch in MODEL_DIR (a save_pretrained folder that detect, serve and review "
            "load), with train_report.html. Ctrl+C saves a checkpoint; --resume continues it."
        ),
    )
    parser.add_argument("folder", type=Path, metavar="FOLDER", help="the image folder holding the project")
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="MODEL_DIR", help="model folder")
    parser.add_argument("--arch", choices=list(ARCHITECTURES), default=DEFAULT_ARCH, help="model family")
    start = parser.add_mutually_exclusive_group()
    start.add_argument(
        "--from", dest="start", metavar="CHECKPOINT", default=None,
        help="hub id or folder to start from (default: the architecture's COCO checkpoint, e.g. "
        "PekingU/rtdetr_v2_r18vd)",
    )  # fmt: skip
    start.add_argument("--from-scratch", action="store_true", help="random weights (no download)")
    parser.add_argument(
        "--config", default=None, metavar="FILE.json|tiny",
        help="architecture config for --from-scratch: a config.json, or 'tiny' for a very small one",
    )  # fmt: skip
    parser.add_argument("--epochs", type=positive_int, default=50, metavar="N", help="default: %(default)s")
    parser.add_argument(
        "--image-size", type=positive_int, default=None, metavar="S",
        help="square input side, a multiple of 32 (default: the checkpoint's, 640)",
    )  # fmt: skip
    parser.add_argument(
        "--batch-size", type=positive_int, default=8, metavar="B", help="default: %(default)s"
    )
    parser.add_argument(
        "--lr", type=float, default=None, help="learning rate (default 1e-4, 1e-3 from scratch)"
    )
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda[:N] (default: auto)")
    parser.add_argument(
        "--split", default=DEFAULT_TRAIN_SPLIT, metavar="NAME=RATIO,...",
        help="as for export; trains on 'train', evaluates on 'val' (default: %(default)s)",
    )  # fmt: skip
    add_video_split_options(parser)
    parser.add_argument(
        "--dtype",
        choices=("fp32", "bf16"),
        default="fp32",
        help="bf16: autocast on CPUs with bf16 units (CUDA always trains in bf16 autocast); default fp32",
    )
    parser.add_argument("--seed", type=int, default=0, help="split and training seed (default 0)")
    parser.add_argument("--no-augment", action="store_true", help="no flips, crops or scale jitter")
    parser.add_argument("--resume", action="store_true", help="continue the checkpoint in MODEL_DIR")
    parser.add_argument("--ray", action="store_true", help="train data-parallel on Ray Train")
    parser.add_argument(
        "--workers", type=positive_int, default=2, metavar="N", help="Ray workers (default 2)"
    )
    parser.add_argument(
        "--ray-address", default=None, metavar="ADDRESS",
        help="an existing Ray cluster (default: a local one on loopback)",
    )  # fmt: skip
    parser.set_defaults(handler=run)


def options_from(args: argparse.Namespace) -> TrainOptions:
    from groundlabel.errors import GroundlabelError
    from groundlabel.trainers.loop import TrainOptions

    if args.config is not None and not args.from_scratch:
        raise GroundlabelError("--config describes a new architecture: use it with --from-scratch")
    return TrainOptions(
        folder=args.folder,
        output=args.output,
        arch=args.arch,
        start=args.start,
        from_scratch=args.from_scratch,
        config_file=None if args.config is None else Path(args.config),
        epochs=args.epochs,
        image_size=args.image_size,
        batch_size=args.batch_size,
        lr=args.lr,
        device=args.device,
        split=args.split,
        seed=args.seed,
        split_by=args.split_by,
        chunk_frames=args.chunk_frames,
        resume=args.resume,
        augment=not args.no_augment,
        dtype=args.dtype,
    )


def run(args: argparse.Namespace) -> int:
    options = options_from(args)
    if args.ray:
        from groundlabel.trainers.ray_train import train_on_ray

        result = train_on_ray(options, args.workers, args.ray_address)
    else:
        from groundlabel.trainers.loop import train

        result = train(options)
    best = result.best
    score = "" if best is None or best.map is None else f", mAP {best.map:.3f}, mAP@0.5 {best.map50:.3f}"
    print(
        f"{len(result.history)} epoch(s); best epoch {result.best_epoch}{score} -> {result.output} "
        f"(report: {result.output / 'train_report.html'})",
        file=sys.stderr,
    )
    for name, ap in result.per_class.items():
        print(f"  {name}: AP {ap['ap']:.3f}, AP@0.5 {ap['ap50']:.3f}", file=sys.stderr)
    return 0
