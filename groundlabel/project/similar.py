""" "Find similar in folder": a project's boxes as examples, and what the search found, recorded.

Unlike ``record_prediction``, recording a search by example replaces only the earlier
pending model boxes *of the searched classes*: proposals of other classes on the same
image stay, and the image's prediction key (which describes the text prompt) is kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from groundlabel.exemplars import Exemplar, ExemplarError
from groundlabel.project.models import BoxSource, BoxStatus, ImageState
from groundlabel.project.store import ReviewProject

if TYPE_CHECKING:
    from groundlabel.detector import DetectionResult, DetectionSettings


def exemplars_from_boxes(project: ReviewProject, box_ids: Sequence[int]) -> list[Exemplar]:
    """The given boxes as examples of their classes, each with its image file."""
    if not box_ids:
        raise ExemplarError("select one or more boxes first: they are the examples to look for")
    names = {c.id: c.name for c in project.classes()}
    examples = []
    for box_id in box_ids:
        box = project.box(int(box_id))
        examples.append(Exemplar(str(project.image_file(box.image_id)), box.xyxy, names[box.class_id]))
    return examples


def record_similar(
    project: ReviewProject, image_id: int, result: DetectionResult, model: str, settings: DetectionSettings
) -> None:
    """Store one image's boxes found by example as pending proposals, in one transaction."""
    class_ids = project.ensure_classes(dict.fromkeys(result.labels))
    searched = {project.class_by_name(name).id for name in result.labels} if result.labels else set()
    with project.batch():
        for old in project.boxes(image_id):
            if old.source == BoxSource.MODEL and old.status == BoxStatus.PENDING and old.class_id in searched:
                project.delete_box(old.id)
        for xyxy, score, name in zip(result.boxes, result.scores, result.labels, strict=True):
            project.insert_box(
                image_id,
                class_ids[name],
                xyxy,
                source=BoxSource.MODEL,
                status=BoxStatus.PENDING,
                score=float(score),
                model=model,
                box_threshold=settings.box_threshold,
            )
        if project.image(image_id).state == ImageState.NEW:
            project.set_image_state(image_id, ImageState.PREDICTED)
