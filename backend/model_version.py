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

# Bump when the way labels become prompts or boxes become regions changes.
PROMPT_RULES = "ls-prompt-1"


def model_version(model_name: str, settings: DetectionSettings, class_thresholds: str = "") -> str:
    """``groundlabel-<model>-<8 hex>``: readable in Label Studio's UI, exact in its hash.

    ``class_thresholds`` is ``ClassThresholds.fingerprint()``: new per-class thresholds make a new
    version, so Label Studio asks again; none keeps the version of a backend without them."""
    parts = [model_name, settings.fingerprint(), PROMPT_RULES]
    if class_thresholds:
        parts.append(class_thresholds)
    digest = hashlib.sha256("\n".join(parts).encode()).hexdigest()
    short_name = PurePath(model_name.rstrip("/\\")).name or "model"
    return f"groundlabel-{short_name}-{digest[:8]}"
