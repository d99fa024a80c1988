"""``groundlabel export``: a review project as a COCO, VOC, YOLO, HF or Label Studio dataset folder."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from groundlabel.cli.options import add_video_split_options
from groundlabel.errors import GroundlabelError
from groundlabel.formats.names import DEFAULT_IMAGE_MODE, FORMAT_NAMES, IMAGE_MODES, TRACK_FORMATS


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export",
        help="export a review project as a COCO, VOC, YOLO, HF datasets or Label Studio dataset",
        description=(
            "Write the accepted and hand-drawn boxes of reviewed images (reviewed-empty images as "
            "negatives), with the images, split into train/val/test, in the layout each format's "
            "readers expect; pending and rejected boxes are never exported. The folder appears "
            "only when complete, and the same seed gives identical files."
        ),
    )
    parser.add_argument("folder", type=Path, metavar="FOLDER", help="the image folder holding the project")
    parser.add_argument(
        "--format",
        "-f",
        required=True,
        choices=FORMAT_NAMES + TRACK_FORMATS,
        help="dataset format (a video's frames become images), or a track format for a video project: "
        f"{', '.join(TRACK_FORMATS)} (-o tracks.json, tracks.xml or a MOT folder)",
    )
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        required=True,
        metavar="OUT",
        help="output folder, replaced as a whole (coco and labelstudio also accept a .json file name: "
        "one annotation file, no images)",
    )
    parser.add_argument(
        "--split",
        default=None,
        metavar="NAME=RATIO,...",
        help="e.g. train=0.8,val=0.2 or train=0.7,val=0.2,test=0.1 (default: one split, train); "
        "an image's split depends only on its path and --seed",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the split assignment (default 0)")
    add_video_split_options(parser)
    parser.add_argument(
        "--images",
        choices=IMAGE_MODES,
        default=DEFAULT_IMAGE_MODE,
        help="how images go into OUT: hardlink (default; no extra space, a copy where the filesystem "
        "cannot link), copy (portable), symlink (no space; breaks if the folder moves) or none",
    )
    parser.add_argument(
        "--include",
        choices=["reviewed", "all"],
        default="reviewed",
        help="reviewed images only (default) or every image",
    )
    group = parser.add_argument_group("labelstudio")
    group.add_argument(
        "--ls-as",
        choices=["annotations", "predictions"],
        default="annotations",
        help="put the boxes in the tasks as annotations (default) or as predictions",
    )
    group.add_argument(
        "--ls-url-prefix",
        default=None,
        metavar="PREFIX",
        help='prefix of each task\'s image URL before the relative path (default: "/data/local-files/?d=")',
    )
    add_mask_option(group, "labelstudio")
    group.add_argument(
        "--ls-config",
        type=Path,
        default=None,
        metavar="XML",
        help="the target project's labeling config: its BrushLabels/PolygonLabels control decides how masks go",
    )
    add_mask_option(parser.add_argument_group("coco"), "coco")
    parser.set_defaults(handler=run)


#: Each format's mask encodings, the first the default: (option, what the masks become, then
#: each encoding with what it is). One table, so the two options cannot drift apart.
MASK_OPTIONS = {
    "labelstudio": (
        "--ls-masks",
        "masks as",
        [("brush", "BrushLabels RLE, exact"), ("polygons", "PolygonLabels, editable points")],
    ),
    "coco": (
        "--coco-masks",
        "segmentation as",
        [("polygons", "what trainers read"), ("rle", "exact pixels")],
    ),
}


def add_mask_option(group: argparse._ArgumentGroup, format_name: str) -> None:
    """The ``--<format>-masks`` option of one format, built from ``MASK_OPTIONS``."""
    flag, subject, encodings = MASK_OPTIONS[format_name]
    described = [
        f"{name} ({what}{', the default' if n == 0 else ''})" for n, (name, what) in enumerate(encodings)
    ]
    group.add_argument(
        flag,
        choices=[name for name, _ in encodings],
        default=encodings[0][0],
        help=f"{subject} {' or '.join(described)}",
    )


def project_database_must_exist(folder: Path) -> None:
    from groundlabel.project.store import DB_NAME, PROJECT_DIR

    if not folder.is_dir():
        raise GroundlabelError(f"{folder}: not a folder; give the folder of images that holds the project")
    if not (folder / PROJECT_DIR / DB_NAME).is_file():
        raise GroundlabelError(
            f"{folder} has no review project yet: run `groundlabel detect {folder} --labels ... --into-project`, "
            f"`groundlabel import {folder} ...` or `groundlabel review {folder}` first"
        )


def read_config_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise GroundlabelError(
            f"{path}: cannot read the labeling config ({exc}); give the project's XML"
        ) from None


def run(args: argparse.Namespace) -> int:
    from groundlabel.formats.export_job import export_dataset, is_single_file
    from groundlabel.formats.labelstudio import DEFAULT_URL_PREFIX
    from groundlabel.formats.splits import parse_splits
    from groundlabel.formats.staging import check_output_folder
    from groundlabel.progress import progress_bar
    from groundlabel.project.exchange import project_dataset
    from groundlabel.project.store import ReviewProject

    project_database_must_exist(args.folder)
    if args.format in TRACK_FORMATS:
        return _export_tracks(args)
    splits = parse_splits(args.split)
    if not is_single_file(args.format, args.output):
        check_output_folder(args.output)  # before reading the project, not after
    with ReviewProject.open(args.folder) as project:
        count = len(project.images(state=None if args.include == "all" else ("reviewed", "reviewed-empty")))
        with progress_bar(count, "read project") as bar:
            report = project_dataset(
                project, args.include, lambda: bar.update(1), args.split_by, args.chunk_frames
            )
    dataset = report.dataset
    options = {}
    if args.format == "labelstudio":
        options = {
            "as_predictions": args.ls_as == "predictions",
            "url_prefix": DEFAULT_URL_PREFIX if args.ls_url_prefix is None else args.ls_url_prefix,
            "ls_masks": args.ls_masks,
            "ls_config": read_config_text(args.ls_config) if args.ls_config else None,
        }
    elif args.format == "coco":
        options = {"coco_masks": args.coco_masks}
    try:
        with progress_bar(len(dataset.images), f"write {args.format}") as bar:
            outcome = export_dataset(
                dataset,
                args.output,
                args.format,
                args.folder,
                splits=splits,
                seed=args.seed,
                image_mode=args.images,
                progress=lambda: bar.update(1),
                options=options,
            )
    except OSError as exc:
        where = exc.filename or args.output
        raise GroundlabelError(
            f"cannot write {where}: {exc.strerror or exc}; choose another -o (a folder you can write to)"
        ) from None
    negatives = sum(1 for image in dataset.images if not image.boxes)
    boxes = sum(len(image.boxes) for image in dataset.images)
    print(
        f"{len(dataset.images)} image(s) ({negatives} without boxes), {boxes} box(es), "
        f"{len(dataset.class_names)} class(es) -> {args.output} ({len(outcome.written)} annotation file(s); "
        f"images: {outcome.linked} linked, {outcome.copied} copied, {outcome.rewritten} written as shown)",
        file=sys.stderr,
    )
    print(outcome.table, file=sys.stderr)
    for warning in outcome.warnings:
        print(f"  warning: {warning}", file=sys.stderr)
    if not dataset.images and args.include == "reviewed":
        print("  no image is marked reviewed yet; pass --include all to export every image", file=sys.stderr)
    failures = report.failures + outcome.skipped
    for path, reason in failures:
        print(f"  skipped: {path}: {reason}", file=sys.stderr)
    return 1 if failures else 0


def _export_tracks(args: argparse.Namespace) -> int:
    """A video project's reviewed frames as tracks (MOT, YouTube-VIS, CVAT video, Label Studio video)."""
    from groundlabel.formats.tracks_out import track_format, write_tracks
    from groundlabel.project.store import ReviewProject
    from groundlabel.project.track_export import project_tracks

    fmt = track_format(str(args.output), args.format)
    with ReviewProject.open(args.folder) as project:
        tracks = project_tracks(project, args.include)
    if not tracks.videos:
        raise GroundlabelError(
            f"{args.folder}: the project holds no video; import tracks first "
            "(groundlabel import FOLDER tracks.json --format coco-vid)"
        )
    try:
        write_tracks(tracks, str(args.output), fmt, args.ls_url_prefix or "")
    except OSError as exc:
        raise GroundlabelError(f"cannot write {exc.filename or args.output}: {exc.strerror or exc}") from None
    frames = sum(len(v.frames) for v in tracks.videos)
    count = sum(len(v.tracks()) for v in tracks.videos)
    print(
        f"{len(tracks.videos)} video(s), {frames} {'reviewed ' if args.include == 'reviewed' else ''}frame(s), "
        f"{count} track(s) of accepted or hand-drawn boxes -> {args.output}",
        file=sys.stderr,
    )
    if not frames and args.include == "reviewed":
        print("  no frame is marked reviewed yet; pass --include all to export every frame", file=sys.stderr)
    return 0
