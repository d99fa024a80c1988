"""``groundlabel report FOLDER -o report.html``: the review in one self-contained HTML file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from groundlabel.cli.options import positive_int
from groundlabel.errors import GroundlabelError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report",
        help="write an HTML report of the review: progress, boxes per class, precision/recall, confusions",
        description=(
            "One self-contained HTML file (plots as embedded PNGs): review progress, boxes per class "
            "(accepted, rejected, hand-drawn, pending), per-class precision and recall against the "
            "threshold, the most frequent class confusions and the images with the most misses. "
            "Needs matplotlib (pip install 'groundlabel[report]')."
        ),
    )
    parser.add_argument("folder", type=Path, metavar="FOLDER", help="the image folder holding the project")
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="FILE", help="HTML file to write")
    parser.add_argument(
        "--min-decisions",
        type=positive_int,
        default=20,
        metavar="N",
        help="a class with fewer decisions gets no best-F1 threshold (default: %(default)s)",
    )
    parser.add_argument(
        "--thumbnails",
        type=int,
        default=12,
        metavar="N",
        help="images with the most misses to show (default: 12)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from groundlabel.atomic import write_text_atomic
    from groundlabel.cli.export import project_database_must_exist
    from groundlabel.progress import progress_bar
    from groundlabel.project.store import ReviewProject
    from groundlabel.report.data import gather
    from groundlabel.report.html import build_html
    from groundlabel.report.plots import plot_count, report_plots

    project_database_must_exist(args.folder)
    with ReviewProject.open(args.folder) as project:
        data = gather(project, args.min_decisions)
    # Each plot, then each plot placed and each thumbnail made, is one step.
    steps = 2 * plot_count(data) - len(data.calibration.classes) + min(args.thumbnails, len(data.most_missed))
    with progress_bar(steps, "report", unit="step") as bar:
        plots = report_plots(data, progress=lambda: bar.update(1))
        page = build_html(data, plots, args.thumbnails, progress=lambda: bar.update(1))
    try:
        write_text_atomic(args.output, page)
    except OSError as exc:
        raise GroundlabelError(
            f"cannot write {args.output}: {exc.strerror or exc}; choose another -o"
        ) from None
    print(
        f"{data.reviewed} of {data.total_images} image(s) reviewed, {len(data.boxes)} class(es), "
        f"{len(plots)} plot(s) -> {args.output}",
        file=sys.stderr,
    )
    return 0
