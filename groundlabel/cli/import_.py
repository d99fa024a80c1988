"""``groundlabel import``: predictions or ground truth from a dataset file into a review project."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from groundlabel.formats.names import FORMAT_NAMES


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "import",
        help="import COCO, VOC, YOLO, HF imagefolder or Label Studio boxes into a folder's review project",
        description=(
            "Add boxes from a dataset (e.g. `groundlabel detect` output made on another machine, or "
            "ground truth) to the review project of FOLDER. The whole file is checked first: one "
            "bad entry stops the import and nothing is written."
        ),
    )
    parser.add_argument(
        "folder", type=Path, metavar="FOLDER", help="the image folder (its project is created if needed)"
    )
    parser.add_argument(
        "source",
        type=Path,
        metavar="FILE_OR_DIR",
        help="COCO/Label Studio JSON, a VOC folder or XML, a YOLO folder with data.yaml, or any "
        "folder `groundlabel export` wrote (COCO annotations/, HF <split>/metadata.jsonl)",
    )
    parser.add_argument(
        "--format",
        "-f",
        required=True,
        choices=(*FORMAT_NAMES, "coco-vid"),
        help="dataset format, or coco-vid: `groundlabel track` output, whose videos (inside FOLDER) become "
        "frames of the project with their tracks",
    )
    parser.add_argument(
        "--as",
        dest="status",
        choices=["pending", "accepted"],
        default=None,
        help="status of the imported boxes (default: scored predictions pending, labelled boxes accepted)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from groundlabel.formats.registry import get_format
    from groundlabel.progress import progress_bar
    from groundlabel.project.exchange import import_dataset
    from groundlabel.project.models import BoxStatus
    from groundlabel.project.store import ReviewProject

    if args.format == "coco-vid":
        return _import_tracks(args)
    dataset_format = get_format(args.format)
    with progress_bar(None, f"read {args.format}") as bar:
        dataset = dataset_format.read(args.source, lambda: bar.update(1))
    status = None if args.status is None else BoxStatus(args.status)
    with ReviewProject.open(args.folder) as project, progress_bar(len(dataset.images), "check images") as bar:
        report = import_dataset(project, dataset, status, progress=lambda: bar.update(1))
    print(
        f"{report.images} image(s), {report.boxes} box(es) imported into {args.folder}"
        + (f", {report.duplicates} already there" if report.duplicates else "")
        + (f" ({report.masks_added} of them given the file's mask)" if report.masks_added else "")
        + (f"; new classes: {', '.join(report.classes_added)}" if report.classes_added else ""),
        file=sys.stderr,
    )
    return 0


def _import_tracks(args: argparse.Namespace) -> int:
    from groundlabel.project.models import BoxStatus
    from groundlabel.project.store import ReviewProject
    from groundlabel.project.track_import import import_tracks, read_tracks_file

    tracks = read_tracks_file(args.source)
    status = None if args.status is None else BoxStatus(args.status)
    with ReviewProject.open(args.folder) as project:
        report = import_tracks(project, tracks, status)
    print(
        f"{report.videos} video(s), {report.frames} frame(s), {report.tracks} track(s), {report.boxes} box(es) "
        f"imported into {args.folder}"
        + (f", {report.duplicates} already there" if report.duplicates else "")
        + (f"; new classes: {', '.join(report.classes_added)}" if report.classes_added else ""),
        file=sys.stderr,
    )
    return 0
