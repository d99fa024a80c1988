"""A reviewed box project turned into a mask project: a mask for each chosen box, image by image.

What ``groundlabel segment`` runs (front ends may run it too). Each image is one transaction
(``SetMasks``, one undoable step), so an interruption keeps every image finished before it
and a rerun carries on: a box that already has a mask from the same segmenter is skipped.
A mask made by hand or imported (no ``mask_model``) is never replaced unless asked
(``overwrite``); a mask from another segmenter is replaced, which is how a project is
re-run with a better model. Rejected boxes never get masks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from groundlabel.errors import ImageLoadError
from groundlabel.images import DEFAULT_MAX_PIXELS, load_image
from groundlabel.project.commands import SetMasks
from groundlabel.project.database import ProjectError
from groundlabel.project.models import BoxRecord, BoxStatus, ImageRecord, MaskValue
from groundlabel.project.store import ReviewProject
from groundlabel.segmenters.base import Segmenter
from groundlabel.segmenters.refine import masks_for_image


class BoxChoice(StrEnum):
    """Which boxes get masks: the accepted ones (a reviewed project) or all but rejected."""

    ACCEPTED = "accepted"
    ALL = "all"


@dataclass
class ImageWork:
    image: ImageRecord
    boxes: list[BoxRecord]


@dataclass
class SegmentPlan:
    work: list[ImageWork]
    skipped: int  # boxes left as they are (already masked by this model, or by hand)

    @property
    def box_count(self) -> int:
        return sum(len(w.boxes) for w in self.work)


@dataclass
class SegmentReport:
    images: int = 0
    masks: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)


def _wanted(box: BoxRecord, choice: BoxChoice) -> bool:
    if box.status == BoxStatus.REJECTED:
        return False
    return choice == BoxChoice.ALL or box.status == BoxStatus.ACCEPTED


def _needs_mask(box: BoxRecord, model_record: str, overwrite: bool) -> bool:
    if overwrite or box.mask is None:
        return True
    # Same model: done already (resume). No model: drawn or imported by a person: keep.
    return box.mask_model is not None and box.mask_model != model_record


def plan_masks(
    project: ReviewProject, model_record: str, choice: BoxChoice = BoxChoice.ACCEPTED, overwrite: bool = False
) -> SegmentPlan:
    """The images (in path order) with boxes that need a mask from ``model_record``."""
    work: list[ImageWork] = []
    skipped = 0
    for image in project.images():
        if image.box_count == 0:
            continue
        wanted = [b for b in project.boxes(image.id, include_rejected=False) if _wanted(b, choice)]
        todo = [b for b in wanted if _needs_mask(b, model_record, overwrite)]
        skipped += len(wanted) - len(todo)
        if todo:
            work.append(ImageWork(image, todo))
    return SegmentPlan(work, skipped)


def segment_project(
    project: ReviewProject,
    segmenter: Segmenter,
    plan: SegmentPlan,
    on_image: Callable[[ImageWork], None] | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> SegmentReport:
    """Masks for the plan's boxes, one image embedding and one ``SetMasks`` per image.

    An unreadable image, or one whose boxes changed meanwhile, is reported and skipped;
    the rest goes on. Ctrl+C stops between or inside images and loses only the current one.
    """
    report = SegmentReport()
    model = segmenter.model_record
    for item in plan.work:
        try:
            image = load_image(project.image_file(item.image), max_pixels=max_pixels)
            rles, scores = masks_for_image(segmenter, image, [b.xyxy for b in item.boxes])
        except ImageLoadError as exc:
            report.failures.append((item.image.path, exc.reason))
        else:
            write_masks(project, item, rles, scores, model, report)
        if on_image is not None:
            on_image(item)
    return report


def write_masks(
    project: ReviewProject,
    item: ImageWork,
    rles: list[dict],
    scores: list[float],
    model: str,
    report: SegmentReport,
) -> None:
    """One image's masks as one ``SetMasks`` (also what ``segment --ray``'s driver runs per result)."""
    values = {
        box.id: MaskValue(rle, score, model) for box, rle, score in zip(item.boxes, rles, scores, strict=True)
    }
    try:
        project.execute(SetMasks(values, description=f"masks for {len(values)} box(es) ({model})"))
    except ProjectError as exc:
        report.failures.append((item.image.path, str(exc)))
    else:
        report.images += 1
        report.masks += len(values)
