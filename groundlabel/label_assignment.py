"""Giving each detected box exactly one class of the label set.

The reference post-processing decodes every token whose probability passes
``text_threshold`` into a string, which yields merged ("remote control cat"), fragment
("##cycle"), empty or "cat." labels. groundlabel instead maps each prompt token to the
class whose phrase contains it, takes for every class the highest token probability
over all of its phrases (aliases count for their class), and gives the box the class
with the highest such probability. A box whose best class stays at or below
``text_threshold`` has no phrase the model grounded it in, and is dropped. The box's
score stays the reference score (the highest probability over all tokens), so scores
equal those of the transformers path.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def token_owners(offsets: Sequence[tuple[int, int]], spans: Sequence[tuple[int, int, int]]) -> torch.Tensor:
    """Class index owning each token (-1 for special tokens and dots), from character offsets."""
    owners = torch.full((len(offsets),), -1, dtype=torch.long)
    for position, (start, end) in enumerate(offsets):
        if end <= start:
            continue
        for span_start, span_end, owner in spans:
            if start >= span_start and end <= span_end:
                owners[position] = owner
                break
    return owners


def class_probabilities(probs: torch.Tensor, owners: torch.Tensor, num_classes: int) -> torch.Tensor:
    """(queries, classes): each class's highest token probability over its phrases' tokens.

    ``probs`` is (queries, tokens) with tokens at least as many as ``owners``; extra
    positions (the model pads to ``max_text_len``) belong to no class.
    """
    queries = probs.shape[0]
    probs = probs[:, : owners.shape[0]].float()
    owned = owners >= 0
    result = torch.zeros((queries, num_classes), dtype=probs.dtype, device=probs.device)
    index = owners[owned].to(probs.device).expand(queries, -1)
    return result.scatter_reduce(1, index, probs[:, owned], reduce="amax", include_self=True)


def assign_classes(
    probs: torch.Tensor, owners: torch.Tensor, num_classes: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Best class per query and that class's token probability."""
    per_class = class_probabilities(probs, owners, num_classes)
    best_prob, best_class = per_class.max(dim=1)
    return best_class, best_prob
