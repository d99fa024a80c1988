"""Closed-set detectors trained on a project's reviewed boxes (``groundlabel train``).

One module per model family describes it (``rt_detr_v2``, ``d_fine``: transformers class,
default COCO checkpoint, licence, a tiny config for tests); the rest is shared: the
project's reviewed images and split (``data``), box-safe augmentation (``augment``), the
training loop with checkpoints and resume (``loop``), COCOeval on val (``evaluate``), the
report (``report``) and data-parallel training on Ray Train (``ray_train``). The trained
model is a ``save_pretrained`` folder that ``groundlabel.families.rt_detr`` runs.
"""

from __future__ import annotations

import importlib

from groundlabel.errors import GroundlabelError
from groundlabel.trainers.base import Architecture

#: --arch name -> module in groundlabel.trainers.
ARCHITECTURES: dict[str, str] = {"rt-detr-v2": "rt_detr_v2", "d-fine": "d_fine"}
DEFAULT_ARCH = "rt-detr-v2"


def architecture(name: str) -> Architecture:
    """The architecture for an ``--arch`` name, or a clear error listing the known ones."""
    if name not in ARCHITECTURES:
        raise GroundlabelError(f"unknown --arch {name!r}: use one of {', '.join(ARCHITECTURES)}")
    return importlib.import_module(f"groundlabel.trainers.{ARCHITECTURES[name]}").ARCHITECTURE


def architecture_for_model_type(model_type: str) -> Architecture:
    for name in ARCHITECTURES:
        arch = architecture(name)
        if arch.model_type == model_type:
            return arch
    raise GroundlabelError(f"no trainer for model_type {model_type!r}; trainable: {', '.join(ARCHITECTURES)}")


__all__ = ["ARCHITECTURES", "DEFAULT_ARCH", "Architecture", "architecture", "architecture_for_model_type"]
