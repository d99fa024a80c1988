"""Reuse the text encoder's output across images that share a prompt.

Grounding DINO runs BERT on the prompt for every image although, in a pre-labelling
job, the prompt rarely changes. BERT sees each batch row on its own (its attention
mask is per row), so a row's output depends only on that row's token ids, masks and
positions: caching per row by those exact values returns the very same tensor the
encoder would compute. The cache is small and bounded so memory stays flat.
"""

from __future__ import annotations

import types
from collections import OrderedDict
from typing import Any

import torch
from torch import nn

MAX_ENTRIES = 32


class TextFeatureCache:
    """A bounded per-row cache wrapped around one model's ``text_backbone.forward``."""

    def __init__(self, backbone: nn.Module, max_entries: int = MAX_ENTRIES) -> None:
        self.backbone = backbone
        self.original = backbone.forward
        self.max_entries = max_entries
        self.entries: OrderedDict[bytes, torch.Tensor] = OrderedDict()
        self.hits = 0
        self.misses = 0

    @classmethod
    def install(cls, grounding_model: nn.Module) -> TextFeatureCache:
        cache = cls(grounding_model.text_backbone)
        cache.backbone.forward = types.MethodType(cache._forward, cache.backbone)
        return cache

    @staticmethod
    def _row_key(row: int, tensors: list[torch.Tensor | None]) -> bytes:
        parts = []
        for tensor in tensors:
            if tensor is None:
                parts.append(b"-")
            else:
                item = tensor[row].detach().cpu().contiguous()
                parts.append(str((item.dtype, tuple(item.shape))).encode() + item.numpy().tobytes())
        return b"|".join(parts)

    def _forward(
        self,
        backbone: nn.Module,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        **kwargs: Any,
    ) -> Any:
        cacheable = (
            not torch.is_grad_enabled()
            and input_ids is not None
            and not backbone.training
            and not kwargs.get("output_attentions")
            and not kwargs.get("output_hidden_states")
            and set(kwargs) <= {"return_dict", "output_attentions", "output_hidden_states"}
        )
        if not cacheable:
            return self.original(input_ids, attention_mask, token_type_ids, position_ids, **kwargs)
        tensors = [input_ids, attention_mask, token_type_ids, position_ids]
        keys = [self._row_key(i, tensors) for i in range(input_ids.shape[0])]
        if all(key in self.entries for key in keys):
            self.hits += len(keys)
            for key in keys:
                self.entries.move_to_end(key)
            hidden = torch.stack([self.entries[key] for key in keys])
        else:
            self.misses += len(keys)
            outputs = self.original(input_ids, attention_mask, token_type_ids, position_ids, **kwargs)
            hidden = outputs[0]
            for key, row in zip(keys, hidden, strict=True):
                self.entries[key] = row.detach().clone()
                self.entries.move_to_end(key)
            while len(self.entries) > self.max_entries:
                self.entries.popitem(last=False)
            return outputs
        if kwargs.get("return_dict", True) is False:
            return (hidden,)
        from transformers.modeling_outputs import BaseModelOutputWithPoolingAndCrossAttentions

        return BaseModelOutputWithPoolingAndCrossAttentions(last_hidden_state=hidden)
