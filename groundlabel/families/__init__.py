"""One adapter per detector family, chosen from the checkpoint's ``config.model_type``.

Every family turns (images, ``LabelSet``) into the same per-query tensors the
``Detector`` post-processes: probabilities over "prompt positions" and boxes, plus a map
from each position to the class that owns it. For Grounding DINO a position is a
prompt token; for OWL a position is one text (or example-box) query; for OmDet-Turbo
it is one class prompt. With that map the same class rule (one class per box, aliases,
long lists split) applies to all of them.
"""

from __future__ import annotations

from groundlabel.families.base import FamilyAdapter, Prompt

#: model_type in config.json -> (family name shown to users, adapter module).
FAMILIES: dict[str, str] = {
    "grounding-dino": "grounding_dino",
    "mm-grounding-dino": "grounding_dino",
    "owlv2": "owl",
    "owlvit": "owl",
    "omdet-turbo": "omdet_turbo",
}


def adapter_for(model_type: str) -> type[FamilyAdapter]:
    """The adapter class for a checkpoint's ``model_type`` (KeyError when unsupported)."""
    import importlib

    module = importlib.import_module(f"groundlabel.families.{FAMILIES[model_type]}")
    return module.ADAPTER


__all__ = ["FAMILIES", "FamilyAdapter", "Prompt", "adapter_for"]
