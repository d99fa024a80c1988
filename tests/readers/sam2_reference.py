"""Run in the readers venv: SAM 2.1's transformers reference path, masks and scores to an .npz.

Usage: python sam2_reference.py CHECKPOINT_DIR IMAGE CASES_JSON OUT_NPZ

The reference is the model card's: ``Sam2Processor(images, input_boxes/points/labels)``,
``Sam2Model(**inputs, multimask_output=...)``, ``post_process_masks(pred_masks,
original_sizes)``. ``Sam2ImageProcessor`` needs torchvision, which is why this runs here and
not in the project venv. As in ``torch_readers.py``, the PyPI torchvision is a CUDA build
whose C++ ops cannot load next to the CPU torch, so its import would fail on the missing
``torchvision::nms``/``qnms`` schemas; we declare them (nothing here calls it: the processor imports
``batched_nms`` for automatic mask generation only).
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


def main(checkpoint: str, image_path: str, cases_path: str, out_path: str) -> None:
    from PIL import Image
    from transformers import Sam2Model, Sam2Processor

    processor = Sam2Processor.from_pretrained(checkpoint)
    model = Sam2Model.from_pretrained(checkpoint).eval()
    image = Image.open(image_path).convert("RGB")
    arrays: dict[str, np.ndarray] = {
        "pixel_values": processor(images=image, return_tensors="pt")["pixel_values"].numpy()
    }
    for i, case in enumerate(json.loads(Path(cases_path).read_text())):
        prompts = {k: case[k] for k in ("input_boxes", "input_points", "input_labels") if k in case}
        inputs = processor(images=image, return_tensors="pt", **prompts)
        with torch.no_grad():
            outputs = model(**inputs, multimask_output=case.get("multimask", False))
        masks = processor.post_process_masks(outputs.pred_masks, inputs["original_sizes"])[0]
        arrays[f"masks_{i}"] = masks.numpy()
        arrays[f"scores_{i}"] = outputs.iou_scores[0].numpy()
    np.savez(out_path, **arrays)
    print("SAM2-REFERENCE-OK", type(processor.image_processor).__name__)


if __name__ == "__main__":
    main(*sys.argv[1:5])
