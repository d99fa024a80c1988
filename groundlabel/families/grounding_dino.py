"""Grounding DINO and MM Grounding DINO (LLMDet checkpoints included).

Both read one text prompt ``"cat. remote. tv remote."`` of at most ``max_text_len``
tokens with a BERT tokenizer and return per-token logits; the reference
post-processing (``post_process_grounded_object_detection``) is the same for both, so
one adapter serves both. The text half of the processor runs once per prompt and is
reused across images.
"""

from __future__ import annotations

from typing import ClassVar

import torch

from groundlabel.families.base import FamilyAdapter, Prompt
from groundlabel.label_assignment import token_owners
from groundlabel.labels import LabelSet, build_prompts


class GroundingDinoAdapter(FamilyAdapter):
    fast_paths = True
    fp32_island_groups: ClassVar[dict[str, tuple[str, ...]]] = {
        # box regression (both stages) and the contrastive class logits: what the user sees
        "heads": ("bbox_embed", "encoder_output_bbox_embed", "class_embed", "encoder_output_class_embed"),
        # deformable attention: where to sample and with what weight, and the sampling itself
        "sampling": ("sampling_offsets", "attention_weights", "self_attn.attn", "encoder_attn.attn"),
    }
    fp32_groups_kept = ("heads", "sampling")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.max_text_len = int(getattr(self.model.config, "max_text_len", 256))
        # The fast paths patch Grounding DINO's modules and MM Grounding DINO's copies of
        # them; tests/test_families.py holds both to the reference within 1e-4.
        self.fast_paths = True
        self._text_inputs_cache: dict[tuple[str, int], dict[str, torch.Tensor]] = {}

    def prompts(self, labels: LabelSet) -> list[Prompt]:
        prepared = []
        for chunk in build_prompts(labels, self._count_tokens, self.max_text_len):
            encoded = self.tokenizer(chunk.text, return_offsets_mapping=True)
            prepared.append(Prompt(chunk, token_owners(encoded["offset_mapping"], chunk.spans)))
        return prepared

    def _count_tokens(self, phrase: str) -> int:
        return len(self.tokenizer(phrase, add_special_tokens=False)["input_ids"])

    def text_inputs(self, text: str, count: int) -> dict[str, torch.Tensor]:
        """The processor's text half for ``count`` copies of ``text``, computed once per prompt."""
        key = (text, count)
        if key not in self._text_inputs_cache:
            if len(self._text_inputs_cache) > 64:
                self._text_inputs_cache.clear()
            encoded = self.processor(text=[text] * count, return_tensors="pt")
            self._text_inputs_cache[key] = {k: v for k, v in encoded.items() if k != "pixel_values"}
        return self._text_inputs_cache[key]

    @torch.inference_mode()
    def forward(self, pixels: dict[str, torch.Tensor], prompt: Prompt) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits (B, Q, max_text_len) and boxes cxcywh, on exactly the processor's inputs."""
        count = int(pixels["pixel_values"].shape[0])
        inputs = self._to_device({**self.text_inputs(prompt.chunk.text, count), **pixels})
        with self.compute():
            outputs = self.model(**inputs)
        return outputs.logits.float().cpu(), outputs.pred_boxes.float().cpu()


ADAPTER = GroundingDinoAdapter
