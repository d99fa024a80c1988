"""Mask models (segmenters): a box, or points, on an image in; a mask out.

One adapter per model family, as ``groundlabel.families`` keeps one per detector family,
chosen from the checkpoint's ``config.model_type``. Each adapter reproduces its
transformers reference path (processor, model, ``post_process_masks``) so masks equal it;
what groundlabel adds is around it: the image embedding computed once per image for all of
its boxes (and cached by front ends for point edits), one mask per box, RLE out.
"""

from __future__ import annotations

from groundlabel.model_catalog import DEFAULT_SEGMENTER  # the value lives there: a light import
from groundlabel.segmenters.base import ImageEmbedding, MaskProposal, Segmenter, load_segmenter

#: The mask model ``detect --masks`` and ``segment`` use when none is named. SAM 2.1 tiny over
#: SAM ViT-B: the same licence (Apache-2.0, ungated), a third of the parameters (31 M vs 94 M
#: in transformers' image models), an image encoder about 3.1x faster on CPU
#: (``benchmarks.box_to_mask``), and SAM 2 is the newer, more accurate model per its paper.

#: model_type in config.json -> adapter module in this package.
SEGMENTER_FAMILIES: dict[str, str] = {
    "sam": "sam",
    "sam_hq": "sam_hq",
    "sam2": "sam2",
}

__all__ = [
    "DEFAULT_SEGMENTER",
    "SEGMENTER_FAMILIES",
    "ImageEmbedding",
    "MaskProposal",
    "Segmenter",
    "load_segmenter",
]
