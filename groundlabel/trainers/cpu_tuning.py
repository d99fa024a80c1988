"""What makes a training step fast on the CPU, found by profiling one RT-DETRv2 r18vd step.

``python -m benchmarks.train_synthetic --step-share`` and torch's profiler on one step (batch 4
at 640 px, 2 cores with avx512_bf16, no AMX) showed three costs outside the matmuls and convolutions:

- **Page faults.** Each step allocates and frees the same few hundred large maps; glibc hands
  them back to the kernel and every step zero-fills them again page by page. Raising its
  thresholds (``inference.allocator``, as detection does) took the fp32 step from about 7.2 s
  to 5.1 s and the bf16 one from 3.1 s to 2.75 s, with the same numbers computed.
- **Frozen batch norms promoting bf16 to fp32** (``inference.frozen_batch_norm``): under bf16
  autocast the backbone's residual stream ran in fp32 and was cast back before every
  convolution.
- **Memory layout.** oneDNN's bf16 convolutions run faster on channels-last maps; the input batch
  in channels-last makes every convolution after it channels-last too (the weights stay as
  they are, so the saved model does not change).

The first applies to every CPU training; the other two only under CPU bf16 autocast, so an fp32
training computes exactly what it did.
"""

from __future__ import annotations

import torch
from torch import nn

from groundlabel.inference.allocator import tune_allocator
from groundlabel.inference.frozen_batch_norm import keep_frozen_batch_norm_dtype


def tune_cpu_training(model: nn.Module, device: torch.device, dtype: str) -> torch.memory_format:
    """Apply what makes ``model``'s training fast on the CPU; returns the memory format its input
    batches are moved to the device in (channels-last under CPU bf16). ``dtype`` is ``TrainOptions.dtype``: on the CPU, ``bf16`` means bf16
    autocast (``precision.training_autocast`` has refused it already where the CPU lacks it)."""
    if device.type != "cpu":
        return torch.preserve_format
    tune_allocator()
    if dtype != "bf16":
        return torch.preserve_format
    keep_frozen_batch_norm_dtype(model)
    return torch.channels_last
