"""Run in the readers venv: a video tracker's transformers reference path, frame by frame, to an .npz.

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

The checkpoint's ``model_type`` picks transformers' classes: SAM 2.1 (``Sam2VideoProcessor``,
``Sam2VideoModel``), EdgeTAM (the same processor, as its hub checkpoints name it;
``EdgeTamVideoModel``), the SAM 3 tracker and a full SAM 3 video checkpoint
(``Sam3TrackerVideoProcessor`` over ``Sam3ImageProcessor``; ``Sam3TrackerVideoModel``).
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
    import transformers as tf
    from PIL import Image

    model_type = json.loads((Path(checkpoint) / "config.json").read_text())["model_type"]
    image_class, processor_class, model_class = {
        "sam2_video": (tf.Sam2ImageProcessor, tf.Sam2VideoProcessor, tf.Sam2VideoModel),
        "edgetam_video": (tf.Sam2ImageProcessor, tf.Sam2VideoProcessor, tf.EdgeTamVideoModel),
        "sam3_tracker_video": (tf.Sam3ImageProcessor, tf.Sam3TrackerVideoProcessor, tf.Sam3TrackerVideoModel),
        "sam3_video": (tf.Sam3ImageProcessor, tf.Sam3TrackerVideoProcessor, tf.Sam3TrackerVideoModel),
    }[model_type]
    image_processor = image_class.from_pretrained(checkpoint)
    size = image_processor.size
    video_processor = tf.Sam2VideoVideoProcessor(size={"height": size["height"], "width": size["width"]})
    processor = processor_class(image_processor=image_processor, video_processor=video_processor)
    model = model_class.from_pretrained(checkpoint).eval()
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
        arrays[f"logits_{position}"] = output.pred_masks.float().numpy()
    np.savez(out_path, **arrays)
    print("SAM2-VIDEO-REFERENCE-OK", type(processor).__name__, len(arrays) // 4, type(model).__name__)


if __name__ == "__main__":
    main(*sys.argv[1:5])
