"""Random-weight SAM 3 video checkpoints (``Sam3VideoModel``: detector and tracker in one), saved as the hub's are.

The tiny one is what ``groundlabel track --model FOLDER`` and the fidelity test run: SAM 3's
detector (``random_families``' tiny SAM 3, widened to 128 because the tracker reads the
detector's FPN features and a SAM 2-style tracker needs hidden sizes that are multiples of 64
above 64) and the tiny SAM 3 tracker of ``random_trackers`` (3 memories, 4 object pointers).
The CLIP tokenizer files are the real ones (``../shared/reference/clip-bpe``), so phrases
tokenize as on the hub.

With transformers' init every detection score is a flat ``sigmoid(-12) * sigmoid(-10)`` (the
clamped logits of a 128-wide random dot product), so nothing is ever detected; the scoring
projections and the presence head are re-drawn so that scores spread from about 0.1 to 0.9
and the usual thresholds (0.5 to keep, 0.7 to start an object) find a few objects a frame.
The video heuristics are shortened to fit a 10-frame test (``TINY_VIDEO``): a 3-frame hot
start (objects unmatched or duplicated on 2 of them are removed), re-anchoring every 2nd
frame, and thresholds the random scores reach.

``full_size=True`` is transformers' default ``Sam3VideoConfig``: the published
``facebook/sam3`` architecture with random weights, for ``benchmarks.sam3_video_speed``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from groundlabel.devtools.random_families import (
    TINY_SAM3_SIZE,
    _liven_sam3_heads,
    _tiny_sam3_config,
    clip_tokenizer,
)

#: the tiny model's width where detector and tracker meet (FPN, detector parts, tracker).
TINY_WIDTH = 128
#: the tiny model's video heuristics, shortened to fit a 10-frame clip (defaults in comments).
TINY_VIDEO = {
    "hotstart_delay": 3,  # 15
    "hotstart_unmatch_thresh": 2,  # 8
    "hotstart_dup_thresh": 2,  # 8
    "recondition_every_nth_frame": 2,  # 16
    "score_threshold_detection": 0.4,  # 0.5: the random scores reach about 0.8
    "new_det_thresh": 0.5,  # 0.7
    "high_conf_thresh": 0.5,  # 0.8: re-anchoring happens on the random model too
    "high_iou_thresh": 0.3,  # 0.8
}
#: the tracker keeps the memories of its 2 most recent conditioning frames (4), so a 10-frame
#: clip re-anchored every 2nd frame reaches the point where older ones keep their pointer only.
TINY_MAX_COND_FRAMES = 2


def _tiny_config() -> Any:
    import transformers as tf

    from groundlabel.devtools.random_trackers import build_random_video_tracker

    tracker = build_random_video_tracker(family="sam3_tracker_video").config
    tracker.max_cond_frame_num = TINY_MAX_COND_FRAMES
    detector = _tiny_sam3_config("sam3")
    detector.vision_config.fpn_hidden_size = TINY_WIDTH
    for part in (
        detector.geometry_encoder_config,
        detector.detr_encoder_config,
        detector.detr_decoder_config,
        detector.mask_decoder_config,
    ):
        part.hidden_size = TINY_WIDTH
        if hasattr(part, "intermediate_size"):
            part.intermediate_size = TINY_WIDTH
    detector.text_config.projection_dim = TINY_WIDTH
    return tf.Sam3VideoConfig(
        detector_config=detector.to_dict(),
        tracker_config=tracker.to_dict(),
        low_res_mask_size=TINY_SAM3_SIZE // 14 * 4,
        **TINY_VIDEO,
    )


def _calm_scores(detector: torch.nn.Module, presence_bias: float = 2.0) -> None:
    """Scores that spread instead of saturating (see the module docstring)."""
    scoring, presence = detector.dot_product_scoring, detector.detr_decoder.presence_head
    for part, std in ((scoring.text_proj, 0.1), (scoring.query_proj, 0.1), (presence, 0.02)):
        for module in part.modules():
            if isinstance(module, torch.nn.Linear):
                torch.nn.init.normal_(module.weight, std=std)
                torch.nn.init.zeros_(module.bias)
    last = [m for m in presence.modules() if isinstance(m, torch.nn.Linear)][-1]
    torch.nn.init.constant_(last.bias, presence_bias)


def build_random_sam3_video(*, full_size: bool = False, visible: float = 2.0, seed: int = 0) -> Any:
    """A ``Sam3VideoModel`` with random weights, in eval mode; ``visible`` biases the tracker's
    object score (negative: the tracker loses every object at once)."""
    import transformers as tf

    torch.manual_seed(seed)
    config = tf.Sam3VideoConfig() if full_size else _tiny_config()
    model = tf.Sam3VideoModel(config).eval()
    if not full_size:
        _liven_sam3_heads(model.detector_model)
        _calm_scores(model.detector_model)
        with torch.no_grad():
            model.tracker_model.mask_decoder.pred_obj_score_head.proj_out.bias.fill_(visible)
    return model


def processor_config(side: int) -> dict[str, Any]:
    """``processor_config.json`` as transformers 5 saves ``Sam3VideoProcessor``'s (image and video halves)."""
    pixels = {
        "do_convert_rgb": True,
        "do_resize": True,
        "do_rescale": True,
        "do_normalize": True,
        "size": {"height": side, "width": side},
        "image_mean": [0.5, 0.5, 0.5],
        "image_std": [0.5, 0.5, 0.5],
        "rescale_factor": 1 / 255,
        "resample": 2,
    }
    return {
        "image_processor": {"image_processor_type": "Sam3ImageProcessor", **pixels},
        "video_processor": {"video_processor_type": "Sam2VideoVideoProcessor", **pixels},
        "processor_class": "Sam3VideoProcessor",
        "target_size": side,
    }


def save_random_sam3_video(
    folder: str | Path, *, full_size: bool = False, visible: float = 2.0, seed: int = 0
) -> Path:
    """Save a random SAM 3 video checkpoint that ``groundlabel track --model FOLDER`` loads."""
    folder = Path(folder)
    model = build_random_sam3_video(full_size=full_size, visible=visible, seed=seed)
    model.save_pretrained(folder)
    clip_tokenizer(model_max_length=32).save_pretrained(folder)
    side = int(model.config.detector_config.vision_config.backbone_config.image_size)
    (folder / "processor_config.json").write_text(json.dumps(processor_config(side), indent=2) + "\n")
    (folder / "groundlabel-random.json").write_text(json.dumps({"family": "sam3_video", "random": True}))
    return folder
