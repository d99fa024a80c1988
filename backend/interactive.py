"""Interactive pre-annotation: the annotator's own words as the prompt.

When Label Studio sends ``params.context`` (interactive mode), a ``TextArea`` text in it
replaces the project's phrases, and the boxes carry the label the annotator picked
alongside it, or the label that text names. A context with only a picked label (a
keypoint or a box) narrows the prompt to that label; with a model that searches by
example (OWLv2, OWL-ViT) a drawn rectangle is itself the example to find more of
(``interactive_examples``).

With a mask model and a ``BrushLabels`` / ``PolygonLabels`` control on the image, smart
key points (positive, or negative with Alt) and a drawn rectangle are a SAM prompt
instead, as in Label Studio's own SAM examples: Label Studio sends every smart region of
the annotation in the context, so each new point refines the same mask (``MaskPrompt``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from groundlabel.backend.label_config import BoxTarget

from groundlabel.labels import LabelClass, LabelSet, sanitize_phrase

log = logging.getLogger(__name__)


@dataclass
class InteractiveContext:
    """What the annotator said: prompt texts and picked labels, each per image (``to_name``)."""

    texts: list[tuple[str | None, str]] = field(default_factory=list)
    picked: list[tuple[str | None, str]] = field(default_factory=list)
    # Drawn rectangles: (to_name, label, (x, y, width, height) in percent of the image).
    rectangles: list[tuple[str | None, str, tuple[float, float, float, float]]] = field(default_factory=list)
    # Key points: (to_name, label, x, y in percent, positive); Alt-clicked smart points are negative.
    points: list[tuple[str | None, str, float, float, bool]] = field(default_factory=list)
    # The raw context, for the drawn video rectangles (``interactive_video.video_prompts``): they are
    # read where a video target asks for them, so a malformed one fails that task alone, in one line.
    raw: object = None

    @classmethod
    def parse(cls, context: object) -> InteractiveContext | None:
        if not isinstance(context, dict):
            return None
        items = context.get("result")
        if not isinstance(items, list) or not items:
            return None
        parsed = cls(raw=context)
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get("value"), dict):
                continue
            to_name = item.get("to_name")
            value = item["value"]
            if item.get("type") == "textarea":
                text = value.get("text")
                for piece in text if isinstance(text, list) else [text]:
                    if isinstance(piece, str) and piece.strip():
                        parsed.texts.append((to_name, piece.strip()))
                continue
            for key, labels in value.items():
                if key.endswith("labels") and isinstance(labels, list):
                    parsed.picked.extend((to_name, label) for label in labels if isinstance(label, str))
            parsed.rectangles.extend(drawn_rectangles(item))
            parsed.points.extend(key_points(item))
        return parsed if parsed.texts or parsed.picked else None

    @staticmethod
    def _for(pairs: list[tuple[str | None, str]], target: BoxTarget) -> list[str]:
        return [value for to_name, value in pairs if to_name in (None, target.to_name)]

    def examples_for(self, target: BoxTarget) -> list[tuple[str, tuple[float, float, float, float]]]:
        """Drawn rectangles on ``target``'s image whose label is one of its labels: (label, percent box)."""
        names = target.labels.names
        return [
            (label, box)
            for to_name, label, box in self.rectangles
            if to_name in (None, target.to_name) and label in names
        ]

    def mask_prompt_for(self, to_name: str) -> MaskPrompt | None:
        """The SAM prompt on one image: all its key points and its latest rectangle, if any."""
        points = [p for p in self.points if p[0] in (None, to_name)]
        rectangles = [r for r in self.rectangles if r[0] in (None, to_name)]
        if not points and not rectangles:
            return None
        label = rectangles[-1][1] if rectangles else points[0][1]
        return MaskPrompt(
            label=label,
            box=rectangles[-1][2] if rectangles else None,
            points=tuple((x, y) for _, _, x, y, _ in points),
            positive=tuple(positive for *_, positive in points),
        )

    def labels_for(self, target: BoxTarget) -> LabelSet | None:
        """The label set to prompt ``target`` with, or None when the context has nothing for it."""
        names = target.labels.names
        picked = [p for p in self._for(self.picked, target) if p in names]
        texts = self._for(self.texts, target)
        if texts:
            text = " ".join(texts)
            label = picked[0] if picked else _label_named_by(text, target.labels)
            if label is None:
                log.info(
                    "interactive text %r names none of %s's labels and none was picked",
                    text,
                    target.from_name,
                )
                return None
            return LabelSet((LabelClass(name=label, aliases=(text,)),))
        if picked:
            wanted = dict.fromkeys(picked)
            return LabelSet(tuple(c for c in target.labels.classes if c.name in wanted))
        return None


