"""SAM 2.1 (``Sam2Model``) without torchvision: our own preprocessing, the model's own decoding.

transformers' ``Sam2ImageProcessor`` is torchvision-only, so this adapter does its work with
torch alone, step for step as it does it (and a test holds the two equal in a venv that has
torchvision): the RGB image as a uint8 tensor, resized to the square input (1024x1024 for
the published checkpoints) bilinearly with antialiasing (natively in uint8 on AVX2/AVX512
and ARM CPUs, else through float32 and rounding, as torchvision chooses), then rescaled
and normalised with ImageNet's mean and std fused as the processor fuses them. Prompt
coordinates are scaled in float32 as ``Sam2Processor`` scales them (no aspect-preserving
resize: x by 1024/width, y by 1024/height), and masks are upsampled from the decoder's
256x256 logits straight to the image's size (bilinear, threshold 0), as
``Sam2ImageProcessor.post_process_masks`` does.

The mask choice is SAM's (``groundlabel.segmenters.sam``); SAM 2's single output already
falls back to the best of its three candidates when it is unstable (the model's own
``dynamic_multimask_via_stability``), which we keep as the reference does.
"""

from __future__ import annotations

import platform
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from groundlabel.inference.fp32_islands import cpu_autocast, to_fp32
from groundlabel.processor_config import read_image_processor_config
from groundlabel.segmenters.base import XYXY, ImageEmbedding
from groundlabel.segmenters.sam import SamFeatures, SamSegmenter

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class Sam2Preprocessing:
    """What ``Sam2ImageProcessor`` does to an image, from its saved config, in torch alone."""

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        config = config or {}
        size = config.get("size") or {"height": 1024, "width": 1024}
        self.height = int(size.get("height", size.get("longest_edge", 1024)))
        self.width = int(size.get("width", size.get("longest_edge", 1024)))
        self.rescale_factor = float(config.get("rescale_factor", 1 / 255))
        self.mean = list(config.get("image_mean") or IMAGENET_MEAN)
        self.std = list(config.get("image_std") or IMAGENET_STD)

    @property
    def target_size(self) -> int:
        """The side prompts are scaled to (``Sam2Processor.target_size``: the input's height)."""
        return self.height

    def pixel_values(self, image: Image.Image) -> torch.Tensor:
        """(1, 3, height, width) float32, as the processor's ``pixel_values``."""
        array = np.array(image.convert("RGB") if image.mode != "RGB" else image)
        pixels = torch.from_numpy(array).permute(2, 0, 1).contiguous().unsqueeze(0)
        if (pixels.shape[-2], pixels.shape[-1]) != (self.height, self.width):
            pixels = self._resize(pixels)
        # Rescale and normalise fused: (x - mean/r) / (std/r), in float32.
        mean = torch.tensor(self.mean) * (1.0 / self.rescale_factor)
        std = torch.tensor(self.std) * (1.0 / self.rescale_factor)
        return (pixels.to(torch.float32) - mean.view(-1, 1, 1)) / std.view(-1, 1, 1)

    def _resize(self, pixels: torch.Tensor) -> torch.Tensor:
        size = [self.height, self.width]
        native_uint8 = torch.backends.cpu.get_cpu_capability() in (
            "AVX2",
            "AVX512",
        ) or platform.machine() in (
            "aarch64",
            "arm64",
        )
        if native_uint8:
            return F.interpolate(pixels, size=size, mode="bilinear", align_corners=False, antialias=True)
        resized = F.interpolate(
            pixels.to(torch.float32), size=size, mode="bilinear", align_corners=False, antialias=True
        )
        return resized.round_().to(torch.uint8)


class Sam2Segmenter(SamSegmenter):
    """``Sam2Model`` behind the ``Segmenter`` interface."""

    family = "sam2"

    def __init__(
        self,
        model: torch.nn.Module,
        preprocessing: Sam2Preprocessing,
        device: torch.device,
        dtype: torch.dtype,
        name: str,
    ) -> None:
        super().__init__(model, None, device, dtype, name)
        self.preprocessing = preprocessing

    def embed(self, image: Image.Image) -> ImageEmbedding:
        pixel_values = self.preprocessing.pixel_values(image).to(self.device, self.dtype)
        with torch.inference_mode(), cpu_autocast(self.cpu_autocast):
            features = list(self.model.get_image_embeddings(pixel_values))
        features = to_fp32(features)  # the decoder (and any cache) reads fp32
        side = self.preprocessing.target_size
        sizes = SamFeatures(features, (image.height, image.width), (side, side))
        return ImageEmbedding(self.model_record, image.size, sizes)

    def _box_tensor(self, boxes: Sequence[XYXY], features: SamFeatures) -> torch.Tensor:
        coords = torch.tensor([[list(b) for b in boxes]], dtype=torch.float32)
        return self._scale_tensor(coords, features).to(self.device)

    def _point_tensors(
        self, points: Sequence[tuple[float, float]], labels: Sequence[int], features: SamFeatures
    ) -> tuple[torch.Tensor, torch.Tensor]:
        coords = torch.tensor([[[list(p) for p in points]]], dtype=torch.float32)
        return (
            self._scale_tensor(coords, features).to(self.device),
            torch.tensor([[list(labels)]], dtype=torch.int64).to(self.device),
        )

    @staticmethod
    def _scale_tensor(coords: torch.Tensor, features: SamFeatures) -> torch.Tensor:
        """float32 xy pairs scaled to the square input, as ``Sam2Processor`` does."""
        old_h, old_w = features.original_size
        new_h, new_w = features.reshaped_size
        pairs = coords.reshape(-1, 2).clone()
        pairs[..., 0] = pairs[..., 0] * (new_w / old_w)
        pairs[..., 1] = pairs[..., 1] * (new_h / old_h)
        return pairs.reshape(coords.shape)

    def _to_image(self, low_res: torch.Tensor, features: SamFeatures) -> np.ndarray:
        masks = F.interpolate(
            low_res.unsqueeze(0).float().cpu(), features.original_size, mode="bilinear", align_corners=False
        )
        return (masks > 0.0)[0].numpy()


def _preprocessor_config(model: str, local_files_only: bool) -> dict[str, Any] | None:
    """The checkpoint's saved image-processor settings, read as JSON (the class needs torchvision)."""
    return read_image_processor_config(
        model, local_files_only, names=("preprocessor_config.json", "processor_config.json")
    )


class Sam2PreprocessingLoader:
    """Stands where a processor class would for ``load_checkpoint``: reads the saved settings
    (the image and the video checkpoints of SAM 2.1 share them)."""

    @staticmethod
    def from_pretrained(name: str, local_files_only: bool = False) -> Sam2Preprocessing:
        return Sam2Preprocessing(_preprocessor_config(name, local_files_only))


def load(model: str, device: str = "auto", dtype: str = "fp32") -> Sam2Segmenter:
    """A SAM 2.1 checkpoint (``facebook/sam2.1-hiera-tiny`` and the like, or a folder)."""
    from transformers import Sam2Model

    from groundlabel.segmenters.loading import load_checkpoint

    network, preprocessing, resolved_device, torch_dtype, cpu_autocast = load_checkpoint(
        model, Sam2Model, Sam2PreprocessingLoader, device, dtype
    )
    segmenter = Sam2Segmenter(network, preprocessing, resolved_device, torch_dtype, model)
    segmenter.cpu_autocast = cpu_autocast
    return segmenter
