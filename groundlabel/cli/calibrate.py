"""``groundlabel calibrate FOLDER``: per-class thresholds learnt from the review decisions."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from groundlabel.cli.options import positive_int
from groundlabel.errors import GroundlabelError

_UNSET = object()  # --auto-accept not given: leave the project's setting as it is


def fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number; give a value from 0 to 1") from None
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is outside (0, 1]; give a value such as 0.9")
    return value


def fraction_or_off(text: str) -> float | None:
    return None if text.strip().lower() == "off" else fraction(text)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "calibrate",
        help="learn per-class thresholds from the accept/reject/hand-drawn decisions of reviewed images",
        description=(
            "From the reviewed images: an accepted proposal is a true positive at its score, a rejected one "
            "a false positive, a hand-drawn box a miss. Prints precision and recall per class at the chosen "
            "threshold, saves the thresholds in the project (detect --into-project and the desktop then "
            "apply them) and optionally writes them as JSON for groundlabel serve --class-thresholds."
        ),
    )
    parser.add_argument("folder", type=Path, metavar="FOLDER", help="the image folder holding the project")
    choice = parser.add_mutually_exclusive_group()
    choice.add_argument(
        "--target-precision",
        type=fraction,
        metavar="P",
        help="the smallest threshold whose measured precision is at least P",
    )
    choice.add_argument("--max-f1", action="store_true", help="the threshold of best F1 (the default)")
    parser.add_argument(
        "--min-decisions",
        type=positive_int,
        default=20,
        metavar="N",
        help="a class with fewer decisions gets no threshold (default: %(default)s)",
    )
    parser.add_argument(
        "-o", "--output", type=Path, metavar="FILE", help="also write {class: threshold or null} as JSON"
    )
    parser.add_argument(
        "--auto-accept",
        type=fraction_or_off,
        metavar="P|off",
        default=_UNSET,
        help="new proposals at or above their class's threshold arrive accepted when that class's measured "
        "precision is at least P ('off' switches it off; off unless set)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from groundlabel.atomic import write_json_atomic
    from groundlabel.calibration import calibrate, collect_decisions, format_table
    from groundlabel.cli.export import project_database_must_exist
    from groundlabel.project.store import ReviewProject
    from groundlabel.project.thresholds import save_calibration, set_auto_accept_precision

    project_database_must_exist(args.folder)
    with ReviewProject.open(args.folder) as project:
        decisions = collect_decisions(project)
        if not decisions.classes:
            raise GroundlabelError(
                f"{args.folder}: the project has no classes yet; detect or draw boxes first"
            )
        result = calibrate(decisions, args.target_precision, args.min_decisions)
        save_calibration(project, result)
        if args.auto_accept is not _UNSET:
            set_auto_accept_precision(project, args.auto_accept)
    print(f"{decisions.reviewed_images} reviewed image(s); thresholds by {result.method}")
    print(format_table(result))
    if decisions.reviewed_images == 0:
        print("no image is marked reviewed yet: review some images first", file=sys.stderr)
    if args.output is not None:
        try:
            write_json_atomic(args.output, result.thresholds())
        except OSError as exc:
            raise GroundlabelError(
                f"cannot write {args.output}: {exc.strerror or exc}; choose another -o"
            ) from None
        print(f"thresholds -> {args.output}", file=sys.stderr)
    set_count = sum(1 for c in result.classes if c.threshold is not None)
    print(
        f"{set_count} of {len(result.classes)} class(es) got a threshold; saved in the project",
        file=sys.stderr,
    )
    return 0
