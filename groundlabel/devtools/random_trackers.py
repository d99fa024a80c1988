"""Random-weight video tracker checkpoints (SAM 2.1, SAM 3 tracker, EdgeTAM), saved as the hub's are.

The tiny ones run the whole memory path (memory encoder, memory attention, object pointers;
EdgeTAM's perceiver resampler too) in milliseconds a frame, so tests propagate through a
clip offline. Two constraints of the architecture shape them (``../shared/reference/video.md``):
the memory encoder's output is 64 channels (the memory attention's key/value input is fixed
at 64), and the hidden sizes are a multiple of 64 larger than 64 (object pointers are split
into hidden/64 tokens only then), so 128. A short memory (3 frames, 4 object pointers) lets a
10-frame test reach the point where old memories are dropped. ``visible`` biases the
object-score head: with random weights the object score hovers around zero and the model
writes an empty mask for a negative one, so a test chooses whether the objects stay visible
(+) or vanish (-).

Per family: ``sam2_video`` and ``edgetam_video`` use a tiny Hiera (``tiny_sam2_parts``; Hiera
is also transformers' default vision config for EdgeTAM, and it needs no timm); the SAM 3
tracker a tiny ViT with 14-pixel patches at 112 pixels (8x8 tokens, as ``random_families``'
SAM 3). EdgeTAM's memory is resampled by its perceiver to 1-D and 2-D latents, so the tiny
one keeps 16 + 16 latents over its 8x8 memory map.

``full_size=True`` keeps the published architecture with random weights, for
``benchmarks.sam2_video_speed``: sam2.1-hiera-tiny (transformers' defaults), SAM 3's tracker
(transformers' defaults: the ViT of ``facebook/sam3``) and EdgeTAM (RepViT-M1 through timm,
which needs torchvision: the full EdgeTAM is built only where timm is installed).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from groundlabel.devtools.random_segmenters import sam2_preprocessor, tiny_sam2_parts

TINY_SIZE = 128
TINY_SAM3_SIZE = 112
TINY_HIDDEN = 128
#: the model types ``save_random_video_tracker`` builds.
FAMILIES = ("sam2_video", "sam3_tracker_video", "edgetam_video")


def _tiny_memory(grid: int) -> dict[str, Any]:
    """The memory half shared by the tiny configs; ``grid`` is the lowest feature map's side."""
    return {
        "num_maskmem": 3,
        "max_object_pointers_in_encoder": 4,
        "memory_attention_hidden_size": TINY_HIDDEN,
        "memory_attention_num_layers": 1,
        "memory_attention_rope_feat_sizes": [grid, grid],
        "memory_encoder_hidden_size": TINY_HIDDEN,
        "memory_encoder_output_channels": 64,
        "mask_downsampler_embed_dim": TINY_HIDDEN,
        "memory_fuser_embed_dim": TINY_HIDDEN,
        "memory_fuser_intermediate_dim": 128,
    }


def _tiny_config(family: str) -> Any:
    import transformers as tf

    if family == "sam3_tracker_video":
        side = TINY_SAM3_SIZE // 14
        _, prompt, decoder = tiny_sam2_parts(TINY_HIDDEN, TINY_SAM3_SIZE)
        vision = {
            "backbone_config": {
                "model_type": "sam3_vit_model",
                "hidden_size": 32,
                "num_attention_heads": 2,
                "intermediate_size": 64,
                "num_hidden_layers": 2,
                "image_size": TINY_SAM3_SIZE,
                "patch_size": 14,
                "window_size": side // 2,
                "global_attn_indexes": [1],
                "pretrain_image_size": TINY_SAM3_SIZE // 2,
            },
            "fpn_hidden_size": TINY_HIDDEN,
        }
        memory = _tiny_memory(side)
        return tf.Sam3TrackerVideoConfig(
            vision_config=vision,
            prompt_encoder_config={**prompt, "patch_size": 14},
            mask_decoder_config=decoder,
            image_size=TINY_SAM3_SIZE,  # sets the feature and rope sizes from the patch size
            memory_attention_feed_forward_hidden_size=128,
            **memory,
        )
    grid = TINY_SIZE // 4 // 4
    vision, prompt, decoder = tiny_sam2_parts(TINY_HIDDEN, TINY_SIZE)
    common = {
        "vision_config": vision,
        "prompt_encoder_config": prompt,
        "mask_decoder_config": decoder,
        "image_size": TINY_SIZE,
        **_tiny_memory(grid),
    }
    if family == "sam2_video":
        return tf.Sam2VideoConfig(memory_attention_feed_forward_hidden_size=128, **common)
    if family == "edgetam_video":
        vision["model_type"] = "sam2_vision_model"
        return tf.EdgeTamVideoConfig(
            memory_attention_mlp_hidden_size=128,
            memory_attention_rope_k_sizes=[4, 4],  # the 2-D latents: 4x4 windows over the 8x8 memory
            perceiver_resampler_num_latents=16,
            perceiver_resampler_num_latents_2d=16,
            perceiver_resampler_mlp_intermediate_size=64,
            perceiver_resampler_num_layers=1,
            **common,
        )
    raise ValueError(f"no random video tracker for {family!r}; choose one of {', '.join(FAMILIES)}")


