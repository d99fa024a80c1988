"""OWLv2 and OWL-ViT: one text query per phrase, and queries from example boxes.

OWL scores every image patch against each query separately (a sigmoid per query), so
a class is one or more queries (its aliases, or its example boxes) and a long class
list splits into several passes without changing any score. Each query is at most
``max_position_embeddings`` (16) CLIP tokens.

Example boxes ("find more like this"): the model's class head embeds every patch of
the example's image; the patch whose predicted box overlaps the drawn box most stands
for it, and its embedding replaces a text query. The detection itself is then the
text path with those embeddings, as in transformers' ``image_guided_detection``
(which takes the patch by objectness or overlap instead of a drawn box).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import torch
from PIL import Image

from groundlabel.boxes import box_iou, center_to_corners
from groundlabel.errors import LabelSetError
from groundlabel.families.base import FamilyAdapter, Prompt
from groundlabel.labels import LabelSet, PromptChunk

#: queries per model pass; the text encoder runs on all of them at once.
QUERIES_PER_PASS = 64


class OwlAdapter(FamilyAdapter):
    supports_exemplars = True
    #: boxes, objectness and the class head (the dot product of patch and query embeddings)
    fp32_island_groups: ClassVar[dict[str, tuple[str, ...]]] = {
        "heads": ("box_head", "class_head", "objectness_head")
    }
    fp32_groups_kept = ("heads",)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.max_query_tokens = int(self.model.config.text_config.max_position_embeddings)
        self._text_inputs_cache: dict[tuple[tuple[str, ...], int], dict[str, torch.Tensor]] = {}

    def prompts(self, labels: LabelSet) -> list[Prompt]:
        pairs = labels.phrase_owners()
        for phrase, _ in pairs:
            tokens = len(self.tokenizer(phrase, add_special_tokens=False)["input_ids"]) + 2
            if tokens > self.max_query_tokens:
                raise LabelSetError(
                    f"phrase {phrase!r} is {tokens} tokens, more than this model reads per query "
                    f"({self.max_query_tokens}); shorten it"
                )
        prompts = []
        for start in range(0, len(pairs), QUERIES_PER_PASS):
            part = pairs[start : start + QUERIES_PER_PASS]
            prompts.append(query_prompt([p for p, _ in part], [o for _, o in part]))
        return prompts

    def box_frame(self, size: tuple[int, int]) -> tuple[int, int]:
        """OWLv2 pads to a square (bottom and right) before resizing; OWL-ViT stretches."""
        if self.model_type == "owlv2":
            side = max(size)
            return side, side
        return size

    def text_inputs(self, queries: tuple[str, ...], count: int) -> dict[str, torch.Tensor]:
        key = (queries, count)
        if key not in self._text_inputs_cache:
            if len(self._text_inputs_cache) > 64:
                self._text_inputs_cache.clear()
            encoded = self.processor(text=[list(queries)] * count, return_tensors="pt")
            self._text_inputs_cache[key] = {k: v for k, v in encoded.items() if k != "pixel_values"}
        return self._text_inputs_cache[key]

    @torch.inference_mode()
    def forward(self, pixels: dict[str, torch.Tensor], prompt: Prompt) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits (B, patches, queries) and boxes cxcywh; text queries or example embeddings."""
        count = int(pixels["pixel_values"].shape[0])
        if prompt.embeddings is not None:
            return self._forward_embeddings(self._to_device(pixels), prompt.embeddings)
        inputs = self._to_device({**self.text_inputs(prompt.queries, count), **pixels})
        with self.compute():
            outputs = self.model(**inputs)
        return outputs.logits.float().cpu(), outputs.pred_boxes.float().cpu()

    def _image_features(self, pixel_values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(patch features, predicted boxes, class embeddings) as the model's forward computes them."""
        with self.compute():
            feature_map = self.model.image_embedder(pixel_values=pixel_values)[0]
            batch, rows, cols, dim = feature_map.shape
            feats = feature_map.reshape(batch, rows * cols, dim)
            boxes = self.model.box_predictor(feats, feature_map)
            return feats, boxes, self.model.class_predictor(feats)[1]

    def _forward_embeddings(
        self, pixels: dict[str, torch.Tensor], embeddings: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        pixel_values = pixels["pixel_values"]
        feats, boxes, _ = self._image_features(pixel_values)
        queries = embeddings.to(self.device, feats.dtype).expand(pixel_values.shape[0], -1, -1)
        with self.compute():
            logits = self.model.class_predictor(feats, queries)[0]
        return logits.float().cpu(), boxes.float().cpu()

    @torch.inference_mode()
    def embed_examples(self, image: Image.Image, boxes: Sequence[Sequence[float]]) -> torch.Tensor:
        """(len(boxes), dim) query embeddings for xyxy pixel boxes drawn on ``image``."""
        pixel_values = self._to_device(self.pixels([image]))["pixel_values"]
        _, predicted, class_embeds = self._image_features(pixel_values)
        width, height = self.box_frame(image.size)
        scale = torch.tensor([width, height, width, height], dtype=torch.float32)
        corners = center_to_corners(predicted[0].float().cpu()) * scale
        wanted = torch.tensor([list(map(float, b)) for b in boxes], dtype=torch.float32)
        best = box_iou(corners, wanted).argmax(dim=0)
        return class_embeds[0, best].float().cpu()


def query_prompt(
    queries: Sequence[str], owners: Sequence[int], embeddings: torch.Tensor | None = None
) -> Prompt:
    """A prompt of separate queries, each owned by one class."""
    text = ", ".join(queries)
    spans, position = [], 0
    for query, owner in zip(queries, owners, strict=True):
        spans.append((position, position + len(query), owner))
        position += len(query) + 2
    return Prompt(
        PromptChunk(text, tuple(spans)),
        torch.tensor(list(owners), dtype=torch.long),
        tuple(queries),
        embeddings,
    )


ADAPTER = OwlAdapter
