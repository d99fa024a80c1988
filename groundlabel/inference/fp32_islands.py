"""CPU bf16 autocast for inference, with the numerically sensitive modules kept in fp32.

On a CPU with bf16 units (``groundlabel.precision``) the matmuls, convolutions and attention of
a forward pass run several times faster in bf16 (``torch.autocast("cpu", torch.bfloat16)``;
weights stay fp32 and autocast casts them per call). A few small modules decide the numbers a
user sees and cost little: box and score heads (a box regressed in bf16 moves by a pixel or
more on a large image; a logit near the threshold flips), deformable-attention sampling offsets
and weights (a sampling location off by a bf16 ulp samples the wrong pixel) and the sampling
itself. Each family adapter names its own (``FamilyAdapter.fp32_islands``); ``keep_fp32``
wraps those modules so that, under autocast, they take fp32 inputs and run with autocast off.
Which ones are kept was decided by ``benchmarks/bf16_agreement.py`` (box agreement with and
without each group), not by guess.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

#: Containers are never called; their children are.
_CONTAINERS = (nn.ModuleList, nn.ModuleDict, nn.Sequential)


def cpu_autocast(enabled: bool) -> contextlib.AbstractContextManager:
    """The context a network call runs in: bf16 autocast on CPU when ``enabled``, else nothing."""
    return torch.autocast("cpu", dtype=torch.bfloat16) if enabled else contextlib.nullcontext()


def under_cpu_autocast(tensor: torch.Tensor) -> bool:
    """Whether a CPU tensor is being computed under CPU autocast: where the bf16 fast paths
    (``rel_pos_attention``, ``hiera_attention``, ``frozen_batch_norm``) replace transformers'."""
    return torch.is_autocast_enabled("cpu") and tensor.device.type == "cpu"


def _to_fp32(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.float() if value.dtype in (torch.bfloat16, torch.float16) else value
    if isinstance(value, (list, tuple)) and not hasattr(value, "_fields"):
        return type(value)(_to_fp32(item) for item in value)
    if isinstance(value, dict):
        return {key: _to_fp32(item) for key, item in value.items()}
    return value


def matches(path: str, islands: Iterable[str]) -> bool:
    """Whether a module path (``model.decoder.bbox_embed.0``) holds an island name as whole
    components (``bbox_embed``, or a dotted one such as ``encoder_attn.attn``)."""
    padded = f".{path}."
    return any(f".{island}." in padded for island in islands)


def keep_fp32(model: nn.Module, islands: Iterable[str]) -> list[str]:
    """Wrap each module whose path matches ``islands``: under CPU autocast it runs in fp32.

    Idempotent (a wrapped module is not wrapped again); outside autocast the wrapper calls the
    module unchanged, so fp32 runs compute exactly as before. Returns the wrapped paths.
    """
    islands = tuple(islands)
    wrapped = []
    for path, module in model.named_modules():
        if not path or isinstance(module, _CONTAINERS) or not matches(path, islands):
            continue
        if getattr(module, "_groundlabel_fp32_island", False):
            continue
        module.forward = _fp32_forward(module.forward)
        module._groundlabel_fp32_island = True
        wrapped.append(path)
    return wrapped


def _fp32_forward(forward: Any) -> Any:
    @functools.wraps(forward)
    def island(*args: Any, **kwargs: Any) -> Any:
        if not torch.is_autocast_enabled("cpu"):
            return forward(*args, **kwargs)
        with torch.autocast("cpu", enabled=False):
            return forward(*_to_fp32(args), **_to_fp32(kwargs))

    return island


def to_fp32(value: Any) -> Any:
    """bf16/fp16 tensors (also inside tuples, lists and dicts) as fp32: what leaves an autocast
    region (embeddings a cache keeps, features a decoder reads) is fp32 again."""
    return _to_fp32(value)
