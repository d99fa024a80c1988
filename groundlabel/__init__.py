"""groundlabel: zero-shot box proposals from class names, reviewed and exported as datasets.

The core here has no Qt and no web imports; the backend and the desktop reviewer build on
it. Names are imported lazily so that light modules (the review project, the exporters)
do not pay for importing torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "DetectionResult": "groundlabel.detector",
    "DetectionSettings": "groundlabel.detector",
    "Detector": "groundlabel.detector",
    "GroundlabelError": "groundlabel.errors",
    "ImageLoadError": "groundlabel.errors",
    "LabelSetError": "groundlabel.errors",
    "ModelLoadError": "groundlabel.errors",
    "load_image": "groundlabel.images",
    "LabelClass": "groundlabel.labels",
    "LabelSet": "groundlabel.labels",
}
__all__ = [
    "DetectionResult",
    "DetectionSettings",
    "Detector",
    "GroundlabelError",
    "ImageLoadError",
    "LabelClass",
    "LabelSet",
    "LabelSetError",
    "ModelLoadError",
    "load_image",
]

if TYPE_CHECKING:
    from groundlabel.detector import DetectionResult, DetectionSettings, Detector
    from groundlabel.errors import GroundlabelError, ImageLoadError, LabelSetError, ModelLoadError
    from groundlabel.images import load_image
    from groundlabel.labels import LabelClass, LabelSet


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'groundlabel' has no attribute {name!r}")
