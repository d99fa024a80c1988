"""SAM's relative-position bias folded into q and k (CPU bf16 autocast only): the same attention."""

from __future__ import annotations

import pytest
import torch

from groundlabel.inference.rel_pos_attention import MIN_TOKENS, fold_rel_pos_attention, folded_attention


def _attention(side: int):
    from transformers import SamVisionConfig
    from transformers.models.sam.modeling_sam import SamVisionSdpaAttention

    config = SamVisionConfig(hidden_size=64, num_attention_heads=4, image_size=side * 16, patch_size=16)
    config._attn_implementation = "sdpa"
    torch.manual_seed(0)
    module = SamVisionSdpaAttention(config, window_size=0).eval()
    torch.nn.init.normal_(module.rel_pos_h, std=0.5)  # a bias that matters (zeros at init)
    torch.nn.init.normal_(module.rel_pos_w, std=0.5)
    return module


def test_the_folded_bias_gives_the_reference_attention_in_fp32():
    module = _attention(32)
    x = torch.randn(2, 32, 32, 64)
    with torch.no_grad():
        reference = module(x)[0]
        folded = folded_attention(module, x)
    assert torch.allclose(folded, reference, atol=1e-5)
    # The bias is not negligible here: leaving it out moves the output far more than that.
    with torch.no_grad():
        module.use_rel_pos = False
        assert (module(x)[0] - reference).abs().max() > 1e-2


def test_folding_acts_only_under_cpu_autocast_and_on_global_blocks():
    module = _attention(32)
    assert fold_rel_pos_attention(torch.nn.Sequential(module)) == 1
    x = torch.randn(1, 32, 32, 64)
    small = torch.randn(1, 8, 8, 64)
    assert 32 * 32 >= MIN_TOKENS > 8 * 8
    calls = []
    import groundlabel.inference.rel_pos_attention as rel_pos

    original = rel_pos.folded_attention
    rel_pos.folded_attention = lambda m, h: calls.append(h.shape) or original(m, h)
    try:
        with torch.no_grad():
            fp32 = module(x)[0]
            assert calls == []  # fp32: transformers' own path, untouched
            reference = type(module).forward(module, x)[0]
            assert torch.equal(fp32, reference)
            with torch.autocast("cpu", dtype=torch.bfloat16):
                bf16 = module(x)[0]
                module(small)
    finally:
        rel_pos.folded_attention = original
    assert calls == [torch.Size([1, 32, 32, 64])]  # the global block only, not the small window
    assert bf16.dtype == torch.bfloat16
    assert (bf16.float() - fp32).abs().max() < 0.05 * fp32.abs().max()


@pytest.mark.parametrize("family", ["sam", "sam_hq"])
def test_a_loaded_bf16_segmenter_folds_its_global_attention(family, tmp_path, monkeypatch):
    from groundlabel import precision
    from groundlabel.devtools.random_segmenters import save_random_segmenter
    from groundlabel.precision import CpuPrecision
    from groundlabel.segmenters import load_segmenter

    # Whatever CPU runs the test, take it for one with bf16 units (autocast runs anywhere).
    monkeypatch.setattr(precision, "cpu_precision", lambda: CpuPrecision("AVX512", ("avx512_bf16",)))

    saved = str(save_random_segmenter(family, tmp_path))
    bf16 = load_segmenter(saved, device="cpu", dtype="bf16")
    fp32 = load_segmenter(saved, device="cpu", dtype="fp32")
    assert sum("forward" in vars(m) for m in bf16.model.modules()) > 0
    assert sum("forward" in vars(m) for m in fp32.model.modules()) == 0
