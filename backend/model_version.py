"""The model version Label Studio stores with each prediction.

Label Studio skips tasks that already hold a prediction with the backend's current
version, so the version must be deterministic: the same for the same model, thresholds
and prompt rules (in /setup, in /predict, in bulk pre-labelling, across restarts), and
different as soon as any of them would change the boxes.
"""

from __future__ import annotations

import hashlib
from pathlib import PurePath

from groundlabel.detector import DetectionSettings
from groundlabel.families import FAMILIES

# Bump when the way labels become prompts or boxes become regions changes.
PROMPT_RULES = "ls-prompt-1"
# Bump when the way masks become brush or polygon regions changes.
MASK_RULES = "ls-masks-1"
# Bump when the way a video tracker's tracks become videorectangle regions changes.
TRACK_RULES = "ls-tracks-1"


def model_version(
    model_name: str,
    settings: DetectionSettings,
    class_thresholds: str = "",
    mask_model: str = "",
    tracker_model: str = "",
) -> str:
    """``groundlabel-<family>-<model>-<8 hex>``: readable in Label Studio's UI, exact in its hash.

    ``model_name`` is ``Detector.model_record`` (``family:checkpoint``) or a bare checkpoint;
    the family is shown unless the checkpoint's name already starts with it. ``class_thresholds``
    is ``ClassThresholds.fingerprint()``: new per-class thresholds make a new version, so Label
    Studio asks again; none keeps the version of a backend without them. ``mask_model`` is the
    segmenter's ``model_record`` (``serve --masks``): it joins the hash and the name.
    ``tracker_model`` is the video tracker's ``model_record`` (``--tracker``): its tracks differ
    from ByteTrack's, so it joins the hash; none keeps the version of a ByteTrack backend.
    """
    parts = [model_name, settings.fingerprint(), PROMPT_RULES]
    if class_thresholds:
        parts.append(class_thresholds)
    if mask_model:
        parts.append(f"masks={mask_model}:{MASK_RULES}")
    if tracker_model:
        parts.append(f"tracker={tracker_model}:{TRACK_RULES}")
    digest = hashlib.sha256("\n".join(parts).encode()).hexdigest()
    family, sep, checkpoint = model_name.partition(":")
    if not sep or family not in FAMILIES:
        family, checkpoint = "", model_name
    short_name = PurePath(checkpoint.rstrip("/\\")).name or "model"
    if family and not short_name.startswith(family):
        short_name = f"{family}-{short_name}"
    if mask_model:
        mask_family, _, mask_checkpoint = mask_model.partition(":")
        mask_name = PurePath(mask_checkpoint.rstrip("/\\")).name or mask_family
        short_name += f"+{mask_name}"
    return f"groundlabel-{short_name}-{digest[:8]}"
