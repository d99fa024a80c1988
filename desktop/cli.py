"""``groundlabel review FOLDER``, the desktop's plug-in command (``groundlabel.commands`` entry point).

Qt is imported only when it runs, so ``groundlabel --help`` works without PySide6."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "review",
        help="review and fix boxes in a desktop window (needs the 'desktop' extra)",
        description=(
            "Open FOLDER in the desktop reviewer: detect, accept or fix boxes, export a dataset. "
            "The project is kept in FOLDER/.groundlabel; the model choice is remembered per project."
        ),
    )
    parser.add_argument(
        "folder",
        nargs="?",
        help="folder of images and/or videos, or one video file (its folder becomes the project); "
        "optional: open one from the window",
    )
    parser.add_argument(
        "--model",
        default=None,
        help="hub id or local directory (default: the project's, else grounding-dino-tiny)",
    )
    parser.add_argument(
        "--device", default=None, help="auto, cpu, cuda, cuda:N or mps (default: the project's, else auto)"
    )
    parser.add_argument(
        "--masks",
        default=None,
        metavar="MODEL",
        help="mask model (SAM, SAM-HQ, SAM 2.1 hub id or folder) for refine and point corrections; "
        "remembered in the preferences (default: the one chosen in Settings, else none)",
    )
    parser.add_argument("--settings", default=None, help=argparse.SUPPRESS)  # preferences file, for tests
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from groundlabel.errors import GroundlabelError

    try:
        import PySide6.QtWidgets  # noqa: F401
        from groundlabel.desktop.app import run_app
    except ImportError as exc:
        raise GroundlabelError(
            f"the desktop reviewer needs PySide6 ({exc}); install it with: pip install 'groundlabel[desktop]'"
        ) from None
    return run_app(
        args.folder, model=args.model, device=args.device, settings_path=args.settings, mask_model=args.masks
    )
