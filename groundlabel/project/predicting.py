"""Running the detector over a project's images and recording what it found.

Shared by ``groundlabel detect --into-project`` and usable from a desktop worker thread:
it only calls thread-safe project methods. Images already predicted with the same model,
prompt and thresholds are skipped, so an interrupted run resumes where it stopped (each
image is committed as soon as it is done).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from groundlabel.project.models import ImageRecord
from groundlabel.project.store import ReviewProject, prediction_key

if TYPE_CHECKING:
    from groundlabel.detector import DetectionSettings, Detector
    from groundlabel.exemplars import Exemplar
    from groundlabel.labels import LabelSet


@dataclass
class PredictReport:
    predicted: int = 0
    skipped: int = 0  # already predicted with the same model, prompt and thresholds
    boxes: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)  # (image path, reason)


def images_to_predict(
    project: ReviewProject, key: str, images: Sequence[ImageRecord] | None = None, force: bool = False
) -> list[ImageRecord]:
    candidates = project.images() if images is None else list(images)
    return [image for image in candidates if force or project.needs_prediction(image.id, key)]


def model_key(detector: Detector, exemplars: Sequence[Exemplar] | None = None) -> str:
    """What made the boxes: family and checkpoint, and the example boxes when searched by example."""
    if not exemplars:
        return detector.model_record
    import hashlib

    described = "\n".join(f"{e.image}|{tuple(float(v) for v in e.box)}|{e.label}" for e in exemplars)
    return f"{detector.model_record}|examples:{hashlib.sha256(described.encode()).hexdigest()[:12]}"


def predict_into_project(
    project: ReviewProject,
    detector: Detector,
    labels: LabelSet,
    settings: DetectionSettings,
    *,
    batch_size: int = 1,
    images: Sequence[ImageRecord] | None = None,
    force: bool = False,
    on_image: Callable[[ImageRecord], None] | None = None,
    exemplars: Sequence[Exemplar] | None = None,
) -> PredictReport:
    """Detect on the project's images (or ``images``) and record each result as it comes.

    With ``exemplars`` the search is by example boxes (``Detector.detect_like``); their
    classes must be ``labels``.
    """
    model = model_key(detector, exemplars)
    key = prediction_key(model, labels, settings)
    candidates = project.images() if images is None else list(images)
    todo = images_to_predict(project, key, candidates, force)
    report = PredictReport(skipped=len(candidates) - len(todo))
    project.model = detector.model_name
    files = [project.image_file(image) for image in todo]
    common = {
        "nms_iou": settings.nms_iou,
        "max_detections": settings.max_detections,
        "batch_size": batch_size,
    }
    if exemplars:
        results = detector.detect_like(files, exemplars, box_threshold=settings.box_threshold, **common)
    else:
        results = detector.detect(
            files,
            labels,
            box_threshold=settings.box_threshold,
            text_threshold=settings.text_threshold,
            **common,
        )
    for image, result in zip(todo, results, strict=True):
        if result.ok:
            project.record_prediction(image.id, result, model, labels, settings)
            report.predicted += 1
            report.boxes += len(result.boxes)
        else:
            report.failures.append((image.path, result.error or "unknown error"))
        if on_image is not None:
            on_image(image)
    return report
