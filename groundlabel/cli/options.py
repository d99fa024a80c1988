"""Options several subcommands share, so each means the same everywhere."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from typing import Any

from groundlabel.errors import GroundlabelError
from groundlabel.model_catalog import DEFAULT_MODEL
from groundlabel.precision import DTYPE_CHOICES

DTYPES = DTYPE_CHOICES
DTYPE_HELP = (
    "auto: bf16 autocast on a CPU with bf16 units for the families where its agreement with fp32 "
    "is shown (docs: Speed), else fp32; bf16: autocast on such a CPU, bf16 weights on CUDA; "
    "fp16: CUDA only (default: %(default)s)"
)


def env_default(name: str, fallback: str | None) -> str | None:
    """An option's default from ``GROUNDLABEL_<NAME>`` (used by Docker), else ``fallback``."""
    return os.environ.get(f"GROUNDLABEL_{name}", fallback)


class InvalidEnvDefault:
    """Stands for a bad ``GROUNDLABEL_*`` value until a command actually uses it.

    Checked after parsing (``reject_invalid_env_defaults``), so a bad serve setting never
    breaks another subcommand, and an explicit option still overrides it.
    """

    def __init__(self, message: str) -> None:
        self.message = message

    def __str__(self) -> str:
        return f"invalid, {self.message}"


def env_value(name: str, fallback: str, convert: Callable[[str], Any]) -> Any:
    """A converted ``GROUNDLABEL_<NAME>`` default, or an ``InvalidEnvDefault`` naming the variable."""
    text = env_default(name, fallback)
    try:
        return convert(text)
    except argparse.ArgumentTypeError as exc:
        return InvalidEnvDefault(f"environment variable GROUNDLABEL_{name}: {exc}; unset it or fix it")


def reject_invalid_env_defaults(args: argparse.Namespace) -> None:
    for value in vars(args).values():
        if isinstance(value, InvalidEnvDefault):
            raise GroundlabelError(value.message)


def probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{value} is outside 0..1")
    return value


def dtype_name(text: str) -> str:
    if text not in DTYPES:
        raise argparse.ArgumentTypeError(f"{text!r} is not one of {', '.join(DTYPES)}")
    return text


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def add_model_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("model")
    group.add_argument(
        "--model",
        default=env_default("MODEL", DEFAULT_MODEL),
        help="hub id or local directory saved with save_pretrained; Grounding DINO, MM Grounding DINO "
        "(LLMDet), OWLv2, OWL-ViT, SAM 3, or a model `groundlabel train` made (RT-DETRv2, D-FINE) "
        "(default: %(default)s)",
    )
    group.add_argument(
        "--device",
        default=env_default("DEVICE", "auto"),
        help="auto, cpu, cuda, cuda:N or mps (default: %(default)s)",
    )
    group.add_argument(
        "--dtype",
        default=env_value("DTYPE", "auto", dtype_name),
        choices=DTYPES,
        help=DTYPE_HELP,
    )


def add_threshold_options(parser: argparse.ArgumentParser, *, label_studio: bool = False) -> None:
    """Thresholds; Label Studio commands take no NMS or cap, and a control's own threshold wins."""
    group = parser.add_argument_group("thresholds")
    control_wins = "; model_score_threshold on a control wins" if label_studio else ""
    group.add_argument(
        "--box-threshold",
        type=probability,
        default=env_value("BOX_THRESHOLD", "0.35", probability),
        help=f"keep boxes scoring above this{control_wins} (default: %(default)s)",
    )
    group.add_argument(
        "--text-threshold",
        type=probability,
        default=env_value("TEXT_THRESHOLD", "0.25", probability),
        help="a box's class must have a token above this (default: %(default)s)",
    )
    if label_studio:
        return
    group.add_argument(
        "--nms-iou", type=probability, default=None, help="class-wise NMS at this IoU (default: off)"
    )
    group.add_argument(
        "--max-detections", type=positive_int, default=None, help="at most this many boxes per image"
    )


def require_labels(text: str | None, model: str | None = None) -> str:
    """The --labels text; a closed-set model (``groundlabel train``'s) without it detects all its classes."""
    if (not text or not text.strip()) and model:
        from groundlabel.model_loading import closed_set_classes

        classes = closed_set_classes(model)
        if classes:
            return ", ".join(classes)
    if not text or not text.strip():
        raise GroundlabelError('no classes given: pass --labels "cat, dog, remote control=remote|tv remote"')
    return text


def detection_options(args: argparse.Namespace) -> dict[str, Any]:
    """``Detector.detect``'s keyword options from ``detect``'s flags, the same for every path that runs it."""
    return {
        "box_threshold": args.box_threshold,
        "text_threshold": args.text_threshold,
        "nms_iou": args.nms_iou,
        "max_detections": args.max_detections,
        "batch_size": args.batch_size,
    }


def add_video_split_options(parser: argparse.ArgumentParser) -> None:
    """``--split-by`` and ``--chunk-frames``: how a video's frames are split (export and train)."""
    from groundlabel.formats.names import DEFAULT_CHUNK_FRAMES, MIN_CHUNK_FRAMES, SPLIT_UNITS

    parser.add_argument(
        "--split-by",
        choices=SPLIT_UNITS,
        default="auto",
        help="a video's frames go to one split by whole video, or by chunks of --chunk-frames "
        "contiguous frames, never one by one, so val frames are not neighbours of train frames "
        "(default auto: by video with 5 or more videos, else by chunk)",
    )
    parser.add_argument(
        "--chunk-frames",
        type=positive_int,
        default=None,
        metavar="N",
        help=f"frames per chunk for --split-by chunk (default: about a tenth of each video, "
        f"{MIN_CHUNK_FRAMES} to {DEFAULT_CHUNK_FRAMES} frames)",
    )
