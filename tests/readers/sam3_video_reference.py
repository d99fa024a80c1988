"""Run in the readers venv: SAM 3 video's transformers reference path on a clip and phrases, to an .npz.

Usage: python sam3_video_reference.py JOBS_JSON

JOBS_JSON is a list of ``{"checkpoint", "frames", "phrases", "out"}``: a checkpoint folder, a
folder of frames, the text prompts and the .npz to write (several jobs share one start-up).

The reference is the model card's offline recipe: ``Sam3VideoProcessor.from_pretrained``,
``init_video_session(video=frames)`` (the processor's video half preprocesses the whole
clip), ``add_text_prompt(session, phrases)``, then ``propagate_in_video_iterator`` (which
holds each frame back ``hotstart_delay`` frames) and ``postprocess_outputs`` on every frame it
yields. The session keeps everything and nothing is pruned. As in ``sam2_reference.py``, the
PyPI torchvision's C++ ops cannot load next to the CPU torch, so their schemas are declared
(``masks_to_boxes``, the one torchvision function the processor calls, is plain torch).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch

_lib = torch.library.Library("torchvision", "DEF")
_lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
_lib.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")


def run(checkpoint: str, frames_dir: str, phrases: list[str], out_path: str) -> None:
    from PIL import Image
    from transformers import Sam3VideoModel, Sam3VideoProcessor

    processor = Sam3VideoProcessor.from_pretrained(checkpoint)
    model = Sam3VideoModel.from_pretrained(checkpoint).eval()
    frames = [Image.open(path).convert("RGB") for path in sorted(Path(frames_dir).iterdir())]
    session = processor.init_video_session(video=frames, inference_device="cpu", dtype=torch.float32)
    processor.add_text_prompt(session, phrases)
    arrays: dict[str, np.ndarray] = {"pixels_4": session.processed_frames[4].numpy()}
    count = 0
    for output in model.propagate_in_video_iterator(session):
        found = processor.postprocess_outputs(session, output)
        position = output.frame_idx
        phrase_of = {i: text for text, ids in found["prompt_to_obj_ids"].items() for i in ids}
        arrays[f"ids_{position}"] = found["object_ids"].numpy()
        arrays[f"scores_{position}"] = found["scores"].numpy()
        arrays[f"boxes_{position}"] = found["boxes"].numpy()
        arrays[f"masks_{position}"] = found["masks"].numpy()
        raw = sorted(output.obj_id_to_mask)  # the model's own low-res logits and tracker scores
        arrays[f"raw_ids_{position}"] = np.array(raw, dtype=np.int64)
        if raw:
            arrays[f"logits_{position}"] = torch.cat([output.obj_id_to_mask[i] for i in raw]).float().numpy()
        arrays[f"tracker_{position}"] = np.array([output.obj_id_to_tracker_score.get(i, 0.0) for i in raw])
        arrays[f"phrases_{position}"] = np.array([phrase_of[i] for i in found["object_ids"].tolist()])
        count += 1
    np.savez(out_path, **arrays)
    print("SAM3-VIDEO-REFERENCE-OK", type(processor).__name__, count)


if __name__ == "__main__":
    for job in json.loads(Path(sys.argv[1]).read_text()):
        run(job["checkpoint"], job["frames"], job["phrases"], job["out"])
