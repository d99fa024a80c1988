"""Random-weight checkpoints of the mask models (SAM, SAM-HQ, SAM 2.1), saved as the hub's are.

Tiny ones (hidden 32, 2 layers, attention window 4, 128-pixel input) load in well under a
second, so tests run the whole path (``from_pretrained``, processor, model, post-processing)
offline. ``full_size=True`` keeps the published architecture (SAM ViT-B at 1024 pixels) with
random weights, for ``benchmarks.box_to_mask``. The processors are the PIL ones, as a user
without torchvision gets; SAM 2.1's processor needs torchvision, so its folder carries the
preprocessor config only (``groundlabel.segmenters.sam2`` preprocesses by itself).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

#: the longest image edge tiny models read (8x8 patches of 16 pixels).
TINY_SIZE = 128
TINY_HIDDEN = 32


def _sam_configs(hq: bool, full_size: bool) -> Any:
    import transformers as tf

    prefix = "SamHQ" if hq else "Sam"
    vision_class = getattr(tf, f"{prefix}VisionConfig")
    prompt_class = getattr(tf, f"{prefix}PromptEncoderConfig")
    decoder_class = getattr(tf, f"{prefix}MaskDecoderConfig")
    config_class = getattr(tf, f"{prefix}Config")
    if full_size:
        # sam-vit-base: ViT-B (768 hidden, 12 layers, window 14, global attention at 2/5/8/11).
        vision = vision_class(initializer_range=0.02)
        return config_class(vision_config=vision.to_dict())
    grid = TINY_SIZE // 16
    vision = vision_class(
        hidden_size=TINY_HIDDEN,
        output_channels=TINY_HIDDEN,
        num_hidden_layers=2,
        num_attention_heads=2,
        image_size=TINY_SIZE,
        patch_size=16,
        window_size=4,
        global_attn_indexes=[1],
        mlp_dim=64,
        num_pos_feats=TINY_HIDDEN // 2,
        initializer_range=0.02,
    )
    prompt = prompt_class(
        hidden_size=TINY_HIDDEN,
        image_size=TINY_SIZE,
        patch_size=16,
        image_embedding_size=grid,
        mask_input_channels=8,
    )
    decoder = decoder_class(
        hidden_size=TINY_HIDDEN,
        mlp_dim=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        iou_head_hidden_dim=TINY_HIDDEN,
        **({"vit_dim": TINY_HIDDEN} if hq else {}),
    )
    return config_class(
        vision_config=vision.to_dict(),
        prompt_encoder_config=prompt.to_dict(),
        mask_decoder_config=decoder.to_dict(),
    )


def _sam(hq: bool, full_size: bool) -> tuple[Any, Any]:
    import transformers as tf

    config = _sam_configs(hq, full_size)
    model = (tf.SamHQModel if hq else tf.SamModel)(config)
    if not full_size:
        _spread_scores(model.mask_decoder.iou_prediction_head.proj_out)
    size = 1024 if full_size else TINY_SIZE
    image_processor = tf.SamImageProcessorPil(
        size={"longest_edge": size}, pad_size={"height": size, "width": size}
    )
    processor_class = tf.SamHQProcessor if hq else tf.SamProcessor
    return model, processor_class(image_processor=image_processor)


def _sam2(full_size: bool) -> tuple[Any, dict]:
    """SAM 2.1 and its preprocessor settings (a dict: ``Sam2ImageProcessor`` needs torchvision)."""
    import transformers as tf

    if full_size:
        # sam2.1-hiera-tiny: Hiera-T (96 wide, blocks 1/2/7/2), FPN 256, 1024-pixel input.
        # transformers' Sam2Config defaults are that architecture (global attention at 5/7/9).
        config = tf.Sam2Config()
        size = 1024
    else:
        size = TINY_SIZE
        vision, prompt, decoder = tiny_sam2_parts(TINY_HIDDEN)
        config = tf.Sam2Config(
            vision_config=vision, prompt_encoder_config=prompt, mask_decoder_config=decoder
        )
    model = tf.Sam2Model(config)
    if not full_size:
        _spread_scores(model.mask_decoder.iou_prediction_head.proj_out)
    preprocessor = sam2_preprocessor(size)
    return model, preprocessor


def tiny_sam2_parts(hidden: int, size: int = TINY_SIZE) -> tuple[dict, dict, dict]:
    """The vision, prompt-encoder and mask-decoder configs of a tiny SAM 2.1 (Hiera 16-128
    wide, ``size``-pixel input) with ``hidden`` channels after the FPN: shared by the image
    model here and the video model (``random_trackers``), which needs 128."""
    dims = [16, 32, 64, 128]
    grid = size // 4
    backbone = {
        "model_type": "sam2_hiera_det_model",
        "hidden_size": dims[0],
        "image_size": [size, size],
        "blocks_per_stage": [1, 1, 2, 1],
        "embed_dim_per_stage": dims,
        "num_attention_heads_per_stage": [1, 1, 2, 2],
        "window_size_per_stage": [8, 4, 4, 4],
        "global_attention_blocks": [3],
        "window_positional_embedding_background_size": [4, 4],
    }
    vision = {
        "backbone_config": backbone,
        "backbone_channel_list": dims[::-1],
        "backbone_feature_sizes": [[grid, grid], [grid // 2, grid // 2], [grid // 4, grid // 4]],
        "fpn_hidden_size": hidden,
    }
    prompt = {"hidden_size": hidden, "image_size": size, "patch_size": 16, "mask_input_channels": 8}
    decoder = {
        "hidden_size": hidden,
        "mlp_dim": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "iou_head_hidden_dim": hidden,
    }
    return vision, prompt, decoder


def sam2_preprocessor(size: int) -> dict[str, Any]:
    """SAM 2.1's saved image-processor settings for a ``size``-pixel square input (the hub's, resized)."""
    return {
        "image_processor_type": "Sam2ImageProcessor",
        "processor_class": "Sam2Processor",
        "size": {"height": size, "width": size},
        "mask_size": {"height": 256, "width": 256},
        "do_resize": True,
        "resample": 2,
        "do_rescale": True,
        "rescale_factor": 1 / 255,
        "do_normalize": True,
        "image_mean": [0.485, 0.456, 0.406],
        "image_std": [0.229, 0.224, 0.225],
        "do_convert_rgb": True,
    }


def _spread_scores(layer: torch.nn.Linear) -> None:
    """Re-draw the IoU head's last layer with std 0.5 (from transformers' 0.02 init).

    With the small init every predicted IoU sits within 1e-3 of zero, so a score check at
    1e-5 would prove little; spread out, scores differ between prompts by tenths.
    """
    torch.nn.init.normal_(layer.weight, std=0.5)
    torch.nn.init.normal_(layer.bias, std=0.5)


def build_random_segmenter(family: str, *, full_size: bool = False, seed: int = 0) -> tuple[Any, Any]:
    """(model, processor) of ``family`` with random weights, in memory (benchmarks, tests)."""
    torch.manual_seed(seed)
    if family == "sam":
        model, processor = _sam(False, full_size)
    elif family == "sam_hq":
        model, processor = _sam(True, full_size)
    elif family == "sam2":
        model, processor = _sam2(full_size)
    else:
        raise ValueError(f"no random segmenter for family {family!r} (sam, sam_hq, sam2)")
    return model.eval(), processor


def save_random_segmenter(family: str, folder: str | Path, *, full_size: bool = False, seed: int = 0) -> Path:
    """Save a random ``family`` checkpoint (``sam``, ``sam_hq``, ``sam2``) loadable by ``load_segmenter``."""
    folder = Path(folder)
    model, processor = build_random_segmenter(family, full_size=full_size, seed=seed)
    model.save_pretrained(folder)
    if isinstance(processor, dict):
        (folder / "preprocessor_config.json").write_text(json.dumps(processor, indent=2))
    else:
        processor.save_pretrained(folder)
    (folder / "groundlabel-random.json").write_text(json.dumps({"family": family, "random": True}))
    return folder
