"""The ``groundlabel`` command: one entry point, one module per subcommand.

Each module in ``COMMAND_MODULES`` exposes ``register(subparsers)``, which adds its
parser and sets ``handler`` (a function of the parsed args returning an exit code).
User errors (``GroundlabelError``) print one line and exit 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from groundlabel import __version__
from groundlabel.cli.options import reject_invalid_env_defaults
from groundlabel.errors import GroundlabelError

COMMAND_MODULES = [
    "groundlabel.cli.detect",
    "groundlabel.cli.export",
    "groundlabel.cli.import_",
    "groundlabel.cli.serve",
    "groundlabel.cli.ls_prelabel",
    "groundlabel.cli.review",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="groundlabel",
        description="Boxes from class names with Grounding DINO: detect, review, export.",
    )
    parser.add_argument("--version", action="version", version=f"groundlabel {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def _quiet_libraries() -> None:
    """Keep transformers' advice-level warnings off a user's terminal; downloads still show progress."""
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
    except ImportError:
        pass


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s: %(message)s",
    )
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    if not args.verbose:
        _quiet_libraries()
    try:
        reject_invalid_env_defaults(args)
        return int(args.handler(args) or 0)
    except GroundlabelError as exc:
        print(f"groundlabel: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("groundlabel: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
