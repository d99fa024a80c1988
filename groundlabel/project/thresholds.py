"""The project's per-class thresholds and auto-accept rule, kept in its ``settings`` table.

Keys: ``class_thresholds`` ({class: threshold | null}, editable per class),
``class_thresholds_enabled`` (the on/off switch), ``calibration`` (what ``calibrate`` measured:
per class the precision/recall curve, so the precision at an edited threshold is known) and
``auto_accept_precision`` (null = off, the default). Auto-accept needs a measured precision:
a class whose precision at its threshold is below the chosen value never auto-accepts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from groundlabel.calibration import Calibration, CurvePoint, precision_at
from groundlabel.class_thresholds import ClassThresholds, check_threshold

if TYPE_CHECKING:
    from groundlabel.project.store import ReviewProject

THRESHOLDS_KEY = "class_thresholds"
ENABLED_KEY = "class_thresholds_enabled"
CALIBRATION_KEY = "calibration"
AUTO_ACCEPT_KEY = "auto_accept_precision"


def load_thresholds(project: ReviewProject) -> ClassThresholds:
    """The thresholds the project applies now (empty and inactive before any calibration)."""
    values = project.get_setting(THRESHOLDS_KEY, {}) or {}
    return ClassThresholds.from_mapping(values, enabled=bool(project.get_setting(ENABLED_KEY, True)))


def save_thresholds(project: ReviewProject, thresholds: ClassThresholds) -> None:
    with project.batch():
        project.set_setting(THRESHOLDS_KEY, thresholds.to_json())
        project.set_setting(ENABLED_KEY, thresholds.enabled)


def save_calibration(project: ReviewProject, calibration: Calibration) -> None:
    """Store what ``calibrate`` found and switch the thresholds on."""
    measured = {
        c.name: {
            "threshold": c.threshold,
            "decisions": c.decisions,
            "curve": [[p.threshold, p.precision, p.recall] for p in c.curve],
        }
        for c in calibration.classes
    }
    with project.batch():
        project.set_setting(CALIBRATION_KEY, {"method": calibration.method, "classes": measured})
        save_thresholds(project, ClassThresholds(calibration.thresholds(), enabled=True))


def measured_curves(project: ReviewProject) -> dict[str, list[CurvePoint]]:
    stored: dict[str, Any] = (project.get_setting(CALIBRATION_KEY) or {}).get("classes", {})
    return {name: [CurvePoint(*p) for p in item.get("curve", [])] for name, item in stored.items()}


def auto_accept_precision(project: ReviewProject) -> float | None:
    return check_threshold("auto-accept precision", project.get_setting(AUTO_ACCEPT_KEY))


def set_auto_accept_precision(project: ReviewProject, precision: float | None) -> None:
    project.set_setting(AUTO_ACCEPT_KEY, check_threshold("auto-accept precision", precision))


def auto_accept_scores(project: ReviewProject, thresholds: ClassThresholds | None = None) -> dict[str, float]:
    """Class -> score from which a new proposal arrives accepted; empty when auto-accept is off.

    A class qualifies when it has a threshold and the precision measured at that threshold
    reaches the chosen value."""
    wanted = auto_accept_precision(project)
    thresholds = load_thresholds(project) if thresholds is None else thresholds
    if wanted is None:
        return {}
    curves = measured_curves(project)
    scores = {}
    for name, threshold in thresholds.set().items():
        measured = precision_at(curves.get(name, []), threshold)
        if measured is not None and measured >= wanted:
            scores[name] = threshold
    return scores


def thresholds_fingerprint(thresholds: ClassThresholds, auto_accept: dict[str, float]) -> str:
    """What goes into the prediction key besides model, prompt and global thresholds."""
    parts = [thresholds.fingerprint()]
    if auto_accept:
        parts.append("auto=" + ",".join(f"{k}:{auto_accept[k]:g}" for k in sorted(auto_accept)))
    return ";".join(p for p in parts if p)
