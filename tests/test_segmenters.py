"""SAM and SAM-HQ behind the Segmenter interface equal transformers' reference path, pixel for pixel.

The reference is what the model card shows: ``SamProcessor(images, input_boxes=...)``, the
model on pixel values, ``post_process_masks``. Ours splits it at the image embedding, so
these tests would fail if the split, the prompt scaling or the mask choice drifted.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from groundlabel import masks as mask_codec
from groundlabel.detector import DetectionResult
from groundlabel.errors import ModelLoadError
from groundlabel.segmenters import load_segmenter
from groundlabel.segmenters import sam as sam_module
from groundlabel.segmenters.refine import add_masks

BOXES = [(3.3, 4.1, 50.7, 40.2), (20.0, 10.0, 90.0, 60.0), (0.0, 0.0, 97.0, 61.0), (60.5, 30.25, 70.0, 41.0)]


REFERENCE_CLASSES = {"sam": ("SamModel", "SamProcessor"), "sam_hq": ("SamHQModel", "SamHQProcessor")}


@pytest.fixture(scope="module", params=sorted(REFERENCE_CLASSES))
def family(request):
    return request.param


@pytest.fixture(scope="module")
def sam_dir(segmenter_model, family):
    return segmenter_model(family)


@pytest.fixture(scope="module")
def segmenter(sam_dir):
    return load_segmenter(str(sam_dir), device="cpu")


@pytest.fixture(scope="module")
def reference(sam_dir, family):
    import transformers

    model_class, processor_class = (getattr(transformers, name) for name in REFERENCE_CLASSES[family])
    return model_class.from_pretrained(sam_dir).eval(), processor_class.from_pretrained(sam_dir)


@pytest.fixture(scope="module")
def image():
    # An odd, non-square size so the longest-edge resize and the padding crop both matter.
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 255, (61, 97, 3), dtype=np.uint8))


def reference_masks(reference, image, multimask=False, **prompts):
    model, processor = reference
    inputs = processor(images=image, return_tensors="pt", **prompts)
    with torch.no_grad():
        outputs = model(**inputs, multimask_output=multimask)
    masks = processor.post_process_masks(
        outputs.pred_masks, inputs["original_sizes"], inputs["reshaped_input_sizes"]
    )
    return masks[0].numpy(), outputs.iou_scores[0].numpy()


def test_masks_for_boxes_equal_the_reference(segmenter, reference, image):
    ref_masks, ref_scores = reference_masks(reference, image, input_boxes=[[list(b) for b in BOXES]])
    proposals = segmenter.masks_for_boxes(segmenter.embed(image), BOXES)
    assert len(proposals) == len(BOXES)
    for j, proposal in enumerate(proposals):
        assert proposal.mask.dtype == bool and proposal.mask.shape == (61, 97)
        assert np.array_equal(proposal.mask, ref_masks[j, 0])
        assert proposal.score == pytest.approx(float(ref_scores[j, 0]), abs=1e-5)
    # The comparison means something: masks are neither empty nor full and differ per box.
    assert all(0 < p.mask.mean() < 1 for p in proposals)
    assert len({p.mask.tobytes() for p in proposals}) == len(BOXES)
    assert max(p.score for p in proposals) - min(p.score for p in proposals) > 1e-2


def test_boxes_in_several_decoder_chunks_equal_one_reference_pass(segmenter, reference, image, monkeypatch):
    monkeypatch.setattr(sam_module, "BOX_CHUNK", 3)
    boxes = [*BOXES, (10.0, 5.0, 30.0, 25.0), (40.0, 20.0, 96.0, 60.0)]
    ref_masks, ref_scores = reference_masks(reference, image, input_boxes=[[list(b) for b in boxes]])
    proposals = segmenter.masks_for_boxes(segmenter.embed(image), boxes)
    assert [np.array_equal(p.mask, ref_masks[j, 0]) for j, p in enumerate(proposals)] == [True] * len(boxes)
    assert [p.score for p in proposals] == pytest.approx(ref_scores[:, 0].tolist(), abs=1e-5)


def test_box_with_positive_and_negative_points_equals_the_reference(segmenter, reference, image):
    box, points, labels = BOXES[1], [(40.0, 30.0), (80.5, 50.0)], [1, 0]
    ref_masks, ref_scores = reference_masks(
        reference,
        image,
        input_boxes=[[list(box)]],
        input_points=[[[list(p) for p in points]]],
        input_labels=[[labels]],
    )
    proposal = segmenter.mask_for_prompt(segmenter.embed(image), box, points, labels)
    assert np.array_equal(proposal.mask, ref_masks[0, 0])
    assert proposal.score == pytest.approx(float(ref_scores[0, 0]), abs=1e-5)
    # The points changed the mask: the box alone gives another one.
    alone = segmenter.masks_for_boxes(segmenter.embed(image), [box])[0]
    assert not np.array_equal(alone.mask, proposal.mask)


def test_points_only_equal_the_reference(segmenter, reference, image):
    points, labels = [(12.0, 20.0), (70.0, 44.0), (30.0, 50.0)], [1, 1, 0]
    ref_masks, ref_scores = reference_masks(
        reference, image, input_points=[[[list(p) for p in points]]], input_labels=[[labels]]
    )
    proposal = segmenter.mask_for_prompt(segmenter.embed(image), None, points, labels)
    assert np.array_equal(proposal.mask, ref_masks[0, 0])
    assert proposal.score == pytest.approx(float(ref_scores[0, 0]), abs=1e-5)


def test_a_lone_point_takes_the_best_of_three_by_predicted_iou(segmenter, reference, image):
    ref_masks, ref_scores = reference_masks(
        reference, image, multimask=True, input_points=[[[[50.0, 30.0]]]], input_labels=[[[1]]]
    )
    assert ref_masks.shape[1] == 3
    best = int(np.argmax(ref_scores[0]))
    proposal = segmenter.mask_for_prompt(segmenter.embed(image), None, [(50.0, 30.0)], [1])
    assert np.array_equal(proposal.mask, ref_masks[0, best])
    assert proposal.score == pytest.approx(float(ref_scores[0, best]), abs=1e-5)


def test_mask_for_prompt_refuses_an_empty_or_mismatched_prompt(segmenter, image):
    embedding = segmenter.embed(image)
    with pytest.raises(ValueError, match="box or at least one point"):
        segmenter.mask_for_prompt(embedding, None)
    with pytest.raises(ValueError, match="point labels"):
        segmenter.mask_for_prompt(embedding, None, [(1.0, 2.0)], [])


def test_add_masks_fills_one_rle_per_box_from_one_embedding(segmenter, reference, image, monkeypatch):
    result = DetectionResult("a.jpg", image.size, boxes=[list(b) for b in BOXES[:2]], scores=[0.9, 0.8])
    calls = []
    original = type(segmenter).embed
    monkeypatch.setattr(type(segmenter), "embed", lambda self, im: calls.append(1) or original(self, im))
    refined = add_masks(segmenter, image, result)
    assert calls == [1]
    ref_masks, ref_scores = reference_masks(reference, image, input_boxes=[[list(b) for b in BOXES[:2]]])
    assert [np.array_equal(mask_codec.decode(m), ref_masks[j, 0]) for j, m in enumerate(refined.masks)] == [
        True,
        True,
    ]
    assert refined.mask_scores == pytest.approx(ref_scores[:, 0].tolist(), abs=1e-5)
    assert refined.boxes == result.boxes and result.masks == []
    # No boxes: no vision pass; a failed image passes through untouched.
    empty = add_masks(segmenter, image, DetectionResult("b.jpg", image.size))
    failed = DetectionResult("c.jpg", (0, 0), error="unreadable")
    assert (empty.masks, calls) == ([], [1])
    assert add_masks(segmenter, image, failed) is failed


def test_model_record_names_family_and_checkpoint(segmenter, sam_dir, family):
    assert segmenter.model_record == f"{family}:{sam_dir}"


def test_missing_folder_is_one_clear_error(tmp_path):
    with pytest.raises(ModelLoadError, match="does not exist"):
        load_segmenter(str(tmp_path / "nope"))


def test_a_detector_checkpoint_is_refused_as_a_mask_model(tmp_path):
    (tmp_path / "config.json").write_text('{"model_type": "grounding-dino"}')
    with pytest.raises(ModelLoadError, match="not a mask model"):
        load_segmenter(str(tmp_path))


def test_uncached_hub_id_offline_says_how_to_get_it(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelLoadError, match="hf download facebook/sam-not-cached"):
        load_segmenter("facebook/sam-not-cached")


def test_gated_checkpoint_says_request_access_and_log_in(monkeypatch):
    import httpx
    from huggingface_hub.errors import GatedRepoError

    from groundlabel.segmenters import loading

    url = "https://huggingface.co/facebook/gated-sam/resolve/main/config.json"
    response = httpx.Response(403, request=httpx.Request("GET", url))

    def refuse(model, local_files_only=False, **kwargs):
        if local_files_only:
            raise OSError("not cached")
        # What transformers raises for a gated repo: an OSError from the hub's GatedRepoError.
        raise OSError("Cannot access the file.") from GatedRepoError("Access denied", response=response)

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(loading, "_require_hub", lambda model: None)
    from transformers import PretrainedConfig

    monkeypatch.setattr(PretrainedConfig, "get_config_dict", staticmethod(refuse))
    with pytest.raises(ModelLoadError) as caught:
        load_segmenter("facebook/gated-sam")
    message = str(caught.value)
    assert "request access on https://huggingface.co/facebook/gated-sam" in message.lower()
    assert "hf auth login" in message and "\n" not in message


def test_the_catalog_lists_every_mask_family_with_its_licence():
    from groundlabel.model_catalog import MASK_CHECKPOINTS, licence_of, mask_picker_entries
    from groundlabel.segmenters import DEFAULT_SEGMENTER, SEGMENTER_FAMILIES

    assert {c.family for c in MASK_CHECKPOINTS} == set(SEGMENTER_FAMILIES)
    assert MASK_CHECKPOINTS[0].model_id == DEFAULT_SEGMENTER
    assert (
        licence_of("facebook/sam-vit-base") == "Apache-2.0" and licence_of(DEFAULT_SEGMENTER) == "Apache-2.0"
    )
    assert all("[Apache-2.0" in shown for shown, _ in mask_picker_entries())


def test_prompts_after_embed_never_run_the_vision_encoder(segmenter, image, monkeypatch):
    embedding = segmenter.embed(image)

    def refuse(*args, **kwargs):
        raise AssertionError("the vision encoder ran for a prompt")

    monkeypatch.setattr(segmenter.model.vision_encoder, "forward", refuse)
    assert len(segmenter.masks_for_boxes(embedding, BOXES)) == len(BOXES)
    assert segmenter.mask_for_prompt(embedding, BOXES[0], [(30.0, 20.0)], [0]).mask.shape == (61, 97)
