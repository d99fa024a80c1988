"""Per-class score thresholds: which proposals each class keeps.

One box threshold for every class is wrong when the model finds some classes weakly and
over-fires on others. ``ClassThresholds`` maps class names to their own threshold (``None``:
the class keeps the global box threshold). Detection runs once with the lowest threshold
that any class needs (``detection_floor``) and ``apply`` then drops each box below its
class's threshold; because every box of a class meets the same cut, class-wise NMS before
or after the cut keeps the same boxes. The same object serves ``detect --into-project``, the
desktop and the Label Studio backend, and its ``fingerprint`` goes into prediction keys and
model versions, so a change of thresholds means a new prediction.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from groundlabel.errors import GroundlabelError

if TYPE_CHECKING:
    from groundlabel.detector import DetectionResult
    from groundlabel.labels import LabelSet


class ClassThresholdsError(GroundlabelError):
    """A thresholds file or value that cannot be used."""


def check_threshold(name: str, value: Any) -> float | None:
    """A threshold in [0, 1] or None; anything else is a user error naming the class."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ClassThresholdsError(
            f"threshold of class {name!r} is {value!r}: give a number from 0 to 1 or null"
        )
    if not 0.0 <= float(value) <= 1.0:
        raise ClassThresholdsError(
            f"threshold of class {name!r} is {value}: give a number from 0 to 1 or null"
        )
    return float(value)


@dataclass(frozen=True)
class ClassThresholds:
    """Class name -> threshold (box kept when its score is at or above it), or None."""

    values: Mapping[str, float | None] = field(default_factory=dict)
    enabled: bool = True

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any], enabled: bool = True) -> ClassThresholds:
        if not isinstance(mapping, Mapping):
            raise ClassThresholdsError(
                "class thresholds must be a JSON object mapping class names to a number or null"
            )
        return cls({str(k): check_threshold(str(k), v) for k, v in mapping.items()}, enabled)

    @classmethod
    def load_json(cls, path: str | os.PathLike[str]) -> ClassThresholds:
        """Read ``{class: threshold | null}`` as written by ``groundlabel calibrate -o``."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ClassThresholdsError(
                f"{path}: no such thresholds file; write one with groundlabel calibrate -o"
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ClassThresholdsError(f"{path}: cannot read the thresholds file ({exc})") from None
        except json.JSONDecodeError as exc:
            raise ClassThresholdsError(f"{path}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
        try:
            return cls.from_mapping(data)
        except ClassThresholdsError as exc:
            raise ClassThresholdsError(f"{path}: {exc}") from None

    def set(self) -> dict[str, float]:
        """The classes that have a threshold (empty when switched off)."""
        if not self.enabled:
            return {}
        return {name: value for name, value in self.values.items() if value is not None}

    @property
    def active(self) -> bool:
        return bool(self.set())

    def threshold_for(self, name: str, default: float | None = None) -> float | None:
        return self.set().get(name, default)

    def detection_floor(self, box_threshold: float) -> float:
        """The box threshold to run the detector with so no class loses a box it keeps."""
        return min([box_threshold, *self.set().values()])

    def keeps(self, name: str, score: float, box_threshold: float) -> bool:
        """Whether a box survives: its class's threshold (inclusive), else the global one (exclusive, as
        the detector applies it)."""
        threshold = self.set().get(name)
        return score > box_threshold if threshold is None else score >= threshold

    def apply(
        self, result: DetectionResult, box_threshold: float, max_detections: int | None = None
    ) -> DetectionResult:
        """The result with each box cut at its class's threshold, then capped (best first)."""
        if not result.ok:
            return result
        keep = [
            i for i, (score, name) in enumerate(zip(result.scores, result.labels, strict=True))
            if self.keeps(name, score, box_threshold)
        ]  # fmt: skip
        keep.sort(key=lambda i: -result.scores[i])
        if max_detections is not None:
            keep = keep[:max_detections]
        return replace(
            result,
            boxes=[result.boxes[i] for i in keep],
            scores=[result.scores[i] for i in keep],
            labels=[result.labels[i] for i in keep],
            class_ids=[result.class_ids[i] for i in keep],
        )

    def fingerprint(self) -> str:
        """Empty when nothing applies, so keys made before any calibration stay the same."""
        values = self.set()
        if not values:
            return ""
        return "class=" + ",".join(f"{name}:{values[name]:g}" for name in sorted(values))

    def to_json(self) -> dict[str, float | None]:
        return dict(self.values)

    def for_labels(self, labels: LabelSet) -> ClassThresholds:
        """These thresholds keyed by ``labels``' class names, matched to each class's name or, failing
        that, one of its aliases (exactly, then ignoring case): a file written for a project whose
        classes were named after the phrases still applies where labels carry other values."""
        values = self.set()
        folded = {name.casefold(): value for name, value in values.items()}
        matched: dict[str, float | None] = {}
        for label in labels.classes:
            for key in (label.name, *label.aliases):
                value = values.get(key, folded.get(key.casefold()))
                if value is not None:
                    matched[label.name] = value
                    break
        return ClassThresholds(matched)
