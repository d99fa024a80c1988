"""groundlabel as a CVAT auto-annotation function: a ``spec`` of labels and ``detect(context, image)``.

Why this shape: cvat-cli (``task auto-annotate``, ``function create-native`` / ``run-agent``) loads
a module and calls ``create(**params)``; the object it gets back must carry a
``cvat_sdk.auto_annotation.DetectionFunctionSpec`` whose labels are the classes the user named,
and ``detect`` must return shapes built with cvat-sdk's helpers, whose labels and types CVAT's
driver then checks against the task's labels. The boxes, scores and masks are the core's
(``Detector``, ``ClassThresholds``, a segmenter's ``add_masks``); this module only decides which
ones CVAT may see (its ``conf_threshold``) and in which form (rectangles, masks, or polygons
when CVAT asks for ``conv_mask_to_poly``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import cvat_sdk.auto_annotation as cvataa
from groundlabel.cvat.params import FunctionParameters
from PIL import Image

from groundlabel import masks as mask_codec
from groundlabel.class_thresholds import ClassThresholds
from groundlabel.detector import DetectionResult, DetectionSettings, Detector
from groundlabel.labels import LabelSet

log = logging.getLogger(__name__)

FLOAT32_MARGIN = 1e-6  # above float32's spacing near 1 (6e-8), far below any meaningful threshold


@dataclass(frozen=True)
class Kept:
    """One detection CVAT will receive: class index, xyxy box, score, mask (RLE) or None."""

    class_id: int
    box: list[float]
    score: float
    mask: dict | None


class GroundlabelFunction:
    """A loaded detector (and optional segmenter) answering CVAT's ``detect`` calls, one frame each."""

    def __init__(
        self,
        detector: Detector,
        labels: LabelSet,
        params: FunctionParameters,
        thresholds: ClassThresholds,
        segmenter: Any = None,
    ) -> None:
        self.detector = detector
        self.labels = labels
        self.params = params
        self.thresholds = thresholds.for_labels(labels)
        self.segmenter = segmenter
        # A segmenter (``masks=``), or a family whose detector gives a mask per box (SAM 3).
        self.gives_masks = segmenter is not None or bool(getattr(detector.adapter, "makes_masks", False))
        shape_type = "mask" if self.gives_masks else "rectangle"
        # Label ids are the class indices; CVAT's driver maps them to the task's labels by name.
        self.spec = cvataa.DetectionFunctionSpec(
            labels=[
                cvataa.label_spec(name, index, type=shape_type) for index, name in enumerate(labels.names)
            ]
        )

    # -- what CVAT calls --------------------------------------------------------------------

    def detect(self, context: cvataa.DetectionFunctionContext, image: Image.Image) -> list[Any]:
        """Shapes for one frame: rectangles, or masks (polygons when ``context.conv_mask_to_poly``)."""
        kept = self.kept(image, context.conf_threshold)
        shapes: list[Any] = []
        for item in kept:
            if not self.gives_masks:
                shapes.append(cvataa.rectangle(item.class_id, [float(v) for v in item.box]))
            elif item.mask is None:
                log.warning(
                    "%s: a %s box has no mask; left out", context.frame_name, self.labels.names[item.class_id]
                )
            elif context.conv_mask_to_poly:
                shapes.extend(
                    cvataa.polygon(item.class_id, points) for points in mask_codec.to_polygons(item.mask)
                )
            else:
                shapes.append(cvataa.mask(item.class_id, mask_codec.to_cvat_mask(item.mask)))
        return shapes

    # -- the detections, in groundlabel's terms ---------------------------------------------

    def result(self, image: Image.Image, floor: float) -> DetectionResult:
        """The detector's (and segmenter's) result on ``image`` for every box scoring above ``floor``."""
        rgb = image if image.mode == "RGB" else image.convert("RGB")
        settings = DetectionSettings(box_threshold=floor, text_threshold=self.params.text_threshold)
        result = self.detector.detect_image(rgb, self.labels, settings)
        if self.segmenter is not None and result.ok and result.boxes:
            from groundlabel.segmenters.refine import add_masks

            result = add_masks(self.segmenter, rgb, result)
        return result

    def kept(self, image: Image.Image, conf_threshold: float | None) -> list[Kept]:
        """The detections CVAT receives, best first.

        Without CVAT's ``conf_threshold`` the box threshold and the per-class thresholds decide,
        as in ``groundlabel detect``. With it, it takes the box threshold's place and CVAT's
        contract holds: every object returned scores at least ``conf_threshold``; a class with
        its own, higher threshold still needs that.
        """
        if conf_threshold is None:
            floor = self.thresholds.detection_floor(self.params.box_threshold)

            def keeps(name: str, score: float) -> bool:
                return self.thresholds.keeps(name, score, self.params.box_threshold)

        else:
            # The detector keeps scores strictly above its threshold (compared in float32); CVAT
            # wants >= conf_threshold: run a hair lower, cut exactly below.
            floor = max(0.0, conf_threshold - FLOAT32_MARGIN)

            def keeps(name: str, score: float) -> bool:
                own = self.thresholds.set().get(name)
                return score >= conf_threshold and (own is None or score >= own)

        result = self.result(image, floor)
        if not result.ok:
            raise frame_error(result)
        masks = result.masks or [None] * len(result.boxes)
        kept = [
            Kept(class_id, box, float(score), mask)
            for box, score, name, class_id, mask in zip(
                result.boxes, result.scores, result.labels, result.class_ids, masks, strict=True
            )
            if keeps(name, score)
        ]
        kept.sort(key=lambda k: -k.score)
        if self.params.max_detections is not None:
            kept = kept[: self.params.max_detections]
        return kept


def frame_error(result: DetectionResult) -> RuntimeError:
    """A frame the detector could not read: CVAT's driver stops the task with this message."""
    return RuntimeError(f"groundlabel could not run on this frame: {result.error}")
