"""SAM (``SamModel`` + ``SamProcessor``): boxes and points in, one mask per prompt out.

The reference path is ``processor(images, input_boxes=[[...]])``, ``model(**inputs,
multimask_output=False)``, then ``processor.post_process_masks(pred_masks, original_sizes,
reshaped_input_sizes)`` (bool masks at the image's size) with ``iou_scores`` as each mask's
score. This adapter splits that path at the image embedding: ``embed`` runs the processor's
image half and the vision encoder once (``get_image_embeddings``), and every box or point
edit after it runs only the prompt encoder and mask decoder (``image_embeddings=``). The
prompt coordinates are scaled with the processor's own arithmetic (float32 boxes, float64
scaling to the resized image), so masks equal the reference pixel for pixel.

Which mask per prompt: SAM predicts three candidate masks for ambiguous prompts and one for
unambiguous ones. A box, or two or more points, is unambiguous: the single output
(``multimask_output=False``), as SAM's authors advise. A lone point (no box) is ambiguous:
the three candidates, and the one with the highest predicted IoU wins. The score kept is
that mask's predicted IoU (``iou_scores``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image

from groundlabel.inference.fp32_islands import cpu_autocast, to_fp32
from groundlabel.segmenters.base import XYXY, ImageEmbedding, MaskProposal, Segmenter

#: boxes decoded together: the decoder repeats the image embedding once per box
#: (4 MB each at SAM's 256x64x64), so this bounds memory on images with many boxes.
BOX_CHUNK = 16


@dataclass
class SamFeatures:
    """What ``embed`` keeps for an image: the vision output and the processor's sizes."""

    image_embeddings: Any  # tensor (1, C, h, w), or a tuple of tensors for families that need more
    original_size: tuple[int, int]  # (height, width), as the processor reports it
    reshaped_size: tuple[int, int]  # (height, width) after the longest-edge resize


