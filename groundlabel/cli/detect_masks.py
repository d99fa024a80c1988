"""``detect --masks [MODEL]``: every detected box refined into a mask by a SAM-family model.

Any detector family's boxes go through ``segmenters.refine.add_masks`` (one image embedding
per image, one mask per box, the segmenter's score kept). In the COCO output each
annotation gets ``segmentation`` as the compressed COCO RLE (exact pixels, what
pycocotools' ``loadRes``/``annToMask`` and COCO-style evaluators read for predictions),
``area`` as the mask's pixel count (COCO's meaning of ``area`` for an instance with a
segment) and ``mask_score``. With ``--into-project`` the new boxes get masks in the project
(as ``groundlabel segment --boxes all`` would give them).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from groundlabel.errors import GroundlabelError

if TYPE_CHECKING:
    from groundlabel.detector import DetectionResult
    from groundlabel.segmenters.base import Segmenter


def add_masks_option(parser: argparse.ArgumentParser) -> None:
    from groundlabel.segmenters import DEFAULT_SEGMENTER

    parser.add_argument(
        "--masks",
        nargs="?",
        const=DEFAULT_SEGMENTER,
        default=None,
        metavar="MODEL",
        help="also a mask per box from a SAM, SAM-HQ or SAM 2.1 checkpoint (hub id or directory; "
        f"--masks alone uses {DEFAULT_SEGMENTER})",
    )


def refuse_unsupported(args: argparse.Namespace, bulk: bool) -> None:
    """The paths that cannot carry masks yet say so before any model loads."""
    if getattr(args, "masks", None) and bulk:
        raise GroundlabelError(
            "--masks runs in one process for now: leave out --ray/--resume and write -o FILE.json"
        )


class MaskRefiner:
    """Adds masks to detection results, decoding each image again (the detector does not keep it)."""

    def __init__(self, segmenter: Segmenter) -> None:
        self.segmenter = segmenter

    @classmethod
    def load(cls, args: argparse.Namespace) -> MaskRefiner | None:
        if not getattr(args, "masks", None):
            return None
        from groundlabel.segmenters import load_segmenter

        return cls(load_segmenter(args.masks, device=args.device, dtype=args.dtype))

    def refine(self, result: DetectionResult) -> DetectionResult:
        from groundlabel.errors import ImageLoadError
        from groundlabel.images import load_image
        from groundlabel.segmenters.refine import add_masks

        if not result.ok or not result.boxes:
            return result
        try:
            image = load_image(result.source)
        except ImageLoadError as exc:  # gone between detection and now
            from dataclasses import replace

            return replace(result, boxes=[], scores=[], labels=[], class_ids=[], error=exc.reason)
        return add_masks(self.segmenter, image, result)


def add_segmentation(document: dict[str, Any], per_image: Sequence[DetectionResult]) -> dict[str, Any]:
    """Put each box's mask into its COCO annotation (``build_coco`` keeps boxes in result order)."""
    from groundlabel import masks as mask_codec

    by_image: dict[int, list[dict[str, Any]]] = {}
    for annotation in document["annotations"]:
        by_image.setdefault(annotation["image_id"], []).append(annotation)
    for image_id, result in enumerate(per_image, start=1):
        annotations = by_image.get(image_id, [])
        if not result.masks:
            continue
        for annotation, rle, score in zip(annotations, result.masks, result.mask_scores, strict=True):
            if rle is None:
                continue
            annotation["segmentation"] = mask_codec.normalise(rle)
            annotation["area"] = float(mask_codec.area(rle))
            if score is not None:
                annotation["mask_score"] = float(score)
    return document
