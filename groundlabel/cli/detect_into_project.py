"""``groundlabel detect FOLDER --into-project``: predictions recorded in the folder's review project."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from groundlabel import interrupts
from groundlabel.errors import GroundlabelError
from groundlabel.labels import LabelSet

if TYPE_CHECKING:
    from groundlabel.exemplars import Exemplar


def run_into_project(
    args: argparse.Namespace, labels: LabelSet, exemplars: list[Exemplar] | None = None
) -> int:
    """Predict every image of one folder not yet predicted with this model, prompt and thresholds."""
    from groundlabel.detector import DetectionSettings, Detector
    from groundlabel.progress import progress_bar
    from groundlabel.project.predicting import (
        images_to_predict,
        model_key,
        predict_into_project,
        prediction_plan,
    )
    from groundlabel.project.store import ReviewProject

    if len(args.paths) != 1 or not Path(args.paths[0]).is_dir():
        raise GroundlabelError(
            "--into-project needs exactly one folder: groundlabel detect FOLDER --into-project"
        )
    if args.output is not None:
        raise GroundlabelError("--into-project writes to the folder's project; leave out -o")
    folder = Path(args.paths[0])
    settings = DetectionSettings(args.box_threshold, args.text_threshold, args.nms_iou, args.max_detections)
    with ReviewProject.open(folder) as project:
        images = project.images()
        if not images:
            raise GroundlabelError(f"no images found in {folder} (looked for jpg, png, bmp, gif, tif, webp)")
        detector = Detector.load(args.model, device=args.device, dtype=args.dtype)
        from groundlabel.cli.detect_masks import MaskRefiner

        refiner = MaskRefiner.load(args)  # before detecting: a bad mask model fails in seconds
        plan = prediction_plan(
            project, model_key(detector, exemplars), labels, settings, per_class=not exemplars
        )
        if plan.thresholds.active:
            print(
                f"per-class thresholds apply ({len(plan.thresholds.set())} class(es), set by groundlabel "
                f"calibrate){'; auto-accept is on' if plan.auto_accept else ''}",
                file=sys.stderr,
            )
        todo = images_to_predict(project, plan.key, images)
        with progress_bar(len(todo), "detect") as bar:
            done = [0]  # counted here: a bar off a terminal counts nothing

            def on_image(_: object) -> None:
                done[0] += 1
                bar.update(1)

            interrupts.set_kept(
                lambda: (
                    f"{done[0]} of {len(todo)} image(s) predicted; the project has them and a rerun skips them"
                )
            )
            report = predict_into_project(
                project, detector, labels, settings, batch_size=args.batch_size, images=todo,
                on_image=on_image, exemplars=exemplars,
            )  # fmt: skip
        mask_report = _masks_into_project(project, refiner) if refiner is not None else None
    report.skipped = len(images) - len(todo)
    print(
        f"{report.predicted} image(s) predicted, {report.boxes} box(es), {report.skipped} already predicted "
        f"with the same model, prompt and thresholds, {len(report.failures)} failed"
        f"{f', {report.auto_accepted} box(es) auto-accepted' if report.auto_accepted else ''} -> {folder}",
        file=sys.stderr,
    )
    for path, reason in report.failures:
        print(f"  failed: {path}: {reason}", file=sys.stderr)
    if mask_report is not None:
        print(f"{mask_report.masks} mask(s) on {mask_report.images} image(s)", file=sys.stderr)
        for path, reason in mask_report.failures:
            print(f"  mask failed: {path}: {reason}", file=sys.stderr)
    return 1 if report.failures or (mask_report and mask_report.failures) else 0


def _masks_into_project(project, refiner):  # noqa: ANN001 (types live in lazily imported modules)
    """Masks for the project's boxes still without one from this model (the new ones included)."""
    from groundlabel.progress import progress_bar
    from groundlabel.segmenters.project_masks import BoxChoice, plan_masks, segment_project

    segmenter = refiner.segmenter
    plan = plan_masks(project, segmenter.model_record, BoxChoice.ALL)
    with progress_bar(plan.box_count, "masks", unit="box") as bar:
        return segment_project(project, segmenter, plan, on_image=lambda item: bar.update(len(item.boxes)))
