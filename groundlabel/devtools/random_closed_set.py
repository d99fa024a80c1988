"""Random-weight closed-set checkpoints (RT-DETRv2, D-FINE), saved as ``groundlabel train`` saves them.

The architecture's ``tiny_config`` (``--config tiny``), the project's classes as ``id2label``,
and the PIL image processor at a small square size: a folder ``Detector.load`` reads like a
trained model, built in under a second, for tests and the synthetic benchmark.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from groundlabel.devtools.synthetic_shapes import SHAPE_CLASSES

#: the square side the tiny closed-set processor resizes to (a multiple of 32).
TINY_SIZE = 96


def save_random_closed_set(
    folder: str | Path,
    arch: str = "rt-detr-v2",
    classes: Sequence[str] = SHAPE_CLASSES,
    *,
    seed: int = 0,
    image_size: int = TINY_SIZE,
) -> Path:
    """A tiny random model of ``arch`` with ``classes``, saved with ``save_pretrained``."""
    from groundlabel.trainers import architecture
    from groundlabel.trainers.model_setup import new_processor, scratch_model

    folder = Path(folder)
    torch.manual_seed(seed)
    model = scratch_model(architecture(arch), list(classes), Path("tiny"))
    model.save_pretrained(folder)
    new_processor(image_size).save_pretrained(folder)
    return folder
