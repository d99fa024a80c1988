"""Per-class thresholds learnt from review decisions.

Every decision in a reviewed image labels the model's proposals: an accepted proposal is a
true positive at its score, a rejected one a false positive, a box drawn by hand something
the model missed (a false negative). A rejected proposal that a hand box of another class
replaces (IoU >= ``CONFUSION_IOU``) is also counted as a class confusion. From these, per
class, precision and recall against the threshold follow directly (no model is run), and the
threshold is the smallest one reaching a target precision, or the one of best F1. A class
with fewer decisions than asked gets no threshold: a guess from a handful of clicks would
be worse than the global threshold.

Only images marked reviewed (or reviewed-empty) count: elsewhere a pending box is not a
decision and a missing hand box is not a miss.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from groundlabel.project.store import ReviewProject

CONFUSION_IOU = 0.5
DEFAULT_MIN_DECISIONS = 20


@dataclass
class ClassDecisions:
    """The decisions about one class's proposals in the reviewed images."""

    name: str
    proposals: list[tuple[float, bool]] = field(default_factory=list)  # (score, accepted)
    misses: int = 0  # boxes drawn by hand

    @property
    def accepted(self) -> int:
        return sum(1 for _, ok in self.proposals if ok)

    @property
    def rejected(self) -> int:
        return len(self.proposals) - self.accepted

    @property
    def count(self) -> int:
        """Decisions a threshold rests on: accepted, rejected and hand-drawn boxes."""
        return len(self.proposals) + self.misses


@dataclass
class ReviewDecisions:
    classes: dict[str, ClassDecisions]
    confusions: Counter[tuple[str, str]]  # (proposed class, class drawn by hand instead) -> count
    misses_by_image: dict[int, int]  # image id -> hand-drawn boxes
    reviewed_images: int = 0


@dataclass(frozen=True)
class CurvePoint:
    """Keeping the proposals scoring at or above ``threshold`` gives this precision and recall."""

    threshold: float
    precision: float
    recall: float

    @property
    def f1(self) -> float:
        total = self.precision + self.recall
        return 0.0 if total == 0 else 2 * self.precision * self.recall / total


@dataclass(frozen=True)
class ClassCalibration:
    name: str
    decisions: int
    accepted: int
    rejected: int
    misses: int
    curve: tuple[CurvePoint, ...]
    threshold: float | None
    precision: float | None  # measured at the threshold
    recall: float | None
    note: str = ""  # why there is no threshold


@dataclass(frozen=True)
class Calibration:
    method: str  # "precision>=P" or "max-f1"
    min_decisions: int
    classes: tuple[ClassCalibration, ...]
    confusions: tuple[tuple[str, str, int], ...]

    def thresholds(self) -> dict[str, float | None]:
        return {c.name: c.threshold for c in self.classes}


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return 0.0 if union <= 0 else inter / union


def _is_proposal(source: str, score: float | None) -> bool:
    """A model's box: predicted here, or imported with a score (``detect -o`` on another machine,
    then ``import``; the model it came from is recorded from the COCO ``info``)."""
    return score is not None and source in ("model", "import")


def collect_decisions(project: ReviewProject) -> ReviewDecisions:
    """Read the decisions of the project's reviewed images (one query)."""
    classes = {c.id: ClassDecisions(c.name) for c in project.classes()}
    rows = project._read(
        """SELECT b.image_id, b.class_id, b.x0, b.y0, b.x1, b.y1, b.score, b.source, b.status
        FROM boxes b JOIN images i ON i.id = b.image_id
        WHERE i.missing = 0 AND i.state IN ('reviewed', 'reviewed-empty') ORDER BY b.image_id, b.id"""
    )
    reviewed = project._read(
        "SELECT COUNT(*) FROM images WHERE missing = 0 AND state IN ('reviewed', 'reviewed-empty')"
    )[0][0]
    by_image: dict[int, list[tuple]] = {}
    for row in rows:
        by_image.setdefault(row[0], []).append(row)
    confusions: Counter[tuple[str, str]] = Counter()
    misses_by_image: dict[int, int] = {}
    for image_id, boxes in by_image.items():
        rejected = [b for b in boxes if _is_proposal(b[7], b[6]) and b[8] == "rejected"]
        used: set[int] = set()
        for _, class_id, x0, y0, x1, y1, score, source, status in boxes:
            decisions = classes[class_id]
            if _is_proposal(source, score) and status in ("accepted", "rejected"):
                decisions.proposals.append((float(score), status == "accepted"))
            elif source == "hand" and status != "rejected":
                decisions.misses += 1
                misses_by_image[image_id] = misses_by_image.get(image_id, 0) + 1
                for index, other in enumerate(rejected):
                    if (
                        index not in used
                        and other[1] != class_id
                        and iou(other[2:6], (x0, y0, x1, y1)) >= CONFUSION_IOU
                    ):
                        used.add(index)
                        confusions[(classes[other[1]].name, decisions.name)] += 1
                        break
    return ReviewDecisions({d.name: d for d in classes.values()}, confusions, misses_by_image, reviewed)


