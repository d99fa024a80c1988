"""The interface every segmenter adapter implements, and loading one by checkpoint.

Front ends hold an ``ImageEmbedding`` per open image (the costly part, one vision pass) and
ask for masks from boxes and points against it, so a point edit costs only the prompt
encoder and mask decoder.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

XYXY = tuple[float, float, float, float]


@dataclass
class MaskProposal:
    """One mask for one prompt: a boolean array of the image's size and the model's
    predicted IoU for it (its confidence)."""

    mask: np.ndarray  # bool, (height, width) of the image as shown
    score: float


@dataclass
class ImageEmbedding:
    """What a segmenter computed once for an image: its features and the sizes its
    post-processing needs. Opaque to callers; only the adapter that made it reads ``data``."""

    model_record: str
    image_size: tuple[int, int]  # (width, height) of the image as shown
    data: Any


class Segmenter(ABC):
    """A loaded mask model of one family."""

    family: str
    model_name: str

    @property
    def model_record(self) -> str:
        """Family and checkpoint, as boxes' ``mask_model`` and model versions record them."""
        return f"{self.family}:{self.model_name}"

    @abstractmethod
    def embed(self, image: Image.Image) -> ImageEmbedding:
        """Run the vision encoder once for an image (RGB, as shown)."""

    @abstractmethod
    def masks_for_boxes(self, embedding: ImageEmbedding, boxes: Sequence[XYXY]) -> list[MaskProposal]:
        """One mask per xyxy pixel box, in order, all from one embedding."""

    @abstractmethod
    def mask_for_prompt(
        self,
        embedding: ImageEmbedding,
        box: XYXY | None,
        points: Sequence[tuple[float, float]] = (),
        point_labels: Sequence[int] = (),
    ) -> MaskProposal:
        """One mask from a box and/or points (pixels; label 1 positive, 0 negative)."""


def load_segmenter(model: str, device: str = "auto", dtype: str = "fp32") -> Segmenter:
    """A segmenter from a hub id or a ``save_pretrained`` folder, by its ``config.model_type``.

    Failures (missing, gated, unsupported family) raise ``ModelLoadError`` with one clear line.
    """
    from groundlabel.segmenters import SEGMENTER_FAMILIES

    family = check_segmenter(model).split(":", 1)[0]
    module = importlib.import_module(f"groundlabel.segmenters.{SEGMENTER_FAMILIES[family]}")
    return module.load(model, device=device, dtype=dtype)


def check_segmenter(model: str) -> str:
    """The ``model_record`` ``model`` would have once loaded, from its config alone (no weights).

    Lets a driver (``detect --ray``) refuse a bad mask model in one line before its workers
    load it, and record the model as the plain path does. Each adapter's ``family`` is its
    ``config.model_type``.
    """
    from groundlabel.model_loading import ModelLoadError
    from groundlabel.segmenters import SEGMENTER_FAMILIES

    config = _read_config(model)
    family = str(config.get("model_type", ""))
    if family not in SEGMENTER_FAMILIES:
        raise ModelLoadError(
            f"{model}: model type {family!r} is not a mask model groundlabel can run; "
            f"use a SAM, SAM-HQ or SAM 2.1 checkpoint (families: {', '.join(SEGMENTER_FAMILIES)})"
        )
    return f"{family}:{model}"


def _read_config(model: str) -> dict[str, Any]:
    """config.json of a folder or hub id, as a dict (``ModelLoadError`` when it cannot be had)."""
    from groundlabel.segmenters.loading import read_config

    return read_config(model)
