"""What the mask worker computes: embeddings, box masks, point-prompt masks (no Qt).

Every function takes a ``Segmenter`` and an ``EmbeddingCache`` and returns project values
(``MaskValue``); the Qt side only decides when to call them and on which thread. Masks are
exactly what the segmenter returns for the box (and points): nothing is post-processed
here, so the reviewer's mask equals the model's transformers reference.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from pathlib import Path

from groundlabel.desktop.embedding_cache import EmbeddingCache
from groundlabel.desktop.mask_edits import PromptPoint

from groundlabel import masks as mask_codec
from groundlabel.images import load_image
from groundlabel.project.models import MaskValue
from groundlabel.segmenters.base import XYXY, ImageEmbedding, MaskProposal, Segmenter

BoxJob = tuple[int, XYXY]  # box id, its xyxy


def embedding_key(segmenter: Segmenter, path: str | Path) -> Hashable:
    """What an embedding is of: the model and the file as it is now (a rewritten file is new)."""
    try:
        stat = Path(path).stat()
        version = (stat.st_mtime_ns, stat.st_size)
    except OSError:
        version = None
    return (segmenter.model_record, str(Path(path).resolve()), version)


def image_embedding(
    segmenter: Segmenter, cache: EmbeddingCache[ImageEmbedding], key: Hashable, path: str | Path
) -> ImageEmbedding:
    """The cached embedding, or one vision pass over the image as shown (EXIF-upright RGB)."""
    return cache.get_or_compute(key, lambda: segmenter.embed(load_image(path)))


def to_value(segmenter: Segmenter, proposal: MaskProposal) -> MaskValue:
    return MaskValue(mask_codec.encode(proposal.mask), float(proposal.score), segmenter.model_record)


def box_masks(
    segmenter: Segmenter, embedding: ImageEmbedding, boxes: Sequence[BoxJob]
) -> dict[int, MaskValue]:
    """One mask per box, from the box alone, all from one embedding."""
    if not boxes:
        return {}
    proposals = segmenter.masks_for_boxes(embedding, [xyxy for _, xyxy in boxes])
    return {box_id: to_value(segmenter, p) for (box_id, _), p in zip(boxes, proposals, strict=True)}


def prompt_mask(
    segmenter: Segmenter, embedding: ImageEmbedding, xyxy: XYXY, points: Sequence[PromptPoint]
) -> MaskValue:
    """The box's mask for its box and every point so far (SAM sees all of them at once)."""
    proposal = segmenter.mask_for_prompt(
        embedding, xyxy, [(p.x, p.y) for p in points], [p.label for p in points]
    )
    return to_value(segmenter, proposal)


def refine_images(
    segmenter: Segmenter,
    cache: EmbeddingCache[ImageEmbedding],
    work: Mapping[Hashable, tuple[str | Path, Sequence[BoxJob]]],
    tick: Callable[[], None] = lambda: None,
) -> dict[int, MaskValue]:
    """Masks for many images' boxes (``work``: embedding key -> (image path, boxes)).

    ``tick`` runs after each image (progress; it raises to cancel, and then nothing is kept,
    so a cancelled refine leaves the project as it was)."""
    values: dict[int, MaskValue] = {}
    for key, (path, boxes) in work.items():
        values.update(box_masks(segmenter, image_embedding(segmenter, cache, key, path), boxes))
        tick()
    return values
