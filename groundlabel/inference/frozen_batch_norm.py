"""Frozen batch norms that keep their input's dtype under CPU bf16 autocast.

RT-DETRv2's and D-FINE's ResNet backbones replace every ``BatchNorm2d`` with transformers'
``*FrozenBatchNorm2d`` (``freeze_backbone_batch_norms``, on by default). Its forward is
``x * scale + bias`` with float32 buffers, so under autocast each bf16 convolution output is
promoted to float32, the residual adds and ReLUs run in float32 on the largest maps of the
network, and the next convolution casts the map back to bf16. A trainable ``BatchNorm2d`` under
the same autocast returns its input's dtype (torch's batch norm takes bf16 input with float32
statistics), so here the frozen one does too: the affine is folded into one ``scale`` and
``bias`` in float32, cast to the input's dtype, and applied in one ``addcmul``.

Bound per instance and used only under CPU autocast (as ``hiera_attention`` is), so fp32 and
CUDA keep transformers' path; in fp32 it equals it (``tests/test_frozen_batch_norm.py``).
"""

from __future__ import annotations

import types
from typing import Any

import torch
from torch import nn

from groundlabel.inference.fp32_islands import under_cpu_autocast

#: transformers' frozen batch norms, one per model family that has a ResNet-like backbone.
FROZEN_BATCH_NORM_SUFFIX = "FrozenBatchNorm2d"
EPSILON = 1e-5  # what transformers' frozen batch norms add to the running variance


def frozen_batch_norm(self: Any, x: torch.Tensor) -> torch.Tensor:
    """``FrozenBatchNorm2d.forward`` with the affine folded in float32 and applied in x's dtype."""
    scale = self.weight * (self.running_var + EPSILON).rsqrt()
    bias = self.bias - self.running_mean * scale
    shape = (1, -1, 1, 1)
    return torch.addcmul(bias.to(x.dtype).reshape(shape), x, scale.to(x.dtype).reshape(shape))


def _forward(self: Any, x: torch.Tensor) -> torch.Tensor:
    if under_cpu_autocast(x):
        return frozen_batch_norm(self, x)
    return type(self).forward(self, x)


def keep_frozen_batch_norm_dtype(model: nn.Module) -> int:
    """Make every frozen batch norm of ``model`` return its input's dtype under CPU autocast;
    returns how many. Bound per instance, so the class (and any other model) keeps the reference."""
    count = 0
    for module in model.modules():
        if type(module).__name__.endswith(FROZEN_BATCH_NORM_SUFFIX) and hasattr(module, "running_var"):
            module.forward = types.MethodType(_forward, module)
            count += 1
    return count
