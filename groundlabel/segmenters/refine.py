"""Any detector's boxes refined into masks: one image embedding, one mask per box.

This is what ``detect --masks MODEL`` and ``groundlabel segment`` run per image. The costly
vision pass happens once per image whatever its number of boxes; each box then costs only
the segmenter's prompt encoder and mask decoder. Masks go out as COCO RLE
(``groundlabel.masks``), in pixels of the image as shown, with the segmenter's score.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from PIL import Image

from groundlabel import masks as mask_codec
from groundlabel.detector import DetectionResult
from groundlabel.segmenters.base import XYXY, Segmenter


def masks_for_image(
    segmenter: Segmenter, image: Image.Image, boxes: Sequence[XYXY]
) -> tuple[list[dict], list[float]]:
    """(RLE masks, scores) for ``boxes`` on ``image``; no vision pass when there are no boxes."""
    if not boxes:
        return [], []
    embedding = segmenter.embed(image)
    proposals = segmenter.masks_for_boxes(embedding, [tuple(float(v) for v in b) for b in boxes])
    return [mask_codec.encode(p.mask) for p in proposals], [float(p.score) for p in proposals]


def add_masks(segmenter: Segmenter, image: Image.Image, result: DetectionResult) -> DetectionResult:
    """``result`` with ``masks``/``mask_scores`` filled, one per box (a failed image passes through).

    ``image`` is the decoded, upright image the boxes were found on; its size must be the
    result's, since masks are in the same pixels as the boxes.
    """
    if not result.ok:
        return result
    if result.image_size and tuple(image.size) != tuple(result.image_size):
        raise ValueError(
            f"{result.source}: image is {image.size[0]}x{image.size[1]} but its boxes are for "
            f"{result.image_size[0]}x{result.image_size[1]}"
        )
    rles, scores = masks_for_image(segmenter, image, result.boxes)
    return replace(result, masks=list(rles), mask_scores=list(scores))
