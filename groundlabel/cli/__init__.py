"""The ``groundlabel`` command: the core's subcommands plus whatever plug-ins are installed.

Each module in ``CORE_COMMAND_MODULES`` exposes ``register(subparsers)``, which adds its
parser and sets ``handler`` (a function of the parsed args returning an exit code). Front
ends (the Label Studio backend, the desktop reviewer) and third-party packages add their
subcommands through the ``groundlabel.commands`` entry point group, whose entries are
such ``register`` functions: the core never names a front end, and ``groundlabel --help``
lists exactly what is installed. User errors (``GroundlabelError``) print one line and
exit 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from importlib.metadata import EntryPoint, entry_points

from groundlabel import __version__, announce, interrupts
from groundlabel.cli.options import reject_invalid_env_defaults
from groundlabel.errors import GroundlabelError

CORE_COMMAND_MODULES = [
    "groundlabel.cli.detect",
    "groundlabel.cli.export",
    "groundlabel.cli.import_",
    "groundlabel.cli.calibrate",
    "groundlabel.cli.check",
    "groundlabel.cli.report",
    "groundlabel.cli.segment",
    "groundlabel.cli.train",
    "groundlabel.cli.track",
]
PLUGIN_GROUP = "groundlabel.commands"


def plugin_commands() -> list[EntryPoint]:
    """The installed plug-in commands, by name; a name the core already uses is not overridden."""
    return sorted(entry_points(group=PLUGIN_GROUP), key=lambda entry: entry.name)


def _register_plugin(subparsers: argparse._SubParsersAction, entry: EntryPoint, taken: set[str]) -> None:
    """One plug-in's ``register``; a broken plug-in costs its own command, never the others."""
    if entry.name in taken:
        return
    try:
        entry.load()(subparsers)
    except Exception as exc:  # a third-party plug-in may fail in any way
        print(
            f"groundlabel: warning: the plug-in command {entry.name!r} ({entry.value}) could not be "
            f"loaded: {exc}",
            file=sys.stderr,
        )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="groundlabel",
        description="Boxes from class names with Grounding DINO: detect, review, export.",
    )
    parser.add_argument("--version", action="version", version=f"groundlabel {__version__}")
    loudness = parser.add_mutually_exclusive_group()
    loudness.add_argument(
        "-v", "--verbose", action="store_true", help="log debug details (and how each model was loaded)"
    )
    loudness.add_argument(
        "-q", "--quiet", action="store_true", help='no "loaded MODEL (family) on DEVICE, DTYPE" line'
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in CORE_COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    for entry in plugin_commands():
        _register_plugin(subparsers, entry, set(subparsers.choices))
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
    # The first Ctrl+C or SIGTERM stops the command gracefully, a second one at once (interrupts.py).
    announce.configure(quiet=args.quiet, verbose=args.verbose)
    with interrupts.watching() as watch:
        try:
            reject_invalid_env_defaults(args)
            return int(args.handler(args) or 0)
        except GroundlabelError as exc:
            print(f"groundlabel: error: {exc}", file=sys.stderr)
            return exc.exit_code
        except KeyboardInterrupt as exc:
            kept = watch.kept() if callable(watch.kept) else watch.kept
            print("groundlabel: interrupted" + (f"; {kept}" if kept else ""), file=sys.stderr)
            return interrupts.exit_code(exc)
        finally:
            announce.reset()  # in-process callers (tests, notebooks) get library behaviour back


if __name__ == "__main__":
    sys.exit(main())
