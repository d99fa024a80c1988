"""What each trainable family tells the shared trainer."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

#: How training splits a review (as export does); in this light module so that building the CLI
#: parser (``train --help``) imports no numpy.
DEFAULT_TRAIN_SPLIT = "train=0.8,val=0.2"


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


def tiny_detr_config(backbone: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """The tiny DETR-style encoder and decoder every architecture's ``tiny_config`` shares.

    One place, so ``--config tiny`` means the same widths for each architecture and only the
    backbone (and an architecture's own extras) differ. The encoder reads the backbone's last
    three stages, so its input channels follow the backbone's ``hidden_sizes``.
    """
    return {
        "backbone_config": backbone,
        "encoder_hidden_dim": 64,
        "encoder_in_channels": list(backbone["hidden_sizes"][1:]),
        "encoder_ffn_dim": 128,
        "encoder_attention_heads": 4,
        "d_model": 64,
        "decoder_in_channels": [64, 64, 64],
        "decoder_ffn_dim": 128,
        "decoder_attention_heads": 4,
        "decoder_layers": 2,
        "num_queries": 30,
        "num_denoising": 20,
        "freeze_backbone_batch_norms": False,
        **extra,
    }
