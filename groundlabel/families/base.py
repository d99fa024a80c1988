"""What every family adapter provides to the ``Detector``."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from PIL import Image

from groundlabel.inference.fp32_islands import cpu_autocast
from groundlabel.labels import LabelSet, PromptChunk


@dataclass(frozen=True)
class Prompt:
    """One model pass over a part of the label set.

    ``owners`` gives the class index of each prompt position (-1: no class); ``chunk``
    keeps the text and phrase spans (Grounding DINO) and ``queries`` the query texts
    (OWL, OmDet-Turbo); ``embeddings`` holds example-box query embeddings instead of text.
    """

    chunk: PromptChunk
    owners: torch.Tensor
    queries: tuple[str, ...] = ()
    embeddings: torch.Tensor | None = field(default=None, compare=False)


class FamilyAdapter:
    """Runs one family's processor and model; the ``Detector`` does the rest.

    ``forward`` returns (logits, boxes): logits (batch, predictions, positions) whose
    sigmoid is the reference probability, boxes (batch, predictions, 4) as normalised
    cx, cy, w, h in the frame ``box_frame`` gives in pixels.
    """

    #: whether groundlabel.inference's exact CPU fast paths apply to this family.
    fast_paths = False
    #: whether the family can detect from example boxes (``Detector.detect_like``).
    supports_exemplars = False
    #: whether the adapter makes ``DetectionResult``s itself (``detect_batch``): SAM 3, whose
    #: passes give boxes, masks and scores with no class logits to share the ``Detector``'s rule.
    owns_postprocessing = False
    #: whether its results carry a mask per box.
    makes_masks = False
    #: modules kept in fp32 under CPU bf16 autocast, by group (``groundlabel.inference.fp32_islands``;
    #: ``benchmarks/bf16_agreement.py`` measures the agreement with and without each group).
    fp32_island_groups: ClassVar[dict[str, tuple[str, ...]]] = {}
    #: the groups kept in fp32 when this family runs under CPU bf16 autocast.
    fp32_groups_kept: tuple[str, ...] = ()

    def __init__(self, model: torch.nn.Module, processor: Any, device: torch.device, dtype: torch.dtype):
        self.model = model
        self.processor = processor
        self.device = device
        self.dtype = dtype
        self.model_type = str(getattr(model.config, "model_type", ""))
        #: set by the ``Detector`` when the model was loaded for CPU bf16 autocast (``--dtype bf16``)
        self.cpu_autocast = False

    def fp32_islands(self, groups: tuple[str, ...] | None = None) -> tuple[str, ...]:
        """The module names kept in fp32: of ``fp32_groups_kept``, or of the ``groups`` given."""
        chosen = self.fp32_groups_kept if groups is None else groups
        return tuple(name for group in chosen for name in self.fp32_island_groups.get(group, ()))

    def compute(self) -> contextlib.AbstractContextManager:
        """What each network call runs in: CPU bf16 autocast when loaded for it, else nothing."""
        return cpu_autocast(self.cpu_autocast)

    @property
    def tokenizer(self) -> Any:
        return self.processor.tokenizer

    def prompts(self, labels: LabelSet) -> list[Prompt]:
        raise NotImplementedError

    def pixels(self, images: list[Image.Image]) -> dict[str, torch.Tensor]:
        """The processor's image half, as ``processor(images=...)`` computes it."""
        return dict(self.processor.image_processor(images=images, return_tensors="pt"))

    def forward(self, pixels: dict[str, torch.Tensor], prompt: Prompt) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def box_frame(self, size: tuple[int, int]) -> tuple[int, int]:
        """(width, height) in pixels that the normalised boxes refer to; the image itself by default."""
        return size

    def _to_device(self, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        moved = {k: v.to(self.device) for k, v in inputs.items()}
        if "pixel_values" in moved:
            moved["pixel_values"] = moved["pixel_values"].to(self.dtype)
        return moved
