"""Example boxes ("find more like this"): detection prompted by boxes instead of words.

An ``Exemplar`` is a box a person drew or accepted on an image, with its class. For a
family that supports it (OWLv2, OWL-ViT), each example becomes one query embedding
(``FamilyAdapter.embed_examples``) and the class's score on a candidate box is the best
over its examples, so several examples of a class widen what it finds. Everything
after the model is the text path's: one class per box, clamping, NMS, the result type.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from groundlabel.errors import GroundlabelError, ImageLoadError
from groundlabel.families import Prompt
from groundlabel.families.owl import QUERIES_PER_PASS, query_prompt
from groundlabel.images import ImageInput, describe_source, load_image
from groundlabel.labels import LabelSet

if TYPE_CHECKING:
    from groundlabel.detector import Detector

#: families whose checkpoints can be prompted with example boxes.
EXEMPLAR_FAMILIES = ("owlv2", "owlvit")
#: the checkpoint suggested when the loaded one cannot use example boxes.
SUGGESTED_MODEL = "google/owlv2-base-patch16-ensemble"


class ExemplarError(GroundlabelError):
    """An example box that cannot be used, or a model that cannot use any."""


@dataclass(frozen=True)
class Exemplar:
    """One example: a box (x0, y0, x1, y1 pixels of the image as shown) of class ``label``."""

    image: ImageInput
    box: tuple[float, float, float, float]
    label: str


def check_supported(family: str, model_name: str) -> None:
    if family not in EXEMPLAR_FAMILIES:
        why = ""
        if family in ("sam3", "sam3_lite_text"):
            from groundlabel.families.sam3 import NO_EXEMPLARS

            why = f" ({NO_EXEMPLARS})"
        raise ExemplarError(
            f"model {model_name!r} is a {family!r} checkpoint, which cannot search by example boxes{why}; "
            f"load an OWLv2 or OWL-ViT checkpoint (e.g. --model {SUGGESTED_MODEL})"
        )


def exemplar_prompts(detector: Detector, exemplars: Sequence[Exemplar]) -> tuple[LabelSet, list[Prompt]]:
    """The classes the examples name (first-seen order) and the model passes that search for them.

    Each image is decoded and embedded once for all of its examples.
    """
    check_supported(detector.family, detector.model_name)
    if not exemplars:
        raise ExemplarError(
            "no example boxes given: draw or accept at least one box of the class to search for"
        )
    names = list(dict.fromkeys(e.label for e in exemplars))
    labels = LabelSet.from_names(names)
    by_image: dict[object, list[int]] = {}
    sources: dict[object, ImageInput] = {}
    for index, exemplar in enumerate(exemplars):
        image = exemplar.image
        key = str(image) if isinstance(image, (str, os.PathLike)) else id(image)
        by_image.setdefault(key, []).append(index)
        sources[key] = exemplar.image
    embeddings: list[torch.Tensor | None] = [None] * len(exemplars)
    for key, indices in by_image.items():
        try:
            image = load_image(sources[key])
        except ImageLoadError as exc:
            raise ExemplarError(f"example image {describe_source(sources[key])}: {exc.reason}") from None
        boxes = [_checked_box(exemplars[i], image.size) for i in indices]
        for i, embedding in zip(indices, detector.adapter.embed_examples(image, boxes), strict=True):
            embeddings[i] = embedding
    stacked = torch.stack([e for e in embeddings if e is not None])
    owners = [labels.index(e.label) for e in exemplars]
    prompts = [
        query_prompt(
            [e.label for e in exemplars[start : start + QUERIES_PER_PASS]],
            owners[start : start + QUERIES_PER_PASS],
            stacked[start : start + QUERIES_PER_PASS],
        )
        for start in range(0, len(exemplars), QUERIES_PER_PASS)
    ]
    return labels, prompts


def _checked_box(exemplar: Exemplar, size: tuple[int, int]) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = (float(v) for v in exemplar.box)
    width, height = size
    if not (x1 > x0 and y1 > y0):
        raise ExemplarError(
            f"example box {exemplar.box} of {exemplar.label!r} has no area (need x0<x1, y0<y1)"
        )
    if x1 <= 0 or y1 <= 0 or x0 >= width or y0 >= height:
        raise ExemplarError(
            f"example box {exemplar.box} of {exemplar.label!r} lies outside its {width}x{height} image"
        )
    return x0, y0, x1, y1
