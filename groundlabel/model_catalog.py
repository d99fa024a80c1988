"""Published checkpoints of the families groundlabel reads, for pickers and docs.

Any other hub id or local folder of a supported family works too; this list only
saves typing and says what each checkpoint is, under which licence, and whether the
hub gates it (request access on the model page, then ``hf auth login``).
"""

from __future__ import annotations

from dataclasses import dataclass

#: The detector a command runs without --model. Here, not in model_loading (torch), so that
#: parsing ``--help`` never imports torch.
DEFAULT_MODEL = "IDEA-Research/grounding-dino-tiny"
#: The mask model ``detect --masks`` and ``segment`` use when none is named (the reasons are in
#: ``groundlabel.segmenters``, which re-exports it); here for the same reason as DEFAULT_MODEL.
DEFAULT_SEGMENTER = "facebook/sam2.1-hiera-tiny"

APACHE = "Apache-2.0"
#: Meta's licence for SAM 3: custom, not open source; it forbids some uses (military, ITAR, weapons).
SAM_LICENSE = "SAM License (custom; forbids some uses)"


@dataclass(frozen=True)
class Checkpoint:
    family: str  # config.model_type
    model_id: str  # Hugging Face hub id
    note: str = ""
    licence: str = APACHE  # as the model card states it
    gated: bool = False  # the hub answers 401/403 until access is granted

    @property
    def licence_text(self) -> str:
        """The licence and the gating, in one line for a picker or a table."""
        return self.licence + ("; gated: request access on the hub, then hf auth login" if self.gated else "")


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
    Checkpoint("sam3", "facebook/sam3", "masks", SAM_LICENSE, gated=True),
    Checkpoint(
        "sam3_lite_text",
        "yonigozlan/sam3-litetext-s0",
        "masks",
        "SAM License (SAM 3 weights; see the model card)",
    ),
)


def picker_entries() -> list[tuple[str, str]]:
    """(shown text, model id) for a model picker, grouped by family; the text names the licence."""
    return [
        (
            f"{c.family}: {c.model_id}" + (f" ({c.note})" if c.note else "") + f" [{c.licence_text}]",
            c.model_id,
        )
        for c in KNOWN_CHECKPOINTS
    ]


def licence_of(model_id: str) -> str | None:
    """The listed checkpoint's licence line, or None for a hub id or folder not in the list."""
    listed = (*KNOWN_CHECKPOINTS, *MASK_CHECKPOINTS)
    return next((c.licence_text for c in listed if c.model_id == model_id), None)


#: Box -> mask models (``groundlabel.segmenters``, for ``detect --masks`` and ``segment``):
#: SAM 2.1, SAM and SAM-HQ, all ungated. SAM 2.1 tiny is the default.
SAM_HQ_LICENCE = "Apache-2.0 (SysCV/sam-hq's licence; see the model card)"
MASK_CHECKPOINTS: tuple[Checkpoint, ...] = (
    Checkpoint("sam2", "facebook/sam2.1-hiera-tiny", "default mask model"),
    Checkpoint("sam2", "facebook/sam2.1-hiera-small"),
    Checkpoint("sam2", "facebook/sam2.1-hiera-base-plus"),
    Checkpoint("sam2", "facebook/sam2.1-hiera-large"),
    Checkpoint("sam", "facebook/sam-vit-base"),
    Checkpoint("sam", "facebook/sam-vit-large"),
    Checkpoint("sam", "facebook/sam-vit-huge"),
    Checkpoint("sam_hq", "syscv-community/sam-hq-vit-base", "finer edges", SAM_HQ_LICENCE),
)


def mask_picker_entries() -> list[tuple[str, str]]:
    """(shown text, model id) for a mask-model picker, the licence in the text."""
    return [
        (
            f"{c.family}: {c.model_id}" + (f" ({c.note})" if c.note else "") + f" [{c.licence_text}]",
            c.model_id,
        )
        for c in MASK_CHECKPOINTS
    ]
