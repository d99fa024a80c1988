"""A project's review in numbers: progress, boxes per class, curves, confusions, misses."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from groundlabel.calibration import DEFAULT_MIN_DECISIONS, Calibration, calibrate, collect_decisions
from groundlabel.project.models import ImageState
from groundlabel.project.store import ReviewProject
from groundlabel.project.thresholds import load_thresholds

BOX_KINDS = ("accepted", "rejected", "hand-drawn", "pending")


@dataclass(frozen=True)
class ReportData:
    folder: str
    states: dict[str, int]  # image state -> images
    boxes: dict[str, dict[str, int]]  # class -> kind (BOX_KINDS) -> boxes
    calibration: Calibration  # curves measured now
    thresholds: dict[str, float | None]  # what the project applies (calibrated or edited)
    thresholds_enabled: bool
    most_missed: list[tuple[str, int]]  # (image path, hand-drawn boxes), most first

    @property
    def reviewed(self) -> int:
        return self.states.get(str(ImageState.REVIEWED), 0) + self.states.get(
            str(ImageState.REVIEWED_EMPTY), 0
        )

    @property
    def total_images(self) -> int:
        return sum(self.states.values())


def box_counts(project: ReviewProject) -> dict[str, dict[str, int]]:
    """Every box (of present images) by class and kind; hand-drawn counts hand boxes not rejected."""
    names = [c.name for c in project.classes()]
    counts = {name: dict.fromkeys(BOX_KINDS, 0) for name in names}
    rows = project._read(
        """SELECT c.name, b.source, b.status, COUNT(*) FROM boxes b
        JOIN classes c ON c.id = b.class_id JOIN images i ON i.id = b.image_id
        WHERE i.missing = 0 GROUP BY c.name, b.source, b.status"""
    )
    for name, source, status, count in rows:
        kind = "hand-drawn" if source == "hand" and status != "rejected" else status
        counts[name][kind] += count
    return counts


def gather(
    project: ReviewProject, min_decisions: int = DEFAULT_MIN_DECISIONS, target_precision: float | None = None
) -> ReportData:
    """Everything the report shows, read from the project in a few queries."""
    decisions = collect_decisions(project)
    thresholds = load_thresholds(project)
    paths = {image.id: image.path for image in project.images()}
    missed = Counter({paths[i]: n for i, n in decisions.misses_by_image.items() if i in paths})
    return ReportData(
        folder=str(project.root),
        states={str(state): n for state, n in project.state_counts().items()},
        boxes=box_counts(project),
        calibration=calibrate(decisions, target_precision, min_decisions),
        thresholds=dict(thresholds.values),
        thresholds_enabled=thresholds.enabled,
        most_missed=missed.most_common(),
    )
