"""SAM 2.1's Hiera under CPU bf16 autocast: no work whose result is thrown away, one dtype in its trunk.

transformers' ``Sam2MultiScaleAttention.forward`` first computes ``(query * scale) @ key.T`` over
the *heads* axis and a float32 softmax of it, a result nothing reads (the attention itself is
``scaled_dot_product_attention`` below it). At Hiera's first stage that is 65,536 windows' worth
of tiny batched matmuls and a bf16 -> fp32 -> bf16 round trip, which under bf16 autocast costs
about what the real attention does. Here the same attention is computed directly: ``qkv``
split into (batch, heads, tokens, head dim), the query max-pooled on its grid when the block
changes stage (max pooling is per channel, so pooling before or after the split is the same),
one ``scaled_dot_product_attention`` call, the output projection.

Second, the residual stream. Under autocast the patch embedding's bf16 output plus the fp32
position embedding makes the first stage's stream fp32, while every later stage's is bf16 already
(the stage change's projection is a bf16 linear). So the first stage, at 256 x 256 tokens the
largest, adds, normalises and window-copies fp32 and casts before each linear. Casting the
stream to bf16 at the first block makes the whole trunk bf16, as the later stages are; the masks
agree with fp32 as closely as before (``benchmarks/mask_bf16.py``: IoU 0.99 either way).

Used only under CPU autocast (as ``rel_pos_attention`` is for SAM), so fp32 keeps transformers'
path; in fp32 the attention agrees with it to 1e-5 (``tests/test_hiera_attention.py``).
"""

from __future__ import annotations

import types
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from groundlabel.inference.fp32_islands import under_cpu_autocast

#: The Hiera attention classes whose forward is rebound (SAM 2 / 2.1; the video model reuses it).
ATTENTION_CLASSES = frozenset({"Sam2MultiScaleAttention"})
#: The Hiera trunks whose first block casts the residual stream to bf16 under CPU autocast.
TRUNK_CLASSES = frozenset({"Sam2HieraDetModel"})


def hiera_attention(self: Any, hidden_states: torch.Tensor) -> torch.Tensor:
    """What ``Sam2MultiScaleAttention.forward`` returns, computed without its unused weights."""
    batch, height, width, _ = hidden_states.shape
    heads = self.num_attention_heads
    qkv = self.qkv(hidden_states).reshape(batch, height * width, 3, heads, -1)
    query, key, value = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each (batch, heads, tokens, head dim)
    if self.query_stride:
        head_dim = query.shape[-1]
        grid = query.transpose(2, 3).reshape(batch, heads * head_dim, height, width)
        grid = F.max_pool2d(grid, kernel_size=self.query_stride, stride=self.query_stride)
        height, width = grid.shape[-2:]
        query = grid.reshape(batch, heads, head_dim, height * width).transpose(2, 3)
    output = F.scaled_dot_product_attention(query, key, value, scale=self.scale)
    output = output.transpose(1, 2).reshape(batch, height, width, -1)
    return self.proj(output)


def _forward(self: Any, hidden_states: torch.Tensor, **kwargs: Any) -> torch.Tensor:
    if under_cpu_autocast(hidden_states):
        return hiera_attention(self, hidden_states)
    return type(self).forward(self, hidden_states, **kwargs)


def _stream_in_bf16(module: nn.Module, args: tuple, kwargs: dict) -> tuple[tuple, dict] | None:
    hidden_states = args[0]
    if under_cpu_autocast(hidden_states):
        return (hidden_states.to(torch.bfloat16), *args[1:]), kwargs
    return None


def lighten_hiera_attention(model: nn.Module) -> int:
    """Make every Hiera attention of ``model`` skip its unused weights, and its trunk's residual
    stream bf16 from the first block, under CPU autocast; returns how many attentions. Bound per
    instance, so the class (and any other loaded model) keeps the reference."""
    count = 0
    for module in model.modules():
        if type(module).__name__ in ATTENTION_CLASSES:
            module.forward = types.MethodType(_forward, module)
            count += 1
        if type(module).__name__ in TRUNK_CLASSES:
            module.blocks[0].register_forward_pre_hook(_stream_in_bf16, with_kwargs=True)
    return count
