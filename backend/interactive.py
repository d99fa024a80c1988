"""Interactive pre-annotation: the annotator's own words as the prompt.

When Label Studio sends ``params.context`` (interactive mode), a ``TextArea`` text in it
replaces the project's phrases, and the boxes carry the label the annotator picked
alongside it, or the label that text names. A context with only a picked label (a
keypoint or a box) narrows the prompt to that label; with a model that searches by
example (OWLv2, OWL-ViT) a drawn rectangle is itself the example to find more of
(``interactive_examples``).
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

    @classmethod
    def parse(cls, context: object) -> InteractiveContext | None:
        if not isinstance(context, dict):
            return None
        items = context.get("result")
        if not isinstance(items, list) or not items:
            return None
        parsed = cls()
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
