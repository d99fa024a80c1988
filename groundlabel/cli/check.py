"""``groundlabel check FOLDER``: list the masks a project holds that no export can decode, and
clear them (undoably, with ``--restore``). Such rows come from older versions or hand edits;
exports leave them out already, this command lets a person see and mend them."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "check",
        help="list (and clear) stored masks that cannot be exported",
        description=(
            "Check every mask in FOLDER's review project against its image's size. Lists each bad "
            "mask (image, box, why). --clear-bad-masks clears them, keeping the boxes, after saving "
            "them to a file that --restore FILE puts back."
        ),
    )
    parser.add_argument("folder", type=Path, metavar="FOLDER", help="the image folder of the project")
    action = parser.add_mutually_exclusive_group()
    action.add_argument(
        "--clear-bad-masks", action="store_true", help="clear the bad masks (undo with --restore FILE)"
    )
    action.add_argument(
        "--restore", type=Path, metavar="FILE", help="put back the masks a --clear-bad-masks run saved"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from groundlabel.cli.export import project_database_must_exist
    from groundlabel.project.mask_check import clear_bad_masks, find_bad_masks, restore_masks
    from groundlabel.project.store import ReviewProject

    project_database_must_exist(args.folder)  # checking must not create a project
    with ReviewProject.open(args.folder, scan=False) as project:
        if args.restore is not None:
            count = restore_masks(project, args.restore)
            print(f"{count} mask(s) restored from {args.restore}", file=sys.stderr)
            return 0
        bad = find_bad_masks(project)
        for entry in bad:
            print(f"{entry.image}: box {entry.box_id} ({entry.class_name}): {entry.reason}")
        if not bad:
            print("every stored mask decodes to its image's size", file=sys.stderr)
            return 0
        if args.clear_bad_masks:
            backup = clear_bad_masks(project, bad)
            print(
                f"{len(bad)} mask(s) cleared (boxes kept); undo: groundlabel check {args.folder} --restore {backup}",
                file=sys.stderr,
            )
            return 0
        print(f"{len(bad)} bad mask(s); clear them with --clear-bad-masks", file=sys.stderr)
        return 1
