"""SAM's image-encoder attention under CPU bf16 autocast, without materialising its position bias.

Why: SAM (and SAM-HQ) add a decomposed relative-position bias to every attention score. The
transformers path builds it as a full (heads, N, N) tensor and hands it to
``scaled_dot_product_attention`` as a mask: in a global-attention block of ViT-B at 1024 px,
N = 4096, so 201 M numbers are written and read per block. Profiled on 2 cores in bf16 that
bias costs more than the attention itself (add + copies ~0.4 s of a 0.66 s block; the matmuls
of the whole encoder ~0.3 s), which is why bf16 made the embedding only ~2x faster while the
matmul units are ~4.5x.

The bias is a sum of two small tables, ``bias[q, (kh, kw)] = rel_h[q, kh] + rel_w[q, kw]``, so
it folds into the dot product: append ``rel_h[q]`` and ``rel_w[q]`` to the (pre-scaled) query,
and the one-hot codes of ``kh`` and ``kw`` to the key; then ``q' . k' = scale q . k + bias``,
exactly. The global-attention blocks (windows of ``MIN_TOKENS`` tokens or more) run
with head dim d + H + W on the fused kernel, reading no N x N mask
(the value is zero-padded to that width, as the CPU kernel wants equal head dims). More matmul,
no memory traffic: the trade the bf16 units are made for.

Only under CPU autocast: in fp32 the reference path runs untouched, so fp32 stays equal to
transformers; bf16 is held to fp32 by ``benchmarks/mask_bf16.py`` (mask IoU) and
``tests/test_rel_pos_attention.py``.
"""

from __future__ import annotations

import types
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from groundlabel.inference.fp32_islands import under_cpu_autocast

#: transformers' SAM-family vision attention classes this applies to (by class name).
ATTENTION_CLASSES = ("SamVisionSdpaAttention", "SamHQVisionSdpaAttention")


def folded_attention(module: Any, hidden_states: torch.Tensor) -> torch.Tensor:
    """The module's attention output with the relative-position bias folded into q and k."""
    batch, height, width, _ = hidden_states.shape
    tokens, heads = height * width, module.num_attention_heads
    qkv = module.qkv(hidden_states).reshape(batch, tokens, 3, heads, -1).permute(2, 0, 3, 1, 4)
    query, key, value = qkv.unbind(0)  # (batch, heads, tokens, head_dim)
    head_dim = query.shape[-1]
    table_h = module.get_rel_pos(height, height, module.rel_pos_h)  # (height, height, head_dim)
    table_w = module.get_rel_pos(width, width, module.rel_pos_w)
    grid = query.reshape(batch * heads, height, width, head_dim)
    rel_h = torch.einsum("bhwc,hkc->bhwk", grid, table_h).reshape(batch, heads, tokens, height)
    rel_w = torch.einsum("bhwc,wkc->bhwk", grid, table_w).reshape(batch, heads, tokens, width)
    dtype = rel_h.dtype
    # Key token t = (kh, kw) with t = kh * width + kw: its one-hot row and column codes.
    code_h = torch.eye(height, dtype=dtype, device=query.device).repeat_interleave(width, 0)
    code_w = torch.eye(width, dtype=dtype, device=query.device).repeat(height, 1)
    shape = (batch, heads, tokens)
    query = torch.cat([(query * module.scale).to(dtype), rel_h, rel_w.to(dtype)], -1)
    key = torch.cat([key.to(dtype), code_h.expand(*shape, height), code_w.expand(*shape, width)], -1)
    value = torch.cat([value.to(dtype), value.new_zeros(*shape, height + width, dtype=dtype)], -1)
    out = F.scaled_dot_product_attention(query, key, value, scale=1.0)[..., :head_dim]
    out = out.reshape(batch, heads, height, width, head_dim).permute(0, 2, 3, 1, 4)
    return module.proj(out.reshape(batch, height, width, -1))


#: Fold from this many tokens a window on: below it the bias is small (a 14 x 14 window's is
#: 196 x 196) and the wider head costs more than the bias it saves.
MIN_TOKENS = 1024


def _forward(self: Any, hidden_states: torch.Tensor, output_attentions: bool = False) -> Any:
    tokens = hidden_states.shape[1] * hidden_states.shape[2]
    if self.use_rel_pos and tokens >= MIN_TOKENS and under_cpu_autocast(hidden_states):
        return folded_attention(self, hidden_states), None
    return type(self).forward(self, hidden_states, output_attentions)


def fold_rel_pos_attention(model: nn.Module) -> int:
    """Make every SAM vision attention of ``model`` fold its bias under CPU autocast; returns how many.

    Bound per instance, so the class (and any other loaded model) keeps the reference forward."""
    count = 0
    for module in model.modules():
        if type(module).__name__ in ATTENTION_CLASSES:
            module.forward = types.MethodType(_forward, module)
            count += 1
    return count
