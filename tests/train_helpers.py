"""Tiny random closed-set checkpoints (as ``groundlabel train`` saves them) and a shapes project."""

from __future__ import annotations

from pathlib import Path

import torch

from groundlabel.devtools.synthetic_shapes import SHAPE_CLASSES
from groundlabel.trainers import architecture
from groundlabel.trainers.model_setup import new_processor, scratch_model

TINY_SIZE = 96


def save_closed_set_model(
    folder: Path, arch: str = "rt-detr-v2", classes=SHAPE_CLASSES, seed: int = 0
) -> Path:
    """A tiny random model of ``arch`` with ``classes``, saved with save_pretrained like a trained one."""
    torch.manual_seed(seed)
    model = scratch_model(architecture(arch), list(classes), "tiny")
    model.save_pretrained(folder)
    new_processor(TINY_SIZE).save_pretrained(folder)
    return folder
