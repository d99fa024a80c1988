"""Random-weight checkpoints of the families besides Grounding DINO.

Tiny ones keep every dimension small so tests load them in well under a second; the
full-size ones are the published architectures (for ``benchmarks.detector_speed``):

- MM Grounding DINO tiny: grounding-dino-tiny's config (Swin-T, bert-base, 900 queries)
  under ``MMGroundingDinoConfig``, whose own defaults add what MM-GDINO changes (the
  decoder's class embedding shared across layers).
- OWLv2 base-patch16(-ensemble): transformers' default ``Owlv2Config`` is ViT-B/16 with
  CLIP's text tower; the checkpoint reads 960x960 images, so the vision size is set to 960.
- OWL-ViT base-patch32: transformers' default ``OwlViTConfig`` (ViT-B/32, 768x768).
- SAM 3 and SAM 3 LiteText: transformers' default ``Sam3Config`` / ``Sam3LiteTextConfig``
  (840 M / 548 M parameters, 1008x1008); saved with a ``processor_config.json`` that
  ``Sam3Processor`` reads, written without torchvision (``Sam3Inputs.save_pretrained``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from groundlabel.devtools.random_model import REFERENCE_DIR, build_processor, full_config, tiny_config

CLIP_BPE_DIR = REFERENCE_DIR / "clip-bpe"
#: tiny OWL models look at a 96x96 image (6x6 patches of 16 pixels).
TINY_OWL_SIZE = 96


def clip_tokenizer(model_max_length: int = 16) -> Any:
    """CLIP's tokenizer from the shipped BPE files (``vocab=``/``merges=``: transformers 5 ignores *_file)."""
    from transformers import CLIPTokenizerFast

    return CLIPTokenizerFast(
        vocab=str(CLIP_BPE_DIR / "vocab.json"),
        merges=str(CLIP_BPE_DIR / "merges.txt"),
        pad_token="!",
        model_max_length=model_max_length,
    )


def _mm_grounding_dino(full_size: bool):
    from transformers import MMGroundingDinoConfig, MMGroundingDinoForObjectDetection

    source = full_config() if full_size else tiny_config()
    values = {
        k: v
        for k, v in source.to_dict().items()
        if k not in ("model_type", "two_stage_bbox_embed_share", "transformers_version", "architectures")
    }
    config = MMGroundingDinoConfig(**values)
    processor = build_processor(*((800, 1333) if full_size else (200, 333)))
    return MMGroundingDinoForObjectDetection(config), processor


def _tiny_tower(image_size: int | None = None, patch_size: int = 16) -> dict:
    tower = {
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
    }
    if image_size is None:
        tower.update(vocab_size=49408, max_position_embeddings=16)
    else:
        tower.update(image_size=image_size, patch_size=patch_size)
    return tower


def _owl(family: str, full_size: bool):
    import transformers as tf

    v2 = family == "owlv2"
    config_class = tf.Owlv2Config if v2 else tf.OwlViTConfig
    model_class = tf.Owlv2ForObjectDetection if v2 else tf.OwlViTForObjectDetection
    if full_size:
        config = config_class()
        if v2:
            config.vision_config.image_size = 960
        size = config.vision_config.image_size
    else:
        size = TINY_OWL_SIZE
        config = config_class(
            text_config=_tiny_tower(),
            vision_config=_tiny_tower(size, 16),
            projection_dim=32,
        )
    if v2:
        image_processor = tf.Owlv2ImageProcessorPil(size={"height": size, "width": size})
        processor = tf.Owlv2Processor(image_processor=image_processor, tokenizer=clip_tokenizer())
    else:
        image_processor = tf.OwlViTImageProcessorPil(
            size={"height": size, "width": size}, crop_size={"height": size, "width": size}
        )
        processor = tf.OwlViTProcessor(image_processor=image_processor, tokenizer=clip_tokenizer())
    return _calm_heads(model_class(config)), processor


def _calm_heads(model: torch.nn.Module) -> torch.nn.Module:
    """Re-draw OWL's detection heads with std 0.02, as its transformers init does for the towers.

    transformers leaves these linear layers at PyTorch's default init, whose logits on
    random features reach +-100 (every score a flat 1.0) and whose boxes ignore the patch
    grid; with small weights scores spread out and each patch's box sits on its patch.
    """
    for name in ("class_head", "box_head", "objectness_head"):
        head = getattr(model, name, None)
        for module in head.modules() if head is not None else ():
            if isinstance(module, torch.nn.Linear):
                torch.nn.init.normal_(module.weight, std=0.02)
                torch.nn.init.zeros_(module.bias)
    return model


#: tiny SAM 3 models look at a 112x112 image (8x8 patches of 14 pixels, masks 32x32).
TINY_SAM3_SIZE = 112


