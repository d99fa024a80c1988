"""Run in the readers venv: SAM 3's transformers reference path on images and phrases, as JSON.

Usage: python sam3_reference.py REQUEST.json OUT_DIR

REQUEST holds ``models`` (name -> {folder, threshold}), ``images`` (PNG paths) and ``phrases``.
The reference is the model card's code: ``Sam3Processor(images=..., text=...)``, the
model's full forward, ``post_process_instance_segmentation(threshold, mask_threshold=0.5,
target_sizes=[(h, w)])``. ``Sam3ImageProcessor`` imports torchvision; the PyPI wheel's
C++ ops cannot load next to the CPU torch, so the ``torchvision::nms`` schema is declared
here (the text path never calls it). For each model, OUT_DIR/NAME/result.json has scores
and boxes, NAME/<image>-<phrase>.npy the masks and NAME/<image>.pixels.npy the pixels.
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


def _no_nms(dets: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    raise NotImplementedError("the SAM 3 text path does not run NMS")


_lib.impl("nms", _no_nms, "CPU")

from PIL import Image  # noqa: E402
from transformers import AutoModel, Sam3Processor  # noqa: E402


def run(model_dir: str, threshold: float, request: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    processor = Sam3Processor.from_pretrained(model_dir)
    model = AutoModel.from_pretrained(model_dir).eval()
    result: dict = {"family": model.config.model_type, "images": {}}
    for index, path in enumerate(request["images"]):
        image = Image.open(path).convert("RGB")
        per_phrase = {}
        for number, phrase in enumerate(request["phrases"]):
            inputs = processor(images=image, text=phrase, return_tensors="pt")
            if number == 0:
                np.save(out / f"{index}.pixels.npy", inputs["pixel_values"].numpy())
            with torch.no_grad():
                outputs = model(**inputs)
            found = processor.post_process_instance_segmentation(
                outputs, threshold=threshold, mask_threshold=0.5, target_sizes=[image.size[::-1]]
            )[0]
            np.save(out / f"{index}-{number}.npy", found["masks"].numpy().astype(bool))
            per_phrase[phrase] = {"scores": found["scores"].tolist(), "boxes": found["boxes"].tolist()}
        result["images"][str(index)] = per_phrase
    (out / "result.json").write_text(json.dumps(result))


def main() -> None:
    request = json.loads(Path(sys.argv[1]).read_text())
    for name, model in request["models"].items():
        run(model["folder"], model["threshold"], request, Path(sys.argv[2]) / name)
    print("SAM3-REFERENCE-DONE")


if __name__ == "__main__":
    main()
