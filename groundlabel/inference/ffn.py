"""The encoder's feed-forward block without a fresh 160 MB buffer per layer.

At the default size each of the six encoder layers expands ~20k tokens to 2048
channels. A fresh tensor that large is served by ``mmap`` and zero-filled page by page
on first touch, which on CPU costs about as much as the ReLU itself; the reference
then allocates a second one for the ReLU output. Here the first linear writes into a
per-thread workspace reused across layers and images, and the ReLU runs in place. The
arithmetic is ``nn.Linear``'s own (``addmm`` with the bias), so results are identical.
"""

from __future__ import annotations

import threading
import types
from typing import Any

import torch
from torch import nn

_local = threading.local()


def _workspace(rows: int, cols: int, like: torch.Tensor) -> torch.Tensor:
    """A (rows, cols) scratch tensor, reused while shape, dtype and device match."""
    buffer = getattr(_local, "buffer", None)
    needed = rows * cols
    if (
        buffer is None
        or buffer.numel() < needed
        or buffer.dtype != like.dtype
        or buffer.device != like.device
    ):
        buffer = torch.empty(needed, dtype=like.dtype, device=like.device)
        _local.buffer = buffer
    return buffer[:needed].view(rows, cols)


def release_workspace() -> None:
    """Drop this thread's scratch buffer (for callers that want the memory back)."""
    _local.buffer = None


def lean_ffn(layer: nn.Module, hidden_states: torch.Tensor) -> torch.Tensor:
    """``fc2(relu(fc1(x)))`` for a ``GroundingDinoDeformableLayer``, through the workspace."""
    shape = hidden_states.shape
    flat = hidden_states.reshape(-1, shape[-1])
    inner = _workspace(flat.shape[0], layer.fc1.out_features, flat)
    torch.addmm(layer.fc1.bias, flat, layer.fc1.weight.t(), out=inner)
    inner.relu_()
    out = torch.addmm(layer.fc2.bias, inner, layer.fc2.weight.t())
    return out.view(*shape[:-1], layer.fc2.out_features)


def patched_deformable_layer_forward(
    self: nn.Module,
    hidden_states: torch.Tensor,
    attention_mask: torch.Tensor,
    position_embeddings: torch.Tensor | None = None,
    reference_points: torch.Tensor | None = None,
    spatial_shapes: torch.Tensor | None = None,
    spatial_shapes_list: list[tuple[int, int]] | None = None,
    level_start_index: torch.Tensor | None = None,
    output_attentions: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``GroundingDinoDeformableLayer.forward`` in eval mode with the lean feed-forward."""
    residual = hidden_states
    hidden_states, attn_weights = self.self_attn(
        hidden_states=hidden_states,
        attention_mask=attention_mask,
        encoder_hidden_states=hidden_states,
        encoder_attention_mask=attention_mask,
        position_embeddings=position_embeddings,
        reference_points=reference_points,
        spatial_shapes=spatial_shapes,
        spatial_shapes_list=spatial_shapes_list,
        level_start_index=level_start_index,
        output_attentions=output_attentions,
    )
    hidden_states = residual + hidden_states
    hidden_states = self.self_attn_layer_norm(hidden_states)
    residual = hidden_states
    hidden_states = lean_ffn(self, hidden_states)
    hidden_states = residual + hidden_states
    hidden_states = self.final_layer_norm(hidden_states)
    return hidden_states, attn_weights


def patch_deformable_layer(layer: nn.Module) -> bool:
    """Use the lean feed-forward in one encoder layer; only for ReLU layers, eval, no grad."""
    if not isinstance(layer.activation_fn, nn.ReLU) or not isinstance(layer.fc1, nn.Linear):
        return False
    original = layer.forward

    def forward(self: nn.Module, *args: Any, **kwargs: Any) -> Any:
        if self.training or torch.is_grad_enabled() or self.fc1.bias is None:
            return original(*args, **kwargs)
        return patched_deformable_layer_forward(self, *args, **kwargs)

    layer.forward = types.MethodType(forward, layer)
    return True
