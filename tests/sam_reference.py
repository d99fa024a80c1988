"""The transformers reference SAM, computed directly, for tests that check groundlabel's masks.

``SamProcessor`` -> ``SamModel`` on pixel values -> ``post_process_masks``, as the model
card shows, with the mask choice SAM's authors advise (and ``groundlabel.segmenters.sam``
documents): one output for a box or several points, the best of three by predicted IoU for
a lone point.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps


class ReferenceSam:
    """A SAM checkpoint loaded with transformers' own classes, nothing of groundlabel's."""

    def __init__(self, folder: Path) -> None:
        from transformers import SamModel, SamProcessor

        self.model = SamModel.from_pretrained(folder).eval()
        self.processor = SamProcessor.from_pretrained(folder)

    def mask(
        self,
        image: Image.Image | str | Path,
        box: Sequence[float] | None = None,
        points: Sequence[Sequence[float]] = (),
        labels: Sequence[int] = (),
    ) -> np.ndarray:
        """The bool mask (height, width) for one prompt: a box and/or points in pixels.

        A path is read as groundlabel shows the image (EXIF-upright RGB).
        """
        if not isinstance(image, Image.Image):
            with Image.open(image) as raw:
                image = ImageOps.exif_transpose(raw).convert("RGB")
        prompts: dict = {}
        if box is not None:
            prompts["input_boxes"] = [[list(map(float, box))]]
        if points:
            prompts["input_points"] = [[[list(map(float, p)) for p in points]]]
            prompts["input_labels"] = [[list(labels)]]
        multimask = box is None and len(points) == 1
        inputs = self.processor(images=image.convert("RGB"), return_tensors="pt", **prompts)
        with torch.no_grad():
            outputs = self.model(**inputs, multimask_output=multimask)
        masks = self.processor.post_process_masks(
            outputs.pred_masks, inputs["original_sizes"], inputs["reshaped_input_sizes"]
        )[0].numpy()
        best = int(np.argmax(outputs.iou_scores[0, 0].numpy())) if multimask else 0
        return masks[0, best]

    def box_masks(self, image: Image.Image, boxes: Sequence[Sequence[float]]) -> list[np.ndarray]:
        """One mask per box, in reference passes of ``BOX_CHUNK`` boxes as the adapter decodes them.

        The batch matters at the last bit: the decoder's batched matmuls round differently for
        another number of boxes, which flips about one pixel in 10^5 at the 0 threshold (seen on
        the tiny model: 30 boxes in one pass vs in two). So the reference batches as the adapter
        does; each pass is still the model card's path.
        """
        from groundlabel.segmenters.sam import BOX_CHUNK

        found: list[np.ndarray] = []
        for start in range(0, len(boxes), BOX_CHUNK):
            chunk = [list(map(float, b)) for b in boxes[start : start + BOX_CHUNK]]
            inputs = self.processor(images=image.convert("RGB"), input_boxes=[chunk], return_tensors="pt")
            with torch.no_grad():
                outputs = self.model(**inputs, multimask_output=False)
            masks = self.processor.post_process_masks(
                outputs.pred_masks, inputs["original_sizes"], inputs["reshaped_input_sizes"]
            )[0].numpy()
            found += [masks[j, 0] for j in range(len(chunk))]
        return found


def detected_boxes(detector, image: Image.Image, labels: Sequence[str], box_threshold: float = 0.0):
    """The boxes a backend with ``detector`` finds on ``image`` (text threshold 0), in exact
    pixels: what the backend's masks are prompted with, for the reference to prompt the same."""
    from groundlabel.detector import DetectionSettings
    from groundlabel.labels import LabelClass, LabelSet

    label_set = LabelSet(tuple(LabelClass(name) for name in labels))
    return detector.detect_image(image, label_set, DetectionSettings(box_threshold, 0.0))
