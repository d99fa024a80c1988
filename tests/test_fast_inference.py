"""The accelerated inference path equals the transformers reference to 1e-4.

Each replacement is checked against the code it replaces, and the whole accelerated
model against an untouched one on the reference photos, on raw outputs (logits, boxes,
hidden states: random weights saturate the sigmoid, so thresholded boxes alone would
hide drift) and on post-processed boxes and scores. A broken fast path fails here.
"""

from __future__ import annotations

import copy
import time
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForZeroShotObjectDetection, AutoProcessor
from transformers.models.grounding_dino import modeling_grounding_dino as gd

from groundlabel import Detector, LabelSet, load_image
from groundlabel.devtools.random_model import tiny_config
from groundlabel.inference import deformable as deformable_module
from groundlabel.inference.accelerate import accelerate
from groundlabel.inference.deformable import deformable_sample
from groundlabel.inference.fusion import regrouped_forward
from groundlabel.inference.native import load_kernel, native_sample

PHOTOS = Path(__file__).resolve().parents[1] / "assets" / "reference" / "photos"
LABELS = LabelSet.parse("cat, remote control=remote|tv remote, person")
TOLERANCE = 1e-4


def _sampling_case(seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    shapes = [(9, 13), (5, 7), (3, 4)]
    batch, heads, dim, points = 2, 4, 16, 3
    length = sum(h * w for h, w in shapes)
    value = torch.randn(batch, length, heads, dim, generator=generator)
    # some points fall outside the map: padding_mode="zeros" must hold there too
    locations = torch.rand(batch, 50, heads, len(shapes), points, 2, generator=generator) * 1.4 - 0.2
    weights = torch.softmax(torch.randn(batch, 50, heads, len(shapes) * points, generator=generator), -1)
    weights = weights.view(batch, 50, heads, len(shapes), points)
    expected = gd.MultiScaleDeformableAttention()(
        value, torch.tensor(shapes), shapes, None, locations, weights, 64
    )
    return value, shapes, locations, weights, expected


def test_fused_gather_sampling_equals_grid_sample():
    value, shapes, locations, weights, expected = _sampling_case()
    got = deformable_sample(value, shapes, locations, weights)
    assert got.shape == expected.shape
    assert (got - expected).abs().max().item() < 1e-5


def test_native_sampling_equals_grid_sample():
    if load_kernel() is None:
        pytest.skip("no C++ toolchain here: the PyTorch path is used, and tested above")
    value, shapes, locations, weights, expected = _sampling_case(1)
    got = native_sample(value, shapes, locations, weights)
    assert (got - expected).abs().max().item() < 1e-5


def test_regrouped_fusion_attention_equals_the_original():
    torch.manual_seed(0)
    module = gd.GroundingDinoBiMultiHeadAttention(tiny_config()).eval()
    for parameter in module.parameters():
        torch.nn.init.normal_(parameter, std=0.2)
    vision, text = torch.randn(2, 300, 32), torch.randn(2, 11, 32)
    vision_mask = torch.zeros(2, 300, dtype=torch.bool)
    vision_mask[1, 250:] = True
    text_mask = torch.zeros(2, 11, dtype=torch.bool)
    text_mask[0, 8:] = True
    with torch.inference_mode():
        (v_ref, vw_ref), (t_ref, tw_ref) = module(vision, text, vision_mask, text_mask)
        (v_new, vw_new), (t_new, tw_new) = regrouped_forward(module, vision, text, vision_mask, text_mask)
    for ref, new in ((v_ref, v_new), (t_ref, t_new), (vw_ref, vw_new), (tw_ref, tw_new)):
        assert (ref - new).abs().max().item() < 1e-5


@pytest.fixture(scope="module")
def model_pair(tiny_model_dir):
    """An untouched reference model and an accelerated copy, with a random (non-zero) box head."""
    reference = AutoModelForZeroShotObjectDetection.from_pretrained(tiny_model_dir).eval()
    generator = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for head in reference.bbox_embed:
            head.layers[-1].weight.copy_(torch.randn(head.layers[-1].weight.shape, generator=generator) * 0.3)
    fast = copy.deepcopy(reference)
    done = accelerate(fast, allocator=False)
    assert done.deformable and done.fusion and done.feed_forward and done.text_cache is not None
    return AutoProcessor.from_pretrained(tiny_model_dir), reference, fast, done


@pytest.mark.parametrize("native", [True, False], ids=["native-kernel", "pytorch-gather"])
@pytest.mark.parametrize("photo", ["chelsea.png", "astronaut.png"])
def test_accelerated_model_equals_reference(model_pair, photo, native, monkeypatch):
    processor, reference, fast, done = model_pair
    if not native:
        monkeypatch.setattr("groundlabel.inference.native.load_kernel", lambda: None)
    calls = []
    original = deformable_module.deformable_sample
    monkeypatch.setattr(deformable_module, "deformable_sample", lambda *a: calls.append(1) or original(*a))
    image = load_image(PHOTOS / photo)
    inputs = processor(images=[image], text=["cat. remote. tv remote. person."], return_tensors="pt")
    with torch.inference_mode():
        expected = reference(**inputs)
        got = fast(**inputs)
        again = fast(**inputs)  # second pass: text features come from the cache
    assert bool(calls) != native or load_kernel() is None  # the intended sampling path ran
    assert done.text_cache.hits > 0
    finite = torch.isfinite(expected.logits)
    assert torch.equal(finite, torch.isfinite(got.logits))
    assert (expected.logits[finite] - got.logits[finite]).abs().max().item() < TOLERANCE
    assert (expected.pred_boxes - got.pred_boxes).abs().max().item() < TOLERANCE
    for name in ("last_hidden_state", "encoder_last_hidden_state_vision", "encoder_last_hidden_state_text"):
        assert (getattr(expected, name) - getattr(got, name)).abs().max().item() < TOLERANCE, name
    assert torch.equal(got.logits, again.logits)
    post = processor.post_process_grounded_object_detection
    sizes = [(image.height, image.width)]
    ref_post = post(expected, inputs["input_ids"], threshold=0.35, text_threshold=0.25, target_sizes=sizes)[0]
    fast_post = post(got, inputs["input_ids"], threshold=0.35, text_threshold=0.25, target_sizes=sizes)[0]
    assert len(ref_post["scores"]) == len(fast_post["scores"]) > 0
    assert (ref_post["boxes"] - fast_post["boxes"]).abs().max().item() < TOLERANCE * max(image.size)
    assert (ref_post["scores"] - fast_post["scores"]).abs().max().item() < TOLERANCE


def test_fast_detector_equals_reference_detector(tiny_model_dir, photo_dir):
    (photo_dir / "broken.png").write_bytes(b"not an image")
    fast = Detector.load(str(tiny_model_dir), device="cpu")
    plain = Detector.load(str(tiny_model_dir), device="cpu", fast=False)
    assert fast.acceleration is not None and plain.acceleration is None
    for batch_size in (1, 2):
        got = list(fast.detect(photo_dir, LABELS, 0.3, 0.2, batch_size=batch_size))
        expected = list(plain.detect(photo_dir, LABELS, 0.3, 0.2, batch_size=batch_size))
        assert [r.source for r in got] == [r.source for r in expected]
        assert [r.error is None for r in got] == [True, False, True]  # astronaut, broken, chelsea
        for a, b in zip(got, expected, strict=True):
            assert a.labels == b.labels and len(a.boxes) == len(b.boxes)
            if a.boxes:
                assert (torch.tensor(a.boxes) - torch.tensor(b.boxes)).abs().max().item() < TOLERANCE * 512
                assert (torch.tensor(a.scores) - torch.tensor(b.scores)).abs().max().item() < TOLERANCE


def test_split_preprocessing_equals_the_processor(tiny_detector):
    images = [load_image(PHOTOS / "chelsea.png"), load_image(PHOTOS / "astronaut.png")]
    text = "cat. person."
    whole = tiny_detector.processor(images=images, text=[text] * 2, return_tensors="pt")
    split = {**tiny_detector._pixels(images), **tiny_detector._text_inputs(text, 2)}
    assert set(split) == set(whole)
    for key, value in whole.items():
        assert torch.equal(value, split[key]), key


def test_prefetch_keeps_order_reraises_and_stops_when_closed():
    from groundlabel.inference.prefetch import prefetch

    assert list(prefetch(iter(range(20)), depth=2)) == list(range(20))

    def failing():
        yield 1
        raise ValueError("bad image batch")

    got = []
    with pytest.raises(ValueError, match="bad image batch"):
        for item in prefetch(failing()):
            got.append(item)
    assert got == [1]

    produced = []

    def endless():
        for i in range(10_000):
            produced.append(i)
            yield i

    stream = prefetch(endless(), depth=2)
    assert next(stream) == 0
    stream.close()
    count = len(produced)
    time.sleep(0.3)
    assert len(produced) == count < 10  # the producer stopped, a bounded step ahead
