"""RT-DETRv2 and D-FINE: closed-set detectors whose classes are the checkpoint's ``id2label``.

These are the models ``groundlabel train`` makes. There is no prompt: the model scores every
query against each of its own classes (a sigmoid per class), and the reference
post-processing (``RTDetrImageProcessor.post_process_object_detection``) keeps the top
``num_queries`` (query, class) pairs of the flattened scores, so one query can yield a box
for two classes. ``forward`` reproduces exactly that selection and hands the ``Detector``
one prediction per kept pair whose only non-zero probability is its own class; the shared
rule (threshold, one class per box, clamping, NMS) then gives the reference boxes and scores.

A label set names some of the model's classes (by name or alias); a name the model does not
know is refused with the list of those it does. Classes not asked for are dropped after the
top-k, as filtering the reference output would.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from PIL import Image

from groundlabel.errors import LabelSetError
from groundlabel.families.base import FamilyAdapter, Prompt
from groundlabel.labels import LabelSet, PromptChunk


class ClosedSetAdapter(FamilyAdapter):
    #: the box threshold alone decides; there is no text to ground a class in.
    uses_text_threshold = False
    fp32_island_groups: ClassVar[dict[str, tuple[str, ...]]] = {
        # boxes and class scores of both stages; D-FINE's distribution heads and quality estimate
        "heads": (
            "bbox_embed",
            "class_embed",
            "enc_bbox_head",
            "enc_score_head",
            "pre_bbox_head",
            "integral",
            "lqe_layers",
        ),
        # deformable attention: where to sample and with what weight, and the sampling itself
        "sampling": ("sampling_offsets", "attention_weights", "self_attn.attn", "encoder_attn.attn"),
    }
    fp32_groups_kept = ("heads", "sampling")

    @property
    def tokenizer(self) -> None:
        return None

    @property
    def class_names(self) -> list[str]:
        """The model's classes in index order (``config.id2label``)."""
        id2label = self.model.config.id2label
        return [str(id2label[i]) for i in sorted(id2label, key=int)]

    def prompts(self, labels: LabelSet) -> list[Prompt]:
        known = {name.lower(): index for index, name in enumerate(self.class_names)}
        owners = torch.full((len(known),), -1, dtype=torch.long)
        for class_index, cls in enumerate(labels.classes):
            names = [cls.name, *cls.phrases]
            found = [known[n.lower()] for n in names if n.lower() in known]
            if not found:
                raise LabelSetError(
                    f"class {cls.name!r} is not one this model was trained on; it knows "
                    f"{', '.join(self.class_names)} (pass --labels with some of these, or none for all)"
                )
            for model_index in found:
                owners[model_index] = class_index
        text = ", ".join(self.class_names)
        return [Prompt(PromptChunk(text, ()), owners, tuple(self.class_names))]

    def pixels(self, images: list[Image.Image]) -> dict[str, torch.Tensor]:
        return {"pixel_values": self.processor(images=images, return_tensors="pt")["pixel_values"]}

    @torch.inference_mode()
    def forward(self, pixels: dict[str, torch.Tensor], prompt: Prompt) -> tuple[torch.Tensor, torch.Tensor]:
        """The reference top-k over (query, class): logits (B, K, classes) with one live class per row."""
        with self.compute():
            outputs = self.model(pixel_values=self._to_device(pixels)["pixel_values"])
        logits = outputs.logits.float().cpu()
        boxes = outputs.pred_boxes.float().cpu()
        batch, queries, classes = logits.shape
        top = queries  # the reference keeps num_queries pairs
        scores, index = torch.topk(logits.flatten(1), top, dim=-1)
        labels, query = index % classes, index // classes
        picked = torch.gather(boxes, 1, query.unsqueeze(-1).expand(-1, -1, 4))
        rows = torch.full((batch, top, classes), float("-inf"))
        rows.scatter_(2, labels.unsqueeze(-1), scores.unsqueeze(-1))
        return rows, picked


ADAPTER = ClosedSetAdapter
