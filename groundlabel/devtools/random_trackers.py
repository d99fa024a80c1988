"""Random-weight SAM 2.1 video checkpoints (``Sam2VideoModel``), saved as the hub's are.

The tiny one runs the whole memory path (memory encoder, memory attention, object pointers)
in milliseconds a frame, so tests propagate through a clip offline. Two constraints of the
architecture shape it (``../shared/reference/video.md``): the memory encoder's output is 64
channels (the memory attention's key/value input is fixed at 64), and the hidden sizes are a
multiple of 64 larger than 64 (object pointers are split into hidden/64 tokens only then), so
128. A short memory (3 frames, 4 object pointers) lets a 10-frame test reach the point where
old memories are dropped. ``visible`` biases the object-score head: with random weights the
object score hovers around zero and SAM 2 writes an empty mask for a negative one, so a test
chooses whether the objects stay visible (+) or vanish (-).

``full_size=True`` keeps sam2.1-hiera-tiny's architecture (transformers' defaults) with
random weights, for ``benchmarks.sam2_video_speed``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from groundlabel.devtools.random_segmenters import sam2_preprocessor, tiny_sam2_parts

TINY_SIZE = 128
TINY_HIDDEN = 128


def _tiny_config() -> Any:
    import transformers as tf

    grid = TINY_SIZE // 4
    vision, prompt, decoder = tiny_sam2_parts(TINY_HIDDEN, TINY_SIZE)
    return tf.Sam2VideoConfig(
        vision_config=vision,
        prompt_encoder_config=prompt,
        mask_decoder_config=decoder,
        image_size=TINY_SIZE,
        num_maskmem=3,
        max_object_pointers_in_encoder=4,
        memory_attention_hidden_size=TINY_HIDDEN,
        memory_attention_num_layers=1,
        memory_attention_feed_forward_hidden_size=128,
        memory_attention_rope_feat_sizes=[grid // 4, grid // 4],
        memory_encoder_hidden_size=TINY_HIDDEN,
        memory_encoder_output_channels=64,
        mask_downsampler_embed_dim=TINY_HIDDEN,
        memory_fuser_embed_dim=TINY_HIDDEN,
        memory_fuser_intermediate_dim=128,
    )


def build_random_video_tracker(*, full_size: bool = False, visible: float = 2.0, seed: int = 0) -> Any:
    """A ``Sam2VideoModel`` with random weights, in eval mode (benchmarks, tests)."""
    import transformers as tf

    torch.manual_seed(seed)
    config = tf.Sam2VideoConfig() if full_size else _tiny_config()
    model = tf.Sam2VideoModel(config).eval()
    if not full_size:
        with torch.no_grad():
            model.mask_decoder.pred_obj_score_head.proj_out.bias.fill_(visible)
    return model


def save_random_video_tracker(
    folder: str | Path, *, full_size: bool = False, visible: float = 2.0, seed: int = 0
) -> Path:
    """Save a random SAM 2.1 video checkpoint that ``groundlabel track --tracker FOLDER`` loads."""
    folder = Path(folder)
    model = build_random_video_tracker(full_size=full_size, visible=visible, seed=seed)
    model.save_pretrained(folder)
    size = 1024 if full_size else TINY_SIZE
    (folder / "preprocessor_config.json").write_text(json.dumps(sam2_preprocessor(size), indent=2))
    (folder / "groundlabel-random.json").write_text(json.dumps({"family": "sam2_video", "random": True}))
    return folder
