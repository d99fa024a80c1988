"""The transformers reference path for SAM masks, called directly (no groundlabel code).

Desktop tests compare the reviewer's masks with this: ``SamProcessor`` and ``SamModel`` on
the same image, box and points, ``multimask_output=False`` (a box, or a box with points, is
unambiguous), ``post_process_masks`` to bool masks at the image's size.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps


class SamReference:
    def __init__(self, folder: str | Path) -> None:
        from transformers import SamModel, SamProcessor

        self.model = SamModel.from_pretrained(folder).eval()
        self.processor = SamProcessor.from_pretrained(folder)

    def mask(
        self,
        image_path: str | Path,
        box: Sequence[float],
        points: Sequence[tuple[float, float]] = (),
        labels: Sequence[int] = (),
    ) -> np.ndarray:
        """Bool (height, width) mask of the image as shown (EXIF-upright RGB)."""
        with Image.open(image_path) as raw:
            image = ImageOps.exif_transpose(raw).convert("RGB")
        prompts: dict = {"input_boxes": [[[float(v) for v in box]]]}
        if points:
            prompts["input_points"] = [[[[float(x), float(y)] for x, y in points]]]
            prompts["input_labels"] = [[list(labels)]]
        inputs = self.processor(images=image, return_tensors="pt", **prompts)
        with torch.no_grad():
            outputs = self.model(**inputs, multimask_output=False)
        masks = self.processor.post_process_masks(
            outputs.pred_masks, inputs["original_sizes"], inputs["reshaped_input_sizes"]
        )
        return masks[0][0, 0].numpy().astype(bool)
