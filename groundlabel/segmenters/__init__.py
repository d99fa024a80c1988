"""Mask models (segmenters): a box, or points, on an image in; a mask out.

One adapter per model family, as ``groundlabel.families`` keeps one per detector family,
chosen from the checkpoint's ``config.model_type``. Each adapter reproduces its
transformers reference path (processor, model, ``post_process_masks``) so masks equal it;
what groundlabel adds is around it: the image embedding computed once per image for all of
its boxes (and cached by front ends for point edits), one mask per box, RLE out.
"""

from __future__ import annotations

from groundlabel.segmenters.base import ImageEmbedding, MaskProposal, Segmenter, load_segmenter

#: model_type in config.json -> adapter module in this package.
SEGMENTER_FAMILIES: dict[str, str] = {
    "sam": "sam",
    "sam_hq": "sam_hq",
    "sam2": "sam2",
}

__all__ = ["SEGMENTER_FAMILIES", "ImageEmbedding", "MaskProposal", "Segmenter", "load_segmenter"]
