"""What a Label Studio labeling config asks of a tracker: ``VideoRectangle`` controls on ``Video``.

Label Studio keeps a video's classes in a ``Labels`` control bound to the ``Video`` and the
boxes in a ``VideoRectangle`` bound to the same video; a track is one ``videorectangle``
region whose ``value.labels`` names the class. So a video target's label set is the union of
the ``Labels`` controls on its video (``predicted_values`` aliases and ``model_skip`` read as
for images), and a ``VideoRectangle`` on a video without labels is skipped with a reason.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from groundlabel.backend.label_config import (
    _label_class,
    _score_threshold,
    _truthy,
    parse_interface,
)

from groundlabel.errors import LabelSetError
from groundlabel.labels import LabelClass, LabelSet

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VideoTarget:
    """One ``VideoRectangle`` control on one ``Video``: each track becomes one region there."""

    from_name: str
    to_name: str
    # Key of the video URL in ``task["data"]`` (the Video tag's ``value`` without ``$``).
    data_key: str
    labels: LabelSet
    # The Video tag's ``framerate`` (Label Studio's frame clock), when the config gives one.
    framerate: float | None = None
    score_threshold: float | None = None


def parse_video_targets(label_config: str) -> list[VideoTarget]:
    """Every usable (VideoRectangle, Video) pair, in config order; ``[]`` when there is none.

    Raises ``LabelConfigError`` only when the config cannot be parsed at all.
    """
    interface = parse_interface(label_config)
    videos = {obj.name: obj for obj in interface.objects if obj.tag == "Video"}
    classes: dict[str, dict[str, LabelClass]] = {}
    thresholds: dict[str, float | None] = {}
    for control in interface.controls:
        if control.tag != "Labels":
            continue
        attrs = control.attr or {}
        if _truthy(attrs.get("model_skip", "false")):
            continue
        for to_name in control.to_name or []:
            if to_name not in videos:
                continue
            found = classes.setdefault(to_name, {})
            for value, label in (getattr(control, "labels_attrs", {}) or {}).items():
                found.setdefault(value, _label_class(value, dict(label.attr or {})))
            thresholds.setdefault(to_name, _score_threshold(control.name, attrs))
    targets: list[VideoTarget] = []
    skipped: list[str] = []
    for control in interface.controls:
        if control.tag != "VideoRectangle":
            continue
        if _truthy((control.attr or {}).get("model_skip", "false")):
            skipped.append(f"{control.name} (model_skip)")
            continue
        for to_name in control.to_name or []:
            video = videos.get(to_name)
            data_key = (video.value or "").lstrip("$") if video is not None else ""
            if not data_key:
                skipped.append(f"{control.name} -> {to_name} (not a Video with a value)")
                continue
            if not classes.get(to_name):
                skipped.append(f"{control.name} -> {to_name} (no Labels control on the video)")
                continue
            try:
                labels = LabelSet(tuple(classes[to_name].values()))
            except LabelSetError as exc:
                skipped.append(f"{control.name} -> {to_name} ({exc})")
                continue
            targets.append(
                VideoTarget(
                    control.name, to_name, data_key, labels, _framerate(video), thresholds.get(to_name)
                )
            )
    if skipped:
        log.info("video controls not predicted: %s", "; ".join(skipped))
    return targets


def _framerate(video: object) -> float | None:
    raw = ((getattr(video, "attr", None) or {}).get("framerate") or "").strip()
    try:
        value = float(raw) if raw else None
    except ValueError:
        return None
    return value if value and value > 0 else None