@dataclass(frozen=True)
class MaskPrompt:
    """A point-and-box prompt in percent of the image, and the label the annotator picked."""

    label: str
    box: tuple[float, float, float, float] | None  # x, y, width, height
    points: tuple[tuple[float, float], ...] = ()
    positive: tuple[bool, ...] = ()

    def in_pixels(
        self, image_size: tuple[int, int]
    ) -> tuple[tuple[float, float, float, float] | None, list[tuple[float, float]], list[int]]:
        """(xyxy box or None, points, labels 1/0) in pixels of an image of ``image_size``."""
        width, height = image_size
        box = None
        if self.box is not None:
            x, y, w, h = self.box
            box = (x * width / 100, y * height / 100, (x + w) * width / 100, (y + h) * height / 100)
        points = [(x * width / 100, y * height / 100) for x, y in self.points]
        return box, points, [1 if positive else 0 for positive in self.positive]


def key_points(item: dict[str, Any]) -> list[tuple[str | None, str, float, float, bool]]:
    """A ``keypointlabels`` context item as (to_name, label, x, y percent, positive) points.

    Label Studio 1.23 marks smart points with ``is_positive`` (false when Alt was held); a
    point without it is positive.
    """
    value = item["value"]
    if item.get("type") != "keypointlabels" or not isinstance(value.get("keypointlabels"), list):
        return []
    try:
        x, y = float(value["x"]), float(value["y"])
    except (KeyError, TypeError, ValueError):
        return []
    positive = item.get("is_positive", True) not in (False, 0, "false", "False")
    labels = [label for label in value["keypointlabels"] if isinstance(label, str)]
    return [(item.get("to_name"), label, x, y, positive) for label in labels[:1] or [""]]


def drawn_rectangles(item: dict[str, Any]) -> list[tuple[str | None, str, tuple[float, float, float, float]]]:
    """A ``rectanglelabels`` context item as (to_name, label, percent box) example boxes."""
    value = item["value"]
    if item.get("type") != "rectanglelabels" or not isinstance(value.get("rectanglelabels"), list):
        return []
    try:
        box = tuple(float(value[k]) for k in ("x", "y", "width", "height"))
    except (KeyError, TypeError, ValueError):
        return []
    if box[2] <= 0 or box[3] <= 0 or value.get("rotation", 0) not in (0, 0.0, None):
        return []
    return [(item.get("to_name"), label, box) for label in value["rectanglelabels"] if isinstance(label, str)]


def _label_named_by(text: str, labels: LabelSet) -> str | None:
    """The label whose value or prompt phrase the text is, or contains; a lone label otherwise."""
    phrase = sanitize_phrase(text)
    for cls in labels.classes:
        if phrase in (sanitize_phrase(cls.name), *cls.phrases):
            return cls.name
    for cls in labels.classes:
        if any(f" {p} " in f" {phrase} " for p in (sanitize_phrase(cls.name), *cls.phrases)):
            return cls.name
    if len(labels.classes) == 1:
        return labels.classes[0].name
    return None


def interactive_context(params: Any) -> InteractiveContext | None:
    """The parsed ``params.context`` of a /predict request, if it carries anything usable."""
    if not isinstance(params, dict):
        return None
    return InteractiveContext.parse(params.get("context"))
