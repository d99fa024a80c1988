"""Random-weight checkpoints of the families besides Grounding DINO.

Tiny ones keep every dimension small so tests load them in well under a second; the
full-size ones are the published architectures (for ``benchmarks.detector_speed``):

- MM Grounding DINO tiny: grounding-dino-tiny's config (Swin-T, bert-base, 900 queries)
  under ``MMGroundingDinoConfig``, whose own defaults add what MM-GDINO changes (the
  decoder's class embedding shared across layers).
- OWLv2 base-patch16(-ensemble): transformers' default ``Owlv2Config`` is ViT-B/16 with
  CLIP's text tower; the checkpoint reads 960x960 images, so the vision size is set to 960.
- OWL-ViT base-patch32: transformers' default ``OwlViTConfig`` (ViT-B/32, 768x768).
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
