"""One adapter per detector family, chosen from the checkpoint's ``config.model_type``.

Every family turns (images, ``LabelSet``) into the same per-query tensors the
``Detector`` post-processes: probabilities over "prompt positions" and boxes, plus a map
from each position to the class that owns it. For Grounding DINO a position is a
prompt token; for OWL a position is one text (or example-box) query. With that map
the same class rule (one class per box, aliases, long lists split) applies to all of
them. SAM 3 (``sam3``, ``sam3_lite_text``) has no class logits, one phrase per pass, and
masks: its adapter post-processes itself (``owns_postprocessing``). OmDet-Turbo is not supported yet (``NOT_SUPPORTED`` says why).
"""

from __future__ import annotations

from groundlabel.families.base import FamilyAdapter, Prompt

#: model_type in config.json -> adapter module.
FAMILIES: dict[str, str] = {
    "grounding-dino": "grounding_dino",
    "mm-grounding-dino": "grounding_dino",
    "owlv2": "owl",
    "owlvit": "owl",
    "sam3": "sam3",
    "sam3_lite_text": "sam3",
    "rt_detr_v2": "rt_detr",
    "d_fine": "rt_detr",
}
#: closed-set families (classes fixed by the checkpoint's id2label; what ``groundlabel train`` makes),
#: loaded with ``AutoModelForObjectDetection`` instead of the zero-shot auto class.
CLOSED_SET: frozenset[str] = frozenset({"rt_detr_v2", "d_fine"})
#: families transformers has but groundlabel cannot run yet, with the reason.
NOT_SUPPORTED: dict[str, str] = {
    "omdet-turbo": "OmDet-Turbo's processor needs torchvision and its backbone timm, which groundlabel "
    "does not install (they replace the CPU torch build); use an OWLv2 or MM Grounding DINO checkpoint",
}


def adapter_for(model_type: str) -> type[FamilyAdapter]:
    """The adapter class for a checkpoint's ``model_type`` (KeyError when unsupported)."""
    import importlib

    module = importlib.import_module(f"groundlabel.families.{FAMILIES[model_type]}")
    return module.ADAPTER


__all__ = ["CLOSED_SET", "FAMILIES", "NOT_SUPPORTED", "FamilyAdapter", "Prompt", "adapter_for"]