class SamSegmenter(Segmenter):
    """``SamModel`` behind the ``Segmenter`` interface; SAM-HQ subclasses it."""

    family = "sam"

    def __init__(
        self, model: torch.nn.Module, processor: Any, device: torch.device, dtype: torch.dtype, name: str
    ) -> None:
        self.model = model
        self.processor = processor
        self.device = device
        self.dtype = dtype
        self.model_name = name
        #: the image encoder runs under CPU bf16 autocast (``--dtype bf16``); the decoder stays fp32
        self.cpu_autocast = False

    @property
    def image_processor(self) -> Any:
        return self.processor.image_processor

    # --- the vision half ---------------------------------------------------------------
    def embed(self, image: Image.Image) -> ImageEmbedding:
        if image.mode != "RGB":
            image = image.convert("RGB")
        inputs = self.image_processor(images=image, return_tensors="pt")
        pixel_values = inputs["pixel_values"].to(self.device, self.dtype)
        with torch.inference_mode(), cpu_autocast(self.cpu_autocast):
            features = self._vision(pixel_values)
        features = to_fp32(features)  # the decoder (and any cache) reads fp32
        features = SamFeatures(
            features,
            tuple(int(v) for v in inputs["original_sizes"][0]),
            tuple(int(v) for v in inputs["reshaped_input_sizes"][0]),
        )
        return ImageEmbedding(self.model_record, image.size, features)

    def _vision(self, pixel_values: torch.Tensor) -> Any:
        return self.model.get_image_embeddings(pixel_values)

    def _decoder_inputs(self, features: SamFeatures) -> dict[str, Any]:
        """The model's keyword arguments that stand for the image (instead of pixel_values)."""
        return {"image_embeddings": features.image_embeddings}

    # --- prompts -----------------------------------------------------------------------
    def _scale(self, coords: np.ndarray, features: SamFeatures) -> np.ndarray:
        """Pixel xy pairs (last axis 2, or 4 for boxes) to the resized image, as the processor does."""
        old_h, old_w = features.original_size
        new_h, new_w = features.reshaped_size
        pairs = coords.astype(float).reshape(-1, 2)
        pairs[:, 0] = pairs[:, 0] * (new_w / old_w)
        pairs[:, 1] = pairs[:, 1] * (new_h / old_h)
        return pairs.reshape(coords.shape)

    def _box_tensor(self, boxes: Sequence[XYXY], features: SamFeatures) -> torch.Tensor:
        # The processor reads boxes as float32 before scaling them in float64.
        array = np.asarray([list(b) for b in boxes], dtype=np.float32)
        return self._on_device(torch.from_numpy(self._scale(array, features)).unsqueeze(0))

    def _on_device(self, coords: torch.Tensor) -> torch.Tensor:
        """float64 prompt coordinates, as the processor makes them; MPS has no float64, so float32 there."""
        if self.device.type == "mps" and coords.dtype == torch.float64:
            coords = coords.to(torch.float32)
        return coords.to(self.device)

    def _point_tensors(
        self, points: Sequence[tuple[float, float]], labels: Sequence[int], features: SamFeatures
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(input_points (1, 1, n, 2), input_labels (1, 1, n)) for one object, as the processor makes them."""
        coords = self._scale(np.array([[list(p) for p in points]]), features)
        return (
            self._on_device(torch.from_numpy(coords).unsqueeze(0)),
            torch.from_numpy(np.array([[list(labels)]])).to(self.device),
        )

    def _decode(
        self, features: SamFeatures, multimask: bool, **prompts: Any
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(pred_masks (1, prompts, k, h, w), iou_scores (1, prompts, k)) for one image."""
        with torch.inference_mode():
            outputs = self.model(**self._decoder_inputs(features), multimask_output=multimask, **prompts)
        return outputs.pred_masks, outputs.iou_scores

    def _to_image(self, low_res: torch.Tensor, features: SamFeatures) -> np.ndarray:
        """Low-res logits (k, h, w) of one prompt to bool masks (k, H, W) at the image's size."""
        masks = self.image_processor.post_process_masks(
            [low_res.unsqueeze(0).float().cpu()], [features.original_size], [features.reshaped_size]
        )[0]
        return masks[0].numpy()

    def masks_for_boxes(self, embedding: ImageEmbedding, boxes: Sequence[XYXY]) -> list[MaskProposal]:
        features: SamFeatures = embedding.data
        proposals: list[MaskProposal] = []
        for start in range(0, len(boxes), BOX_CHUNK):
            chunk = boxes[start : start + BOX_CHUNK]
            pred_masks, iou_scores = self._decode(
                features, False, input_boxes=self._box_tensor(chunk, features)
            )
            for j in range(len(chunk)):
                mask = self._to_image(pred_masks[0, j], features)[0]
                proposals.append(MaskProposal(mask, float(iou_scores[0, j, 0])))
        return proposals

    def mask_for_prompt(
        self,
        embedding: ImageEmbedding,
        box: XYXY | None,
        points: Sequence[tuple[float, float]] = (),
        point_labels: Sequence[int] = (),
    ) -> MaskProposal:
        if len(points) != len(point_labels):
            raise ValueError(f"{len(points)} points but {len(point_labels)} point labels")
        if box is None and not points:
            raise ValueError("a mask prompt needs a box or at least one point")
        features: SamFeatures = embedding.data
        prompts: dict[str, torch.Tensor] = {}
        if points:
            prompts["input_points"], prompts["input_labels"] = self._point_tensors(
                points, point_labels, features
            )
        if box is not None:
            prompts["input_boxes"] = self._box_tensor([box], features)
        multimask = box is None and len(points) == 1
        pred_masks, iou_scores = self._decode(features, multimask, **prompts)
        scores = iou_scores[0, 0]
        best = int(torch.argmax(scores)) if multimask else 0
        masks = self._to_image(pred_masks[0, 0, best : best + 1], features)
        return MaskProposal(masks[0], float(scores[best]))


def load(model: str, device: str = "auto", dtype: str = "fp32") -> SamSegmenter:
    """A SAM checkpoint (``facebook/sam-vit-base`` and the like, or a folder)."""
    from transformers import SamModel, SamProcessor

    from groundlabel.segmenters.loading import load_checkpoint

    network, processor, resolved_device, torch_dtype, cpu_autocast = load_checkpoint(
        model, SamModel, SamProcessor, device, dtype
    )
    segmenter = SamSegmenter(network, processor, resolved_device, torch_dtype, model)
    segmenter.cpu_autocast = cpu_autocast
    return segmenter
