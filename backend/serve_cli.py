"""``groundlabel serve``, a plug-in command of the backend (FastAPI and uvicorn load only when it runs).

Registered through the ``groundlabel.commands`` entry point group, so the core CLI never names it."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from groundlabel.cli.options import add_model_options, add_threshold_options, env_default, env_value
from groundlabel.errors import GroundlabelError


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port (1..65535)")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="run the Label Studio ML backend",
        description=(
            "Serve Grounding DINO to Label Studio: boxes for every RectangleLabels control, prompted "
            "with the project's own labels, and masks for BrushLabels / PolygonLabels with --masks. Label Studio's address and key come from LABEL_STUDIO_URL "
            "and LABEL_STUDIO_API_KEY; every option can also be set as GROUNDLABEL_<OPTION> "
            "(e.g. GROUNDLABEL_PORT)."
        ),
    )
    parser.add_argument(
        "--host", default=env_default("HOST", "127.0.0.1"), help="address to listen on (default: %(default)s)"
    )
    parser.add_argument(
        "--port", type=_port, default=env_value("PORT", "9090", _port), help="port (default: %(default)s)"
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=env_default("STATE_DIR", None),
        help="folder for the background queue, kept across restarts; replicas may share it on one host "
        "(default: ~/.local/share/groundlabel/backend, /data/state in Docker)",
    )
    add_model_options(parser)
    add_threshold_options(parser, label_studio=True)
    parser.add_argument(
        "--class-thresholds",
        metavar="FILE",
        default=env_default("CLASS_THRESHOLDS", None),
        help="JSON {class: threshold or null} (groundlabel calibrate -o): each class keeps boxes at or "
        "above its own threshold; keys match label values or their predicted_values aliases",
    )
    add_masks_option(parser)
    add_tracker_option(parser)
    parser.add_argument(
        "--track-frames",
        type=int,
        default=env_default(
            "TRACK_FRAMES", "30"
        ),  # a string: argparse converts it, a bad one is a one-line error
        metavar="N",
        help="frames a drawn video rectangle is followed after its frame (default: %(default)s)",
    )
    parser.set_defaults(handler=run)


def add_tracker_option(parser: argparse.ArgumentParser) -> None:
    """``--tracker MODEL``: the video tracker for VideoRectangle pre-labels and drawn video rectangles."""
    parser.add_argument(
        "--tracker",
        metavar="MODEL",
        default=env_default("TRACKER", None),
        help="video tracker (SAM 2.1, SAM 3 tracker or EdgeTAM checkpoint, hub id or folder): video tasks' "
        "detections are followed by it instead of linked by ByteTrack, as `groundlabel track --tracker`, and "
        "a rectangle drawn on a video frame comes back as a track through the clip (default: ByteTrack)",
    )


def add_masks_option(parser: argparse.ArgumentParser) -> None:
    """``--masks MODEL``: the mask model for BrushLabels / PolygonLabels and for interactive clicks."""
    parser.add_argument(
        "--masks",
        metavar="MODEL",
        default=env_default("MASKS", None),
        help="SAM, SAM-HQ or SAM 2.1 checkpoint (hub id or folder), e.g. facebook/sam-vit-base: predictions "
        "carry each box's mask where the labeling config has BrushLabels or PolygonLabels, and smart "
        "KeyPointLabels / RectangleLabels clicks get SAM masks interactively. SAM 3 models need none "
        "(default: no mask model)",
    )


def require_backend_extra(command: str) -> None:
    """Fail in one line naming the extra, before a model loads, if the web stack is not installed."""
    try:
        import fastapi  # noqa: F401
        import httpx  # noqa: F401
        import label_studio_sdk  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise GroundlabelError(
            f"{command} needs extra packages ({exc.name} is missing): pip install 'groundlabel[backend]'"
        ) from None


def run(args: argparse.Namespace) -> int:
    require_backend_extra("groundlabel serve")
    from groundlabel.backend.server import ModelOptions, serve

    if not args.verbose:
        logging.getLogger("groundlabel.backend").setLevel(logging.INFO)
    from groundlabel.class_thresholds import ClassThresholds

    thresholds = ClassThresholds.load_json(args.class_thresholds) if args.class_thresholds else None
    options = ModelOptions(
        args.model,
        args.device,
        args.dtype,
        args.box_threshold,
        args.text_threshold,
        thresholds,
        masks=args.masks,
        tracker=args.tracker,
        track_max_frames=max(1, args.track_frames),
    )
    serve(
        options, args.host, args.port, state_dir=Path(args.state_dir).expanduser() if args.state_dir else None
    )
    return 0
