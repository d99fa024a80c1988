"""What a Label Studio labeling config asks of a box detector (and of a mask model).

The config is parsed per request with label-studio-sdk's ``LabelInterface`` (Label
Studio's own reader of the XML), so the backend keeps no per-project state: every
``RectangleLabels`` control bound to an ``Image`` becomes one ``BoxTarget`` with its own
label set, prompt phrases and optional score threshold.

``BrushLabels`` and ``PolygonLabels`` controls on an image become ``MaskTarget``s: the
masks of that image's boxes go there (brush RLE or polygons). A mask control on an image
without ``RectangleLabels`` still gets masks: the detector is then prompted with the mask
controls' labels and no rectangle is drawn (``BoxTarget.draw_boxes`` False).

A ``VideoRectangle`` on a ``Video`` becomes a ``VideoTarget`` (``label_video.py``): its
classes come from the ``Labels`` controls on the same video (Label Studio keeps a
video's classes there, not on the rectangle), and each track goes there as one region.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from groundlabel.errors import GroundlabelError, LabelSetError
from groundlabel.labels import LabelClass, LabelSet

if TYPE_CHECKING:
    from groundlabel.backend.label_video import VideoTarget

log = logging.getLogger(__name__)


class LabelConfigError(GroundlabelError):
    """The project's labeling config cannot be read or has nothing to predict."""


#: Label Studio control tags that hold masks, and the result ``type`` each writes.
MASK_CONTROLS = {"BrushLabels": "brushlabels", "PolygonLabels": "polygonlabels"}


@dataclass(frozen=True)
class MaskTarget:
    """One ``BrushLabels`` or ``PolygonLabels`` control on one ``Image``: where masks go."""

    from_name: str
    to_name: str
    # "brushlabels" (Label Studio RLE) or "polygonlabels" (points in percent).
    result_type: str
    labels: LabelSet

    def label_for(self, label: str, lone_fallback: bool = False) -> str | None:
        """The control's label value equal to ``label``; with ``lone_fallback``, else its only label."""
        names = self.labels.names
        if label in names:
            return label
        return names[0] if lone_fallback and len(names) == 1 else None


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
    # BrushLabels / PolygonLabels controls on the same image: each box's mask goes there.
    masks: tuple[MaskTarget, ...] = ()
    # False for a target made from mask controls alone: boxes drive masks but are not shown.
    draw_boxes: bool = True


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


def parse_interface(label_config: str) -> Any:
    """label-studio-sdk's ``LabelInterface`` of a config; ``LabelConfigError`` when it is empty or
    does not parse (the image and the video targets are both read from it)."""
    from label_studio_sdk.label_interface import LabelInterface

    if not label_config or not label_config.strip():
        raise LabelConfigError("the request carries no labeling config")
    try:
        return LabelInterface(label_config)
    except Exception as exc:  # the SDK raises assorted XML and validation errors
        raise LabelConfigError(f"the labeling config cannot be parsed: {exc}") from None


def parse_targets(label_config: str) -> list[BoxTarget | VideoTarget]:
    """Every image target (``parse_box_targets``) then every video target, in config order.

    Raises ``LabelConfigError`` when the config is unreadable or has neither.
    """
    from groundlabel.backend.label_video import parse_video_targets

    try:
        boxes: list[BoxTarget | VideoTarget] = list(parse_box_targets(label_config))
    except LabelConfigError as exc:
        videos = parse_video_targets(label_config)
        if not videos:
            raise LabelConfigError(f"{exc}; or a VideoRectangle on a Video with a Labels control") from None
        return list(videos)
    return boxes + list(parse_video_targets(label_config))


