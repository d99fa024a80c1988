"""The frozen batch norm kept in its input's dtype under CPU bf16 autocast, and the CPU training tuning."""

from __future__ import annotations

import torch
from transformers.models.rt_detr_v2.modeling_rt_detr_v2 import RTDetrV2FrozenBatchNorm2d

from groundlabel.inference.frozen_batch_norm import keep_frozen_batch_norm_dtype
from groundlabel.trainers.cpu_tuning import tune_cpu_training


def _norm(channels: int = 8) -> RTDetrV2FrozenBatchNorm2d:
    generator = torch.Generator().manual_seed(0)
    norm = RTDetrV2FrozenBatchNorm2d(channels)
    norm.weight.copy_(torch.rand(channels, generator=generator) + 0.5)
    norm.bias.copy_(torch.randn(channels, generator=generator))
    norm.running_mean.copy_(torch.randn(channels, generator=generator))
    norm.running_var.copy_(torch.rand(channels, generator=generator) + 0.1)
    return norm


def test_fp32_keeps_the_reference_and_autocast_keeps_bf16() -> None:
    reference, patched = _norm(), _norm()
    assert keep_frozen_batch_norm_dtype(torch.nn.Sequential(patched)) == 1
    x = torch.randn(2, 8, 5, 7, generator=torch.Generator().manual_seed(1))
    assert torch.equal(patched(x), reference(x))  # outside autocast: transformers' own forward
    low = x.to(torch.bfloat16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        promoted, kept = reference(low), patched(low)
    assert promoted.dtype == torch.float32  # what transformers does: fp32 buffers promote the map
    assert kept.dtype == torch.bfloat16
    torch.testing.assert_close(kept.float(), promoted, rtol=2e-2, atol=2e-2)


def test_training_tuning_only_changes_cpu_bf16() -> None:
    fp32_model, bf16_model = torch.nn.Sequential(_norm()), torch.nn.Sequential(_norm())
    assert tune_cpu_training(fp32_model, torch.device("cpu"), "fp32") == torch.preserve_format
    assert "forward" not in vars(fp32_model[0])
    assert tune_cpu_training(bf16_model, torch.device("cpu"), "bf16") == torch.channels_last
    assert "forward" in vars(bf16_model[0])
