"""``detect --masks [MODEL]``: every detected box refined into a mask by a SAM-family model.

Any detector family's boxes go through ``segmenters.refine.add_masks`` (one image embedding
per image, one mask per box, the segmenter's score kept) into ``DetectionResult.masks``;
the writers put them out (``formats.coco``: ``segmentation`` as compressed RLE, ``area``
the mask's, ``mask_score``; the JSON Lines shards of ``-o DIR/`` carry them too). With
``--into-project`` the new boxes get masks in the project (as ``groundlabel segment
--boxes all`` would give them). With ``--ray`` each actor loads the segmenter too and
refines its own results from the bytes it already holds (``distributed.detect_pipeline``).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from groundlabel.detector import DetectionResult
    from groundlabel.segmenters.base import Segmenter


def add_masks_option(parser: argparse.ArgumentParser) -> None:
    from groundlabel.model_catalog import DEFAULT_SEGMENTER

    parser.add_argument(
        "--masks",
        nargs="?",
        const=DEFAULT_SEGMENTER,
        default=None,
        metavar="MODEL",
        help="also a mask per box from a SAM, SAM-HQ or SAM 2.1 checkpoint (hub id or directory; "
        f"--masks alone uses {DEFAULT_SEGMENTER})",
    )


def refuse_unsupported(args: argparse.Namespace) -> None:
    """The paths that cannot carry masks yet say so before any model loads (none today: Ray does)."""


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