def pr_curve(proposals: Iterable[tuple[float, bool]], misses: int) -> tuple[CurvePoint, ...]:
    """Precision and recall at each distinct proposal score, highest threshold first.

    Recall is over everything a person said is there: accepted proposals plus hand boxes."""
    ordered = sorted(proposals, key=lambda p: -p[0])
    positives = sum(1 for _, ok in ordered if ok) + misses
    points: list[CurvePoint] = []
    tp = fp = 0
    for index, (score, ok) in enumerate(ordered):
        tp += ok
        fp += not ok
        if index + 1 < len(ordered) and ordered[index + 1][0] == score:
            continue  # ties are kept or dropped together
        points.append(CurvePoint(score, tp / (tp + fp), tp / positives if positives else 0.0))
    return tuple(points)


def precision_at(curve: Sequence[CurvePoint], threshold: float) -> float | None:
    """Measured precision when keeping proposals at or above ``threshold`` (None: keeps none)."""
    kept = [p for p in curve if p.threshold >= threshold]
    return min(kept, key=lambda p: p.threshold).precision if kept else None


def choose_threshold(
    curve: Sequence[CurvePoint], target_precision: float | None
) -> tuple[CurvePoint | None, str]:
    """The smallest threshold with precision >= target, or (target None) the best F1."""
    if target_precision is not None:
        good = [p for p in curve if p.precision >= target_precision]
        if not good:
            return None, f"no threshold reaches precision {target_precision:g}"
        return min(good, key=lambda p: p.threshold), ""
    best = max(curve, key=lambda p: (p.f1, -p.threshold))
    return best, ""


def calibrate(
    decisions: ReviewDecisions,
    target_precision: float | None = None,
    min_decisions: int = DEFAULT_MIN_DECISIONS,
) -> Calibration:
    """Per-class thresholds from the decisions (``target_precision`` None: best F1)."""
    results = []
    for item in decisions.classes.values():
        curve = pr_curve(item.proposals, item.misses)
        point, note = None, ""
        if item.count < min_decisions:
            note = f"only {item.count} decision(s), {min_decisions} needed"
        elif item.accepted == 0:
            note = "no proposal was accepted"
        else:
            point, note = choose_threshold(curve, target_precision)
        results.append(
            ClassCalibration(
                item.name, item.count, item.accepted, item.rejected, item.misses, curve,
                None if point is None else point.threshold,
                None if point is None else point.precision,
                None if point is None else point.recall,
                note,
            )
        )  # fmt: skip
    method = "max-f1" if target_precision is None else f"precision>={target_precision:g}"
    confusions = tuple((a, b, n) for (a, b), n in decisions.confusions.most_common())
    return Calibration(method, min_decisions, tuple(results), confusions)


def format_table(calibration: Calibration) -> str:
    """The table ``groundlabel calibrate`` prints."""
    header = ("class", "decisions", "accepted", "rejected", "hand", "threshold", "precision", "recall")
    rows = [header]
    for c in calibration.classes:
        rows.append((
            c.name, str(c.decisions), str(c.accepted), str(c.rejected), str(c.misses),
            "none" if c.threshold is None else f"{c.threshold:.3f}",
            "-" if c.precision is None else f"{c.precision:.3f}",
            "-" if c.recall is None else f"{c.recall:.3f}",
        ))  # fmt: skip
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    notes = [f"{c.name}: no threshold: {c.note}" for c in calibration.classes if c.threshold is None]
    lines.extend(notes)
    for proposed, drawn, count in calibration.confusions[:5]:
        lines.append(f"confusion: {count} x proposed {proposed!r}, drawn as {drawn!r}")
    return "\n".join(lines)
