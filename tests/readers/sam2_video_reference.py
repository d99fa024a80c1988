"""Run in the readers venv: SAM 2.1 video's transformers reference path, frame by frame, to an .npz.

Usage: python sam2_video_reference.py CHECKPOINT_DIR FRAMES_DIR PROMPTS_JSON OUT_NPZ

The reference is transformers' streaming recipe (the model card's "streaming video
inference"): ``Sam2VideoProcessor.init_video_session()`` with no video, then for each frame
``processor(images=frame)``, the frame's new boxes through
``add_inputs_to_inference_session(..., original_size=...)``, ``model(inference_session,
frame=pixel_values[0])`` and ``post_process_masks([pred_masks], original_sizes)``. Nothing is
pruned and no object is removed: the session keeps everything, as transformers keeps it.
``PROMPTS_JSON`` is a list of ``[frame_position, obj_id, [x0, y0, x1, y1]]``. The processor's
image half is read from the checkpoint's ``preprocessor_config.json`` (the file the product
reads too); its video half is not used when streaming. As in ``sam2_reference.py``, the PyPI
torchvision's C++ ops cannot load next to the CPU torch, so their schemas are declared.
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


def main(checkpoint: str, frames_dir: str, prompts_path: str, out_path: str) -> None:
    from PIL import Image
    from transformers import Sam2ImageProcessor, Sam2VideoModel, Sam2VideoProcessor, Sam2VideoVideoProcessor

    image_processor = Sam2ImageProcessor.from_pretrained(checkpoint)
    size = image_processor.size
    video_processor = Sam2VideoVideoProcessor(size={"height": size["height"], "width": size["width"]})
    processor = Sam2VideoProcessor(image_processor=image_processor, video_processor=video_processor)
    model = Sam2VideoModel.from_pretrained(checkpoint).eval()
    prompts: dict[int, list] = {}
    for position, obj_id, box in json.loads(Path(prompts_path).read_text()):
        prompts.setdefault(position, []).append((obj_id, box))
    session = processor.init_video_session(inference_device="cpu", dtype=torch.float32)
    arrays: dict[str, np.ndarray] = {}
    for position, path in enumerate(sorted(Path(frames_dir).iterdir())):
        frame = Image.open(path).convert("RGB")
        inputs = processor(images=frame, return_tensors="pt")
        if position in prompts:
            processor.add_inputs_to_inference_session(
                inference_session=session,
                frame_idx=position,
                obj_ids=[obj_id for obj_id, _ in prompts[position]],
                input_boxes=[[box for _, box in prompts[position]]],
                original_size=inputs["original_sizes"][0],
            )
        if not session.obj_ids:
            continue
        output = model(inference_session=session, frame=inputs["pixel_values"][0])
        masks = processor.post_process_masks([output.pred_masks], original_sizes=inputs["original_sizes"])[0]
        arrays[f"masks_{position}"] = masks[:, 0].numpy()
        arrays[f"ids_{position}"] = np.array(output.object_ids)
        arrays[f"pixels_{position}"] = inputs["pixel_values"].numpy()
    np.savez(out_path, **arrays)
    print("SAM2-VIDEO-REFERENCE-OK", type(processor).__name__, len(arrays) // 3)


if __name__ == "__main__":
    main(*sys.argv[1:5])
