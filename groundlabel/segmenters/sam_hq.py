"""SAM-HQ (``SamHQModel`` + ``SamHQProcessor``): SAM with a high-quality output token.

The call is SAM's (``groundlabel.segmenters.sam``: same processor arithmetic, same choice of
one mask per prompt); what differs is the image embedding: SAM-HQ's decoder also reads the
vision encoder's early ("intermediate") features, so ``embed`` keeps both and every prompt
passes them back (``image_embeddings=`` and ``intermediate_embeddings=``). ``hq_token_only``
stays at transformers' default (False: SAM's mask plus the HQ token's), as the reference.
"""

from __future__ import annotations

from typing import Any

import torch

from groundlabel.segmenters.sam import SamFeatures, SamSegmenter


class SamHQSegmenter(SamSegmenter):
    """``SamHQModel`` behind the ``Segmenter`` interface."""

    family = "sam_hq"

    def _vision(self, pixel_values: torch.Tensor) -> Any:
        image_embeddings, intermediate = self.model.get_image_embeddings(pixel_values)
        return image_embeddings, list(intermediate)

    def _decoder_inputs(self, features: SamFeatures) -> dict[str, Any]:
        image_embeddings, intermediate = features.image_embeddings
        return {"image_embeddings": image_embeddings, "intermediate_embeddings": intermediate}


def load(model: str, device: str = "auto", dtype: str = "fp32") -> SamHQSegmenter:
    """A SAM-HQ checkpoint (``syscv-community/sam-hq-vit-base`` and the like, or a folder)."""
    from transformers import SamHQModel, SamHQProcessor

    from groundlabel.segmenters.loading import load_checkpoint

    network, processor, resolved_device, torch_dtype, cpu_autocast = load_checkpoint(
        model, SamHQModel, SamHQProcessor, device, dtype
    )
    segmenter = SamHQSegmenter(network, processor, resolved_device, torch_dtype, model)
    segmenter.cpu_autocast = cpu_autocast
    return segmenter