def parse_box_targets(label_config: str) -> list[BoxTarget]:
    """Every usable (RectangleLabels control, Image) pair, in config order, with its mask controls.

    Images with only BrushLabels / PolygonLabels controls come after, one target each.

    Raises ``LabelConfigError`` with the reason when the config is unreadable or has no
    usable control, so the caller can log it once and answer with empty results.
    """
    interface = parse_interface(label_config)

    images = {obj.name: obj for obj in interface.objects if obj.tag == "Image"}
    text_areas: dict[str, list[str]] = {}
    for control in interface.controls:
        if control.tag == "TextArea":
            for to_name in control.to_name or []:
                text_areas.setdefault(to_name, []).append(control.name)

    targets: list[BoxTarget] = []
    skipped: list[str] = []
    mask_targets: dict[str, list[MaskTarget]] = {}
    mask_sources: dict[str, list[_ControlOnImage]] = {}
    for control in interface.controls:
        if control.tag != "RectangleLabels" and control.tag not in MASK_CONTROLS:
            continue
        for found in _controls_on_images(control, images, skipped):
            if control.tag == "RectangleLabels":
                targets.append(
                    BoxTarget(
                        from_name=control.name,
                        to_name=found.to_name,
                        data_key=found.data_key,
                        labels=found.labels,
                        score_threshold=found.score_threshold,
                        prompt_controls=tuple(text_areas.get(found.to_name, ())),
                    )
                )
            else:
                mask = MaskTarget(control.name, found.to_name, MASK_CONTROLS[control.tag], found.labels)
                mask_targets.setdefault(found.to_name, []).append(mask)
                mask_sources.setdefault(found.to_name, []).append(found)
    with_boxes = {t.to_name for t in targets}
    targets = [replace(t, masks=tuple(mask_targets.get(t.to_name, ()))) for t in targets]
    for to_name, sources in mask_sources.items():
        if to_name not in with_boxes:  # masks only: prompt with the mask controls' labels
            targets.append(_mask_only_target(to_name, sources, mask_targets[to_name], text_areas))
    if skipped:
        log.info("controls not predicted: %s", "; ".join(skipped))
    if not targets:
        reason = f" (skipped: {'; '.join(skipped)})" if skipped else ""
        raise LabelConfigError(
            "the labeling config has no RectangleLabels, BrushLabels or PolygonLabels control bound to "
            "an Image; add <RectangleLabels name=... toName=IMAGE> with <Label value=...> children" + reason
        )
    return targets


@dataclass(frozen=True)
class _ControlOnImage:
    """A labels control's usable binding to one Image."""

    to_name: str
    data_key: str
    labels: LabelSet
    score_threshold: float | None


def _controls_on_images(control: object, images: dict, skipped: list[str]) -> list[_ControlOnImage]:
    """Each Image a labels control is bound to, with its label set; the reasons for the rest."""
    attrs = control.attr or {}
    if _truthy(attrs.get("model_skip", "false")):
        skipped.append(f"{control.name} (model_skip)")
        return []
    label_attrs = getattr(control, "labels_attrs", {}) or {}
    if not label_attrs:
        skipped.append(f"{control.name} (no labels)")
        return []
    try:
        labels = LabelSet(
            tuple(_label_class(value, dict(label.attr or {})) for value, label in label_attrs.items())
        )
    except LabelSetError as exc:
        skipped.append(f"{control.name} ({exc})")
        return []
    found = []
    for to_name in control.to_name or []:
        image = images.get(to_name)
        if image is None:
            skipped.append(f"{control.name} -> {to_name} (not an Image)")
            continue
        data_key = (image.value or "").lstrip("$")
        if not data_key:
            skipped.append(f"{control.name} -> {to_name} (Image has no value)")
            continue
        found.append(_ControlOnImage(to_name, data_key, labels, _score_threshold(control.name, attrs)))
    return found


def _mask_only_target(
    to_name: str, sources: list[_ControlOnImage], masks: list[MaskTarget], text_areas: dict[str, list[str]]
) -> BoxTarget:
    """The detector's target for an image with mask controls and no RectangleLabels."""
    classes: dict[str, LabelClass] = {}
    for source in sources:
        for cls in source.labels.classes:
            classes.setdefault(cls.name, cls)
    return BoxTarget(
        from_name=masks[0].from_name,
        to_name=to_name,
        data_key=sources[0].data_key,
        labels=LabelSet(tuple(classes.values())),
        score_threshold=sources[0].score_threshold,
        prompt_controls=tuple(text_areas.get(to_name, ())),
        masks=tuple(masks),
        draw_boxes=False,
    )
