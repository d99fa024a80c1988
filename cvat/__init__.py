"""groundlabel for CVAT: the module ``cvat-cli ... --function-module groundlabel.cvat`` loads.

    cvat-cli task auto-annotate TASK --function-module groundlabel.cvat \\
        -p labels=str:"cat, dog=puppy" -p model=str:IDEA-Research/grounding-dino-tiny

cvat-cli calls ``create(**params)`` with the ``-p`` parameters (``groundlabel.cvat.params``
lists them) and gets back an object with ``spec`` and ``detect``. A parameter or model that
cannot be used ends the command with one line (``SystemExit``), before CVAT is touched;
``build`` raises the ``GroundlabelError`` itself, for Python callers.

``groundlabel.cvat.tracking`` is the tracking function beside it (a shape followed by a video
tracker checkpoint), loaded the same way with ``--function-module groundlabel.cvat.tracking``.
"""

from __future__ import annotations

from typing import Any

from groundlabel.cvat.function import GroundlabelFunction
from groundlabel.cvat.params import CvatParameterError, parse_parameters

from groundlabel.errors import GroundlabelError

__all__ = ["CvatParameterError", "GroundlabelFunction", "build", "create"]


def build(**params: Any) -> GroundlabelFunction:
    """Check the parameters, load the detector (and segmenter), return the function."""
    from groundlabel.class_thresholds import ClassThresholds
    from groundlabel.detector import Detector
    from groundlabel.labels import LabelSet

    parsed = parse_parameters(params)
    labels = LabelSet.parse(parsed.labels)
    thresholds = (
        ClassThresholds.load_json(parsed.class_thresholds) if parsed.class_thresholds else ClassThresholds()
    )
    detector = Detector.load(parsed.model, device=parsed.device, dtype=parsed.dtype)
    segmenter = None
    if parsed.masks:
        from groundlabel.segmenters.base import load_segmenter

        segmenter = load_segmenter(parsed.masks, device=parsed.device, dtype=parsed.dtype)
    return GroundlabelFunction(detector, labels, parsed, thresholds, segmenter)


def create(**params: Any) -> GroundlabelFunction:
    """cvat-cli's entry point: ``build``, with any user error as one line and exit status 1."""
    try:
        return build(**params)
    except GroundlabelError as exc:
        raise SystemExit(f"groundlabel.cvat: {exc}") from None
