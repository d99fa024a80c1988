"""``groundlabel segment FOLDER``: a reviewed box project turned into a mask project.

Every chosen box gets a mask from a box -> mask model (SAM, SAM-HQ, SAM 2.1), one image
embedding per image. Resumable: a rerun skips boxes that already have a mask from the same
model, and Ctrl+C keeps every image finished before it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from groundlabel.cli.options import DTYPE_HELP, DTYPES, dtype_name, env_default, env_value
from groundlabel.errors import GroundlabelError


def add_mask_model_options(parser: argparse.ArgumentParser, *, with_device: bool) -> None:
    """``--masks MODEL`` (and, for commands without a detector, ``--device``/``--dtype``)."""
    from groundlabel.model_catalog import DEFAULT_SEGMENTER

    group = parser.add_argument_group("masks")
    group.add_argument(
        "--masks",
        metavar="MODEL",
        default=env_default("MASKS", DEFAULT_SEGMENTER),
        help="box -> mask model: a SAM, SAM-HQ or SAM 2.1 hub id or local directory (default: %(default)s)",
    )
    if with_device:
        group.add_argument(
            "--device",
            default=env_default("DEVICE", "auto"),
            help="auto, cpu, cuda, cuda:N or mps (default: %(default)s)",
        )
        group.add_argument(
            "--dtype", default=env_value("DTYPE", "auto", dtype_name), choices=DTYPES,
            help=DTYPE_HELP,
        )  # fmt: skip


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "segment",
        help="add a mask to every reviewed box of a folder's project (SAM, SAM-HQ, SAM 2.1)",
        description="Turn a reviewed box project into a mask project: each chosen box gets the mask "
        "a box -> mask model draws inside it (one image embedding per image). Resumable: boxes that "
        "already have a mask from the same model are skipped; Ctrl+C keeps what was done.",
    )
    parser.add_argument("folder", metavar="FOLDER", help="the folder of images holding the review project")
    parser.add_argument(
        "--boxes",
        choices=("accepted", "all"),
        default="accepted",
        help="accepted: only accepted boxes (a reviewed project); all: pending ones too. "
        "Rejected boxes never get masks (default: %(default)s)",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="recompute every chosen box's mask, also masks made by this model or by hand",
    )
    add_mask_model_options(parser, with_device=True)
    from groundlabel.cli.bulk_options import add_ray_options

    add_ray_options(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from groundlabel.cli.bulk_options import check_ray_options
    from groundlabel.progress import progress_bar
    from groundlabel.project.store import ReviewProject
    from groundlabel.segmenters import load_segmenter
    from groundlabel.segmenters.project_masks import BoxChoice, plan_masks, segment_project

    folder = Path(args.folder)
    if not folder.is_dir():
        raise GroundlabelError(f"{folder}: not a folder; give the folder of a review project")
    check_ray_options(args)
    with ReviewProject.open(folder) as project:
        if args.ray:
            from groundlabel.segmenters.base import check_segmenter

            segmenter, record = None, check_segmenter(args.masks)  # the workers load it
        else:
            segmenter = load_segmenter(args.masks, device=args.device, dtype=args.dtype)
            record = segmenter.model_record
        plan = plan_masks(project, record, BoxChoice(args.boxes), overwrite=args.overwrite)
        if not plan.work:
            print(
                f"nothing to do: no {args.boxes} box without a mask from {args.masks} "
                f"({plan.skipped} already have one) in {folder}",
                file=sys.stderr,
            )
            return 0
        with progress_bar(plan.box_count, "segment", unit="box") as bar:
            try:
                on_image = lambda item: bar.update(len(item.boxes))  # noqa: E731
                if segmenter is None:
                    report = _segment_on_ray(args, project, plan, record, on_image)
                else:
                    report = segment_project(project, segmenter, plan, on_image=on_image)
            except KeyboardInterrupt:
                bar.close()
                print(
                    "groundlabel: segment interrupted; the masks of finished images are saved, "
                    "run the same command again to continue",
                    file=sys.stderr,
                )
                raise
    print(
        f"{report.masks} mask(s) on {report.images} image(s), {plan.skipped} box(es) already had one, "
        f"{len(report.failures)} image(s) failed -> {folder}",
        file=sys.stderr,
    )
    for path, reason in report.failures:
        print(f"  failed: {path}: {reason}", file=sys.stderr)
    return 1 if report.failures else 0


def _segment_on_ray(args: argparse.Namespace, project, plan, record: str, on_image):  # noqa: ANN001
    """The plan's masks computed by Ray actors, written here one image at a time as they come."""
    from groundlabel.distributed import require_ray

    require_ray("groundlabel segment")
    from groundlabel.distributed.detect_pipeline import default_workers
    from groundlabel.distributed.segment_pipeline import SegmentJob, segment_on_ray
    from groundlabel.distributed.session import ray_session
    from groundlabel.images import DEFAULT_MAX_PIXELS
    from groundlabel.segmenters.project_masks import SegmentReport, write_masks

    items = [(str(project.image_file(w.image)), [tuple(b.xyxy) for b in w.boxes]) for w in plan.work]
    job = SegmentJob(args.masks, args.device, args.dtype, args.threads_per_worker, DEFAULT_MAX_PIXELS)
    gpus = args.gpus_per_worker or 0.0
    report = SegmentReport()
    with ray_session(args.address):
        workers = args.workers or default_workers(job.threads, gpus)
        for row in segment_on_ray(items, job, workers, gpus):
            item = plan.work[row["index"]]
            if row["error"]:
                report.failures.append((item.image.path, row["error"]))
            else:
                write_masks(project, item, row["masks"], row["scores"], record, report)
            on_image(item)
    return report
