"""What a Label Studio labeling config asks of a box detector.

The config is parsed per request with label-studio-sdk's ``LabelInterface`` (Label
Studio's own reader of the XML), so the backend keeps no per-project state: every
``RectangleLabels`` control bound to an ``Image`` becomes one ``BoxTarget`` with its own
label set, prompt phrases and optional score threshold.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from groundlabel.errors import GroundlabelError, LabelSetError
from groundlabel.labels import LabelClass, LabelSet

log = logging.getLogger(__name__)


class LabelConfigError(GroundlabelError):
    """The project's labeling config cannot be read or has nothing to predict."""


@dataclass(frozen=True)
class BoxTarget:
    """One ``RectangleLabels`` control on one ``Image``: where boxes go and what to look for."""

    from_name: str
    to_name: str
    # Key of the image URL in ``task["data"]`` (the Image tag's ``value`` without ``$``).
    data_key: str
    labels: LabelSet
    score_threshold: float | None = None
    # TextArea controls on the same image: their text becomes the prompt interactively.
    prompt_controls: tuple[str, ...] = ()


def _truthy(value: object) -> bool:
    return str(value).strip().lower() in ("true", "1", "yes")


def _label_class(value: str, attrs: dict) -> LabelClass:
    """A label's phrases come from ``predicted_values="a,b"`` when given, else its value."""
    predicted = attrs.get("predicted_values") or ""
    aliases = tuple(p.strip() for p in predicted.split(",") if p.strip())
    return LabelClass(name=value, aliases=aliases)


def _score_threshold(control_name: str, attrs: dict) -> float | None:
    raw = attrs.get("model_score_threshold")
    if raw in (None, ""):
        return None
    try:
        value = float(raw)
    except ValueError:
        log.warning(
            "control %r: model_score_threshold=%r is not a number; using the default", control_name, raw
        )
        return None
    if not 0.0 <= value <= 1.0:
        log.warning(
            "control %r: model_score_threshold=%r is outside 0..1; using the default", control_name, raw
        )
        return None
    return value


def parse_box_targets(label_config: str) -> list[BoxTarget]:
    """Every usable (RectangleLabels control, Image) pair, in config order.

    Raises ``LabelConfigError`` with the reason when the config is unreadable or has no
    usable control, so the caller can log it once and answer with empty results.
    """
    from label_studio_sdk.label_interface import LabelInterface

    if not label_config or not label_config.strip():
        raise LabelConfigError("the request carries no labeling config")
    try:
        interface = LabelInterface(label_config)
    except Exception as exc:  # the SDK raises assorted XML and validation errors
        raise LabelConfigError(f"the labeling config cannot be parsed: {exc}") from None

    images = {obj.name: obj for obj in interface.objects if obj.tag == "Image"}
    text_areas: dict[str, list[str]] = {}
    for control in interface.controls:
        if control.tag == "TextArea":
            for to_name in control.to_name or []:
                text_areas.setdefault(to_name, []).append(control.name)

    targets: list[BoxTarget] = []
    skipped: list[str] = []
    for control in interface.controls:
        if control.tag != "RectangleLabels":
            continue
        attrs = control.attr or {}
        if _truthy(attrs.get("model_skip", "false")):
            skipped.append(f"{control.name} (model_skip)")
            continue
        label_attrs = getattr(control, "labels_attrs", {}) or {}
        if not label_attrs:
            skipped.append(f"{control.name} (no labels)")
            continue
        try:
            labels = LabelSet(
                tuple(_label_class(value, dict(label.attr or {})) for value, label in label_attrs.items())
            )
        except LabelSetError as exc:
            skipped.append(f"{control.name} ({exc})")
            continue
        for to_name in control.to_name or []:
            image = images.get(to_name)
            if image is None:
                skipped.append(f"{control.name} -> {to_name} (not an Image)")
                continue
            data_key = (image.value or "").lstrip("$")
            if not data_key:
                skipped.append(f"{control.name} -> {to_name} (Image has no value)")
                continue
            targets.append(
                BoxTarget(
                    from_name=control.name,
                    to_name=to_name,
                    data_key=data_key,
                    labels=labels,
                    score_threshold=_score_threshold(control.name, attrs),
                    prompt_controls=tuple(text_areas.get(to_name, ())),
                )
            )
    if skipped:
        log.info("controls not predicted: %s", "; ".join(skipped))
    if not targets:
        reason = f" (skipped: {'; '.join(skipped)})" if skipped else ""
        raise LabelConfigError(
            "the labeling config has no RectangleLabels control bound to an Image; "
            "add <RectangleLabels name=... toName=IMAGE> with <Label value=...> children" + reason
        )
    return targets
