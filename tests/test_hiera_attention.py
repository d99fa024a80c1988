"""SAM 2.1's Hiera attention without its unused weights (CPU bf16 autocast only): the same attention."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from groundlabel.inference.hiera_attention import hiera_attention, lighten_hiera_attention

PHOTOS = Path(__file__).resolve().parents[1] / "assets" / "reference" / "photos"


def _attention(query_stride: tuple[int, int] | None, heads: int = 2):
    from transformers import Sam2HieraDetConfig
    from transformers.models.sam2.modeling_sam2 import Sam2MultiScaleAttention

    config = Sam2HieraDetConfig()
    config._attn_implementation = "sdpa"
    torch.manual_seed(0)
    return Sam2MultiScaleAttention(
        config, 32, 64, num_attention_heads=heads, query_stride=query_stride
    ).eval()


@pytest.mark.parametrize("query_stride", [None, (2, 2)])
@pytest.mark.parametrize("batch", [1, 3])
def test_the_light_attention_gives_the_reference_in_fp32(query_stride, batch):
    module = _attention(query_stride)
    x = torch.randn(batch, 8, 6, 32)
    with torch.no_grad():
        reference = module(x)
        light = hiera_attention(module, x)
    assert light.shape == reference.shape == (batch, *((4, 3) if query_stride else (8, 6)), 64)
    assert torch.allclose(light, reference, atol=1e-5)


def test_the_light_path_runs_only_under_cpu_autocast():
    module = _attention(None)
    assert lighten_hiera_attention(torch.nn.Sequential(module)) == 1
    x = torch.randn(2, 8, 8, 32)
    calls = []
    import groundlabel.inference.hiera_attention as hiera

    original = hiera.hiera_attention
    hiera.hiera_attention = lambda m, h: calls.append(h.shape) or original(m, h)
    try:
        with torch.no_grad():
            fp32 = module(x)
            assert calls == []  # fp32: transformers' own path, untouched
            assert torch.equal(fp32, type(module).forward(module, x))
            with torch.autocast("cpu", dtype=torch.bfloat16):
                bf16 = module(x)
    finally:
        hiera.hiera_attention = original
    assert calls == [x.shape]
    assert bf16.dtype == torch.bfloat16
    assert (bf16.float() - fp32).abs().max() < 0.05 * fp32.abs().max()


def test_a_loaded_bf16_sam2_segmenter_lightens_its_attention_and_agrees(tmp_path, monkeypatch):
    from groundlabel import precision
    from groundlabel.devtools.random_segmenters import save_random_segmenter
    from groundlabel.images import load_image
    from groundlabel.precision import CpuPrecision
    from groundlabel.segmenters import load_segmenter

    # Whatever CPU runs the test, take it for one with bf16 units (autocast runs anywhere).
    monkeypatch.setattr(precision, "cpu_precision", lambda: CpuPrecision("AVX512", ("avx512_bf16",)))
    saved = str(save_random_segmenter("sam2", tmp_path))
    bf16 = load_segmenter(saved, device="cpu", dtype="bf16")
    fp32 = load_segmenter(saved, device="cpu", dtype="fp32")
    bound = {type(m).__name__ for m in bf16.model.modules() if "forward" in vars(m)}
    assert bound == {"Sam2MultiScaleAttention"}
    assert not any("forward" in vars(m) for m in fp32.model.modules())
    # The trunk's stream is bf16 from the first block under autocast, and untouched in fp32.
    trunk = next(m for m in bf16.model.modules() if type(m).__name__ == "Sam2HieraDetModel")
    seen = []
    trunk.blocks[0].register_forward_pre_hook(lambda m, args: seen.append(args[0].dtype))
    with torch.inference_mode():
        pixels = torch.rand(1, 3, 64, 64)
        trunk(pixels)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            trunk(pixels)
    assert seen == [torch.float32, torch.bfloat16]
    image = load_image(PHOTOS / "chelsea.png")
    box = (40.0, 40.0, 300.0, 280.0)
    light = bf16.masks_for_boxes(bf16.embed(image), [box])[0].mask
    reference = fp32.masks_for_boxes(fp32.embed(image), [box])[0].mask
    union = (light | reference).sum()
    assert union and (light & reference).sum() / union > 0.95
