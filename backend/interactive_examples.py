"""Interactive "find more like this box": a rectangle drawn in Label Studio as the example.

Label Studio sends the rectangle in percent of the image; it becomes an ``Exemplar`` in
pixels of the same task image, and the detector searches that image for more of it
(``Detector.detect_like``). Only families that search by example take this path; for
the others the rectangle's label narrows the prompt as before.
"""

from __future__ import annotations

from PIL import Image

from groundlabel.detector import DetectionResult, DetectionSettings, Detector
from groundlabel.exemplars import Exemplar


def detect_from_drawn_boxes(
    detector: Detector,
    image: Image.Image,
    examples: list[tuple[str, tuple[float, float, float, float]]],
    settings: DetectionSettings,
) -> DetectionResult:
    """Boxes like the drawn ``(label, percent x/y/width/height)`` rectangles, on the same image."""
    width, height = image.size
    exemplars = [
        Exemplar(
            image, (x * width / 100, y * height / 100, (x + w) * width / 100, (y + h) * height / 100), label
        )
        for label, (x, y, w, h) in examples
    ]
    return next(
        detector.detect_like(
            image,
            exemplars,
            box_threshold=settings.box_threshold,
            nms_iou=settings.nms_iou,
            max_detections=settings.max_detections,
        )
    )
