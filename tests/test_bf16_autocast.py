"""CPU bf16 autocast (``--dtype bf16``): the matmuls run in bf16, the family's fp32 islands (box
and score heads, deformable sampling) really run in fp32, fp32 runs are untouched, and what
cannot run here is refused in one line. The agreement of bf16 with fp32 on trained weights is a
benchmark (benchmarks/bf16_agreement.py), not a test: it needs a trained model."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from groundlabel import Detector
from groundlabel.errors import ModelLoadError
from groundlabel.inference.fp32_islands import matches
from groundlabel.labels import LabelSet
from groundlabel.precision import CpuPrecision, choose_precision


@pytest.fixture
def photo() -> Image.Image:
    return Image.new("RGB", (160, 120), (90, 160, 30))


def _output_dtypes(model: torch.nn.Module, islands: tuple[str, ...]) -> tuple[set, set]:
    """Hooks on every Linear: (dtypes out of island Linears, dtypes out of the others)."""
    inside: set = set()
    outside: set = set()
    for path, module in model.named_modules():
        if isinstance(module, torch.nn.Linear):
            into = inside if matches(path, islands) else outside
            module.register_forward_hook(lambda m, i, o, into=into: into.add(o.dtype))
    return inside, outside


@pytest.mark.parametrize("which", ["grounding-dino", "owlv2", "rt-detr-v2", "d-fine"])
def test_islands_run_in_fp32_and_the_rest_in_bf16(
    which, tiny_model_dir, family_model, closed_set_model, photo
):
    if which == "grounding-dino":
        folder, labels = tiny_model_dir, "cat, dog"
    elif which == "owlv2":
        folder, labels = family_model("owlv2"), "cat, dog"
    else:
        folder, labels = closed_set_model(which), "square, disc"
    detector = Detector.load(str(folder), device="cpu", dtype="bf16")
    assert detector.loaded.cpu_autocast and detector.loaded.dtype == torch.float32  # fp32 weights
    islands = detector.adapter.fp32_islands()
    assert islands
    inside, outside = _output_dtypes(detector.model, islands)
    (result,) = detector.detect([photo], LabelSet.parse(labels), box_threshold=0.0, text_threshold=0.0)
    assert result.error is None
    assert inside == {torch.float32}, inside
    assert torch.bfloat16 in outside, outside  # autocast really ran the other matmuls in bf16


def test_fp32_runs_are_untouched_by_the_islands(tiny_model_dir, photo):
    """A bf16 load in the same process leaves an fp32 detector's numbers exactly as before."""
    labels = LabelSet.parse("cat, dog")
    before = next(Detector.load(str(tiny_model_dir), device="cpu").detect([photo], labels))
    Detector.load(str(tiny_model_dir), device="cpu", dtype="bf16")
    after = next(Detector.load(str(tiny_model_dir), device="cpu").detect([photo], labels))
    assert (before.boxes, before.scores) == (after.boxes, after.scores)


@pytest.mark.parametrize("family", ["sam", "sam2"])
def test_a_segmenter_embeds_in_bf16_and_decodes_in_fp32(family, segmenter_model, photo):
    from groundlabel.segmenters.base import load_segmenter

    segmenter = load_segmenter(str(segmenter_model(family)), device="cpu", dtype="bf16")
    assert segmenter.cpu_autocast
    seen: dict[str, set] = {"vision": set(), "decoder": set()}
    for path, module in segmenter.model.named_modules():
        if isinstance(module, torch.nn.Linear):
            part = "decoder" if "mask_decoder" in path else "vision" if "vision_encoder" in path else None
            if part:
                module.register_forward_hook(lambda m, i, o, part=part: seen[part].add(o.dtype))
    embedding = segmenter.embed(photo)
    (proposal,) = segmenter.masks_for_boxes(embedding, [(10, 10, 90, 80)])
    assert seen["vision"] == {torch.bfloat16}
    assert seen["decoder"] == {torch.float32}
    assert proposal.mask.shape == (photo.height, photo.width)


def test_the_choice_of_precision(monkeypatch):
    import groundlabel.precision as precision

    assert choose_precision("fp32", "cpu") == precision.Precision("fp32")
    assert choose_precision("bf16", "cuda") == precision.Precision("bf16")  # bf16 weights, as before
    monkeypatch.setattr(precision, "cpu_precision", lambda: CpuPrecision("AVX512", ("avx512_bf16",)))
    assert choose_precision("bf16", "cpu").label == "bf16 autocast"
    monkeypatch.setattr(precision, "AUTO_BF16_FAMILIES", frozenset({"rt_detr_v2"}))
    assert choose_precision("auto", "cpu", "rt_detr_v2").cpu_autocast
    assert not choose_precision("auto", "cpu", "grounding-dino").cpu_autocast
    assert not choose_precision("auto", "cuda", "rt_detr_v2").cpu_autocast
    with pytest.raises(ModelLoadError, match="fp16 needs a CUDA device"):
        choose_precision("fp16", "cpu")
    monkeypatch.setattr(precision, "cpu_precision", lambda: CpuPrecision("DEFAULT", ()))
    assert not choose_precision("auto", "cpu", "rt_detr_v2").cpu_autocast  # no bf16 units: fp32
    with pytest.raises(ModelLoadError, match="needs bf16 matrix units"):
        choose_precision("bf16", "cpu")


def test_the_cli_says_bf16_autocast_in_its_loaded_line(tiny_model_dir, tmp_path, capsys):
    from groundlabel.cli import main

    (tmp_path / "images").mkdir()
    Image.new("RGB", (96, 64)).save(tmp_path / "images" / "small.png")
    argv = ["detect", str(tmp_path / "images"), "--labels", "cat", "--model", str(tiny_model_dir),
            "--device", "cpu", "--dtype", "bf16", "-o", str(tmp_path / "boxes.json")]  # fmt: skip
    assert main(argv) == 0
    assert f"loaded {tiny_model_dir.name} (grounding-dino) on cpu, bf16 autocast" in capsys.readouterr().err


def test_auto_is_the_default_and_picks_bf16_for_sam_on_a_bf16_cpu(
    tiny_model_dir, segmenter_model, tmp_path, capsys, monkeypatch
):
    """Without GROUNDLABEL_DTYPE (the suite sets fp32), --dtype is auto: SAM's line says bf16 autocast
    on a CPU with bf16 units and fp32 elsewhere; Grounding DINO, whose agreement is not shown, stays fp32."""
    from groundlabel.cli import main
    from groundlabel.precision import cpu_precision

    monkeypatch.delenv("GROUNDLABEL_DTYPE")
    (tmp_path / "images").mkdir()
    Image.new("RGB", (96, 64)).save(tmp_path / "images" / "small.png")
    sam = segmenter_model("sam")
    argv = ["detect", str(tmp_path / "images"), "--labels", "cat", "--model", str(tiny_model_dir),
            "--masks", str(sam), "--device", "cpu", "-o", str(tmp_path / "boxes.json")]  # fmt: skip
    assert main(argv) == 0
    err = capsys.readouterr().err
    expected = "bf16 autocast" if cpu_precision().bf16 else "fp32"
    assert f"loaded {sam.name} (sam) on cpu, {expected}" in err
    assert f"loaded {tiny_model_dir.name} (grounding-dino) on cpu, fp32" in err