def _tiny_sam3_config(family: str) -> Any:
    """Every SAM 3 part at width 32 with one or two layers; the real CLIP vocabulary."""
    import transformers as tf

    side = TINY_SAM3_SIZE // 14
    small = {"hidden_size": 32, "num_attention_heads": 2, "intermediate_size": 64}
    vision = {
        "backbone_config": {
            "model_type": "sam3_vit_model",
            **small,
            "num_hidden_layers": 2,
            "image_size": TINY_SAM3_SIZE,
            "patch_size": 14,
            "window_size": side // 2,
            "global_attn_indexes": [1],
            "pretrain_image_size": TINY_SAM3_SIZE // 2,
        },
        "fpn_hidden_size": 32,
        "backbone_feature_sizes": [[side * 4] * 2, [side * 2] * 2, [side] * 2],
    }
    text = {**small, "num_hidden_layers": 2, "projection_dim": 32}
    if family == "sam3":
        text["max_position_embeddings"] = 32
    parts = {
        "geometry_encoder_config": {**small, "num_layers": 1},
        "detr_encoder_config": {**small, "num_layers": 1},
        "detr_decoder_config": {**small, "num_layers": 1, "num_queries": 20},
        "mask_decoder_config": {"hidden_size": 32, "num_attention_heads": 2},
    }
    config_class = tf.Sam3Config if family == "sam3" else tf.Sam3LiteTextConfig
    return config_class(vision_config=vision, text_config=text, **parts)


def _sam3(family: str, full_size: bool):
    """SAM 3 (or LiteText): transformers' default config is the published 840 M (548 M) model."""
    import transformers as tf

    from groundlabel.families.sam3 import Sam3Inputs, Sam3Preprocessing

    if full_size:
        config = tf.Sam3Config() if family == "sam3" else tf.Sam3LiteTextConfig()
        side = 1008
    else:
        config, side = _tiny_sam3_config(family), TINY_SAM3_SIZE
    model_class = tf.Sam3Model if family == "sam3" else tf.Sam3LiteTextModel
    inputs = Sam3Inputs(clip_tokenizer(model_max_length=32), Sam3Preprocessing(height=side, width=side))
    return _liven_sam3_heads(model_class(config)), inputs


def _liven_sam3_heads(model: torch.nn.Module) -> torch.nn.Module:
    """Re-draw SAM 3's heads so random outputs look like detections.

    With transformers' init every query's box sits on the image centre, every score is
    0.25 and every mask logit is about 0, so each mask pixel is a coin toss at the 0.5
    threshold. Wider weights spread the reference points and boxes, the scores
    (0 to about 0.12) and the mask logits, so thresholds and masks are tested on
    outputs that differ from query to query.
    """
    decoder, scoring, masks = model.detr_decoder, model.dot_product_scoring, model.mask_decoder
    stds = (
        (decoder.reference_points, 1.0),
        (decoder.box_head, 0.1),
        (decoder.presence_head, 0.3),
        (scoring.text_proj, 0.3),
        (scoring.query_proj, 0.3),
        (masks.mask_embedder, 0.3),
        (masks.instance_projection, 0.3),
    )
    for part, std in stds:
        for module in part.modules():
            if isinstance(module, (torch.nn.Linear, torch.nn.Conv2d, torch.nn.Embedding)):
                torch.nn.init.normal_(module.weight, std=std)
    return model


def build_random_family(family: str, *, full_size: bool = False, seed: int = 0) -> tuple[Any, Any]:
    """(model, processor) of ``family`` with random weights, in memory (benchmarks)."""
    torch.manual_seed(seed)
    if family == "grounding-dino":
        from transformers import GroundingDinoForObjectDetection

        config = full_config() if full_size else tiny_config()
        model, processor = (
            GroundingDinoForObjectDetection(config),
            build_processor(*((800, 1333) if full_size else (200, 333))),
        )
    elif family == "mm-grounding-dino":
        model, processor = _mm_grounding_dino(full_size)
    elif family in ("owlv2", "owlvit"):
        model, processor = _owl(family, full_size)
    elif family in ("sam3", "sam3_lite_text"):
        model, processor = _sam3(family, full_size)
    else:
        raise ValueError(f"no random checkpoint for family {family!r}")
    return model.eval(), processor


def save_random_family(directory: str | Path, family: str, *, full_size: bool = False, seed: int = 0) -> Path:
    """Save a random model of ``family`` (a ``config.model_type``) and its processor."""
    directory = Path(directory)
    model, processor = build_random_family(family, full_size=full_size, seed=seed)
    model.save_pretrained(directory)
    processor.save_pretrained(directory)
    (directory / "groundlabel-random.json").write_text(json.dumps({"family": family, "random": True}))
    return directory
