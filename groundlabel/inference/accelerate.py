"""Swap the slow parts of one loaded Grounding DINO for numerically equivalent ones.

Only the given model instance changes (its child modules and bound methods); the
transformers classes stay untouched, so a reference model in the same process still
runs the model card's code. Every replacement computes the same function with the
floating-point additions in another order; ``tests/test_fast_inference.py`` holds
them to the reference within 1e-4 and the benchmark prints the measured drift.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import torch
from torch import nn

from groundlabel.inference.allocator import tune_allocator
from groundlabel.inference.deformable import LeanDeformableSampling
from groundlabel.inference.ffn import patch_deformable_layer
from groundlabel.inference.fusion import patch_fusion
from groundlabel.inference.text_cache import TextFeatureCache

log = logging.getLogger(__name__)


@dataclass
class Acceleration:
    """What ``accelerate`` changed, for logs and the benchmark."""

    deformable: int = 0
    fusion: int = 0
    feed_forward: int = 0
    allocator: bool = False
    text_cache: TextFeatureCache | None = None
    notes: list[str] = field(default_factory=list)

    def describe(self) -> str:
        parts = [
            f"deformable sampling x{self.deformable}",
            f"fusion attention x{self.fusion}",
            f"feed-forward x{self.feed_forward}",
        ]
        if self.text_cache is not None:
            parts.append("text-encoder cache")
        if self.allocator:
            parts.append("malloc thresholds raised (process-wide)")
        return ", ".join(parts) + ("; " + "; ".join(self.notes) if self.notes else "")


def accelerate(
    model: nn.Module,
    *,
    deformable: bool = True,
    native: bool = True,
    fusion: bool = True,
    feed_forward: bool = True,
    text_cache: bool = True,
    allocator: bool = True,
) -> Acceleration:
    """Patch ``model`` (a GroundingDinoForObjectDetection) in place for faster CPU inference.

    The deformable-sampling replacement only applies to fp32 on CPU (elsewhere the
    module falls back to the original code at call time); the fusion regrouping and
    the text cache are device-independent. ``allocator`` raises glibc's malloc
    thresholds for the whole process (see ``allocator``); pass False where that is unwanted.
    """
    from transformers.models.grounding_dino import modeling_grounding_dino as gd
    from transformers.models.mm_grounding_dino import modeling_mm_grounding_dino as mm

    # MM Grounding DINO's modules are transformers' copies of Grounding DINO's (same code,
    # other class names); tests/test_families.py holds the patched MM model to the reference.
    sampling = (
        gd.GroundingDinoMultiscaleDeformableAttention,
        mm.MMGroundingDinoMultiscaleDeformableAttention,
    )
    fusions = (gd.GroundingDinoBiMultiHeadAttention, mm.MMGroundingDinoBiMultiHeadAttention)
    layers = (gd.GroundingDinoDeformableLayer, mm.MMGroundingDinoDeformableLayer)
    done = Acceleration()
    for module in model.modules():
        if deformable and isinstance(module, sampling):
            module.attn = _DeviceAwareSampling(module.attn, native)
            done.deformable += 1
        elif fusion and isinstance(module, fusions):
            patch_fusion(module)
            done.fusion += 1
        elif feed_forward and isinstance(module, layers):
            done.feed_forward += int(patch_deformable_layer(module))
    first = next(model.parameters(), None)
    if (
        done.deformable
        and native
        and first is not None
        and (first.device.type, first.dtype) == ("cpu", torch.float32)
    ):
        # Build or load the compiled kernel while the model loads, so the first detection (a Label
        # Studio /predict with its time budget, say) does not pay for a compile of up to a minute.
        from groundlabel.inference.native import load_kernel

        load_kernel()
    inner = getattr(model, "model", model)
    if text_cache and hasattr(inner, "text_backbone"):
        done.text_cache = TextFeatureCache.install(inner)
    if allocator:
        done.allocator = tune_allocator()
    log.info("accelerated: %s", done.describe())
    return done


class _DeviceAwareSampling(nn.Module):
    """The lean sampling for fp32 CPU tensors, the original module for anything else."""

    def __init__(self, original: nn.Module, native: bool) -> None:
        super().__init__()
        self.original = original
        self.lean = LeanDeformableSampling(use_native=native)

    def forward(self, value: torch.Tensor, *args, **kwargs) -> torch.Tensor:
        if value.device.type == "cpu" and value.dtype == torch.float32 and not torch.is_grad_enabled():
            return self.lean(value, *args, **kwargs)
        return self.original(value, *args, **kwargs)