def _full_config(family: str) -> Any:
    import transformers as tf

    if family == "sam2_video":
        return tf.Sam2VideoConfig()
    if family == "sam3_tracker_video":
        return tf.Sam3TrackerVideoConfig()
    if family == "edgetam_video":
        backbone = {
            "model_type": "timm_wrapper",
            "architecture": "repvit_m1",
            "do_pooling": False,
            "num_classes": 1000,  # timm_wrapper reads it from the dict (features_only ignores it)
            "model_args": {"in_chans": 3, "features_only": True, "out_indices": [0, 1, 2, 3]},
        }
        vision = {"model_type": "edgetam_vision_model", "backbone_config": backbone}
        return tf.EdgeTamVideoConfig(vision_config=vision)
    raise ValueError(f"no random video tracker for {family!r}; choose one of {', '.join(FAMILIES)}")


def _model_class(family: str) -> Any:
    import transformers as tf

    return {
        "sam2_video": tf.Sam2VideoModel,
        "sam3_tracker_video": tf.Sam3TrackerVideoModel,
        "edgetam_video": tf.EdgeTamVideoModel,
    }[family]


def build_random_video_tracker(
    *, family: str = "sam2_video", full_size: bool = False, visible: float = 2.0, seed: int = 0
) -> Any:
    """A video tracker model of ``family`` with random weights, in eval mode (benchmarks, tests)."""
    torch.manual_seed(seed)
    config = _full_config(family) if full_size else _tiny_config(family)
    model = _model_class(family)(config).eval()
    if not full_size:
        with torch.no_grad():
            model.mask_decoder.pred_obj_score_head.proj_out.bias.fill_(visible)
    return model


def preprocessor_settings(family: str, size: int) -> dict[str, Any]:
    """The image-processor settings the family's hub checkpoints save, for a ``size``-pixel input."""
    if family == "sam3_tracker_video":
        return {
            "image_processor_type": "Sam3ImageProcessor",
            "processor_class": "Sam3TrackerVideoProcessor",
            "size": {"height": size, "width": size},
            "mask_size": {"height": size // 14 * 4, "width": size // 14 * 4},
            "do_resize": True,
            "resample": 2,
            "do_rescale": True,
            "rescale_factor": 1 / 255,
            "do_normalize": True,
            "image_mean": [0.5, 0.5, 0.5],
            "image_std": [0.5, 0.5, 0.5],
            "do_convert_rgb": True,
        }
    return sam2_preprocessor(size)


def save_random_video_tracker(
    folder: str | Path,
    *,
    family: str = "sam2_video",
    full_size: bool = False,
    visible: float = 2.0,
    seed: int = 0,
) -> Path:
    """Save a random video tracker checkpoint that ``groundlabel track --tracker FOLDER`` loads."""
    folder = Path(folder)
    model = build_random_video_tracker(family=family, full_size=full_size, visible=visible, seed=seed)
    model.save_pretrained(folder)
    size = int(model.config.image_size)
    settings = preprocessor_settings(family, size)
    (folder / "preprocessor_config.json").write_text(json.dumps(settings, indent=2))
    (folder / "groundlabel-random.json").write_text(json.dumps({"family": family, "random": True}))
    return folder


def save_random_sam3_video(folder: str | Path, *, visible: float = 2.0, seed: int = 0) -> Path:
    """A tiny full SAM 3 video checkpoint (``Sam3VideoModel``: detector and tracker) whose tracker
    half is exactly the tiny ``sam3_tracker_video`` of the same seed.

    In the full checkpoint the tracker has no vision encoder of its own: it reads the detector's
    ViT backbone through its own neck (``tracker_neck``), which transformers maps back into a
    ``Sam3TrackerVideoModel`` on load. So the tracker's backbone goes into the detector, its
    neck into ``tracker_neck``, and loading the folder as a tracker must give the same model.
    The processor settings are saved as transformers 5 saves them (nested in
    ``processor_config.json``).
    """
    import transformers as tf

    from groundlabel.devtools.random_families import _tiny_sam3_config

    folder = Path(folder)
    tracker = build_random_video_tracker(family="sam3_tracker_video", visible=visible, seed=seed)
    detector = _tiny_sam3_config("sam3")
    detector.vision_config.fpn_hidden_size = tracker.config.vision_config.fpn_hidden_size
    full = tf.Sam3VideoModel(
        tf.Sam3VideoConfig(detector_config=detector.to_dict(), tracker_config=tracker.config.to_dict())
    ).eval()
    weights = tracker.state_dict()
    full.tracker_model.load_state_dict(
        {k: v for k, v in weights.items() if not k.startswith("vision_encoder.")}, strict=True
    )
    full.detector_model.vision_encoder.backbone.load_state_dict(tracker.vision_encoder.backbone.state_dict())
    full.tracker_neck.load_state_dict(tracker.vision_encoder.neck.state_dict())
    full.save_pretrained(folder)
    settings = preprocessor_settings("sam3_tracker_video", TINY_SAM3_SIZE)
    processor = {"image_processor": settings, "processor_class": "Sam3VideoProcessor"}
    (folder / "processor_config.json").write_text(json.dumps(processor, indent=2))
    (folder / "groundlabel-random.json").write_text(json.dumps({"family": "sam3_video", "random": True}))
    return folder
