"""``groundlabel detect``: images in, COCO predictions out."""

from __future__ import annotations

import argparse
import sys

from groundlabel.cli.bulk_options import add_bulk_options, wants_bulk
from groundlabel.cli.detect_exemplars import add_exemplar_options, exemplar_labels, exemplars_for
from groundlabel.cli.detect_masks import MaskRefiner, add_masks_option, refuse_unsupported
from groundlabel.cli.detect_naming import common_root, nothing_written, relative_name
from groundlabel.cli.options import (
    add_model_options,
    add_threshold_options,
    detection_options,
    positive_int,
    require_labels,
)
from groundlabel.errors import GroundlabelError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "detect",
        help="detect boxes for the given classes and write COCO predictions",
        description="Run a zero-shot detector (Grounding DINO, MM Grounding DINO / LLMDet, OWLv2, OWL-ViT) "
        "on images or folders (recursive) and write COCO JSON with scores; OWL models also search by example boxes.",
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders")
    parser.add_argument(
        "--labels",
        "-l",
        help='classes, comma-separated; aliases after "=": "cat, remote=remote|tv remote"',
    )
    parser.add_argument(
        "-o", "--output", help="COCO JSON to write, or DIR/ for sharded JSON Lines (large datasets)"
    )
    parser.add_argument(
        "--into-project",
        action="store_true",
        help="record the boxes in FOLDER's review project instead of a file (skips images already "
        "predicted with the same model, prompt and thresholds)",
    )
    parser.add_argument(
        "--batch-size", type=positive_int, default=1, help="images per model pass (default: 1)"
    )
    add_model_options(parser)
    add_threshold_options(parser)
    add_bulk_options(parser)
    add_exemplar_options(parser)
    add_masks_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from groundlabel.detector import Detector
    from groundlabel.formats.coco import CocoImageEntry, build_coco, coco_boxes
    from groundlabel.images import expand_inputs
    from groundlabel.labels import LabelSet
    from groundlabel.progress import progress_bar

    exemplars = exemplars_for(args)
    labels = (
        exemplar_labels(exemplars) if exemplars else LabelSet.parse(require_labels(args.labels, args.model))
    )
    if args.into_project:
        from groundlabel.cli.detect_into_project import run_into_project

        return run_into_project(args, labels, exemplars)
    if args.output is None:
        raise GroundlabelError("no output given: pass -o predictions.json (or --into-project for a folder)")
    refuse_unsupported(args)
    if wants_bulk(args):
        if exemplars:
            raise GroundlabelError(
                "--exemplars runs in one process for now: leave out --ray and write -o FILE.json"
            )
        from groundlabel.cli.detect_bulk import run_bulk

        return run_bulk(args, labels)
    sources = expand_inputs(args.paths)
    if not sources:
        raise GroundlabelError(
            f"no images found in {', '.join(args.paths)} (looked for jpg, png, bmp, gif, tif, webp)"
        )
    root = common_root(args.paths)
    detector = Detector.load(args.model, device=args.device, dtype=args.dtype)
    refiner = MaskRefiner.load(args)

    entries: list[CocoImageEntry] = []
    failures: list[tuple[str, str]] = []
    box_count = 0
    options = detection_options(args)
    if exemplars:
        del options["text_threshold"]  # a search by example has no text
        results = detector.detect_like(sources, exemplars, **options)
    else:
        results = detector.detect(sources, labels, **options)
    from groundlabel import interrupts

    interrupts.set_kept(nothing_written(args.output))
    with progress_bar(len(sources), "detect") as bar:
        for result in results:
            bar.update(1)
            if refiner is not None:
                result = refiner.refine(result)
            if not result.ok:
                failures.append((result.source, result.error or "unknown error"))
                continue
            boxes = coco_boxes(result)
            box_count += len(boxes)
            width, height = result.image_size
            entries.append(CocoImageEntry(relative_name(result.source, root), width, height, boxes))

    from groundlabel.atomic import write_json_atomic

    info = {
        "description": "groundlabel detect predictions",
        "model": detector.model_name,
        "family": detector.family,
        "exemplars": len(exemplars) if exemplars else None,
        "box_threshold": args.box_threshold,
        "text_threshold": args.text_threshold,
    }
    if refiner is not None:
        info["mask_model"] = refiner.segmenter.model_record
    write_json_atomic(args.output, build_coco(entries, labels.names, info))
    print(
        f"{len(entries)} image(s), {box_count} box(es), {len(failures)} failed -> {args.output}",
        file=sys.stderr,
    )
    for source, reason in failures:
        print(f"  failed: {source}: {reason}", file=sys.stderr)
    return 1 if failures else 0
