"""Published checkpoints of the families groundlabel reads, for pickers and docs.

Any other hub id or local folder of a supported family works too; this list only
saves typing and says what each checkpoint is.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Checkpoint:
    family: str  # config.model_type
    model_id: str  # Hugging Face hub id
    note: str = ""


KNOWN_CHECKPOINTS: tuple[Checkpoint, ...] = (
    Checkpoint("grounding-dino", "IDEA-Research/grounding-dino-tiny", "default"),
    Checkpoint("grounding-dino", "IDEA-Research/grounding-dino-base"),
    Checkpoint("mm-grounding-dino", "openmmlab-community/mm_grounding_dino_tiny_o365v1_goldg"),
    Checkpoint("mm-grounding-dino", "openmmlab-community/mm_grounding_dino_tiny_o365v1_goldg_grit_v3det"),
    Checkpoint("mm-grounding-dino", "openmmlab-community/mm_grounding_dino_base_o365v1_goldg_v3det"),
    Checkpoint("mm-grounding-dino", "iSEE-Laboratory/llmdet_tiny", "LLMDet"),
    Checkpoint("mm-grounding-dino", "iSEE-Laboratory/llmdet_base", "LLMDet"),
    Checkpoint("mm-grounding-dino", "iSEE-Laboratory/llmdet_large", "LLMDet"),
    Checkpoint("owlv2", "google/owlv2-base-patch16-ensemble", "example boxes"),
    Checkpoint("owlv2", "google/owlv2-large-patch14-ensemble", "example boxes"),
    Checkpoint("owlvit", "google/owlvit-base-patch32", "example boxes"),
    Checkpoint("owlvit", "google/owlvit-base-patch16", "example boxes"),
)


def picker_entries() -> list[tuple[str, str]]:
    """(shown text, model id) for a model picker, grouped by family."""
    return [
        (f"{c.family}: {c.model_id}" + (f" ({c.note})" if c.note else ""), c.model_id)
        for c in KNOWN_CHECKPOINTS
    ]
