"""Running the detector over a project's images and recording what it found.

Shared by ``groundlabel detect --into-project`` and usable from a desktop worker thread:
it only calls thread-safe project methods. Images already predicted with the same model,
prompt and thresholds are skipped, so an interrupted run resumes where it stopped (each
image is committed as soon as it is done).

Once calibrated (``groundlabel calibrate``), the project's per-class thresholds apply: the
detector runs at the lowest threshold any class needs and each box is cut at its class's
own; the thresholds and the auto-accept rule are part of the prediction key, so changing
them re-predicts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from groundlabel.class_thresholds import ClassThresholds
from groundlabel.project.models import ImageRecord
from groundlabel.project.store import ReviewProject, prediction_key
from groundlabel.project.thresholds import auto_accept_scores, load_thresholds, thresholds_fingerprint

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
    auto_accepted: int = 0


@dataclass(frozen=True)
class PredictionPlan:
    """How a project's images are predicted now: key, detector settings, per-class cut."""

    key: str
    settings: DetectionSettings  # as the user set them; recorded with each box
    run_settings: DetectionSettings  # what the detector runs with (lowest threshold, no cap)
    thresholds: ClassThresholds
    auto_accept: dict[str, float]
    fingerprint: str


def prediction_plan(
    project: ReviewProject,
    model: str,
    labels: LabelSet,
    settings: DetectionSettings,
    *,
    per_class: bool = True,
) -> PredictionPlan:
    """The project's thresholds and auto-accept rule applied to ``settings`` (none if not ``per_class``)."""
    thresholds = load_thresholds(project) if per_class else ClassThresholds()
    auto_accept = auto_accept_scores(project, thresholds) if per_class else {}
    fingerprint = thresholds_fingerprint(thresholds, auto_accept)
    run_settings = settings
    if thresholds.active:
        run_settings = replace(
            settings, box_threshold=thresholds.detection_floor(settings.box_threshold), max_detections=None
        )
    key = prediction_key(model, labels, settings, fingerprint)
    return PredictionPlan(key, settings, run_settings, thresholds, auto_accept, fingerprint)


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
    """Detect on the project's images (or ``images``) and record each result as it comes,
    cut at the project's per-class thresholds.

    With ``exemplars`` the search is by example boxes (``Detector.detect_like``); their
    classes must be ``labels``. The per-class thresholds, learned from text-prompted
    proposals, do not apply to a search by example.
    """
    model = model_key(detector, exemplars)
    plan = prediction_plan(project, model, labels, settings, per_class=not exemplars)
    candidates = project.images() if images is None else list(images)
    todo = images_to_predict(project, plan.key, candidates, force)
    report = PredictReport(skipped=len(candidates) - len(todo))
    project.model = detector.model_name
    files = [project.image_file(image) for image in todo]
    run = plan.run_settings
    common = {"nms_iou": run.nms_iou, "max_detections": run.max_detections, "batch_size": batch_size}
    if exemplars:
        results = detector.detect_like(files, exemplars, box_threshold=run.box_threshold, **common)
    else:
        results = detector.detect(
            files, labels, box_threshold=run.box_threshold, text_threshold=run.text_threshold, **common
        )
    for image, result in zip(todo, results, strict=True):
        if result.ok:
            if plan.thresholds.active:
                result = plan.thresholds.apply(result, settings.box_threshold, settings.max_detections)
            boxes = project.record_prediction(
                image.id, result, model, labels, settings, plan.fingerprint, plan.auto_accept
            )
            report.predicted += 1
            report.boxes += len(result.boxes)
            report.auto_accepted += sum(1 for box in boxes if box.auto_accepted)
        else:
            report.failures.append((image.path, result.error or "unknown error"))
        if on_image is not None:
            on_image(image)
    return report
