"""What each trainable family tells the shared trainer."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Architecture:
    """A trainable closed-set family: its transformers classes, default start and licence.

    ``tiny_config`` gives a few-hundred-thousand-parameter config (tests and the
    synthetic benchmark train it from scratch on CPU).
    """

    name: str  # the --arch value
    model_type: str  # config.model_type of the saved model
    config_class: str  # transformers class names
    model_class: str
    default_checkpoint: str  # COCO-pretrained, on the Hugging Face Hub
    licence: str
    tiny_config: Callable[[], dict[str, Any]]
    #: fixed architecture constraints the image size must respect (a multiple of this).
    size_multiple: int = 32

    def config_type(self) -> type:
        return getattr(importlib.import_module("transformers"), self.config_class)

    def model_type_class(self) -> type:
        return getattr(importlib.import_module("transformers"), self.model_class)
