"""SAM 3 and SAM 3 LiteText: every instance of a noun phrase, as box, mask and score.

SAM 3 (``Sam3Model``; ``Sam3LiteTextModel`` is the same detector with a MobileCLIP
text tower) reads one phrase per pass and returns 200 queries, each a box, a mask and
a score, with no class logits: the class is the prompt. So a label set runs as one
pass per phrase (aliases included) on one vision encoding per image
(``get_vision_features``), and each phrase's text encoding is reused across images.

The computation is the transformers reference path (``Sam3Processor``, the model,
``post_process_instance_segmentation``) done here without torchvision, which
``Sam3ImageProcessor`` imports at module load: the resize to 1008x1008 (bilinear,
antialiased, on uint8 as torchvision's CPU kernel does), the fused rescale and
normalisation (mean and std 0.5), score ``sigmoid(pred_logits) * sigmoid(presence_logits)``,
boxes scaled to the image, masks upsampled bilinearly to the image and thresholded.
``tests/test_sam3.py`` holds it to that reference within 1e-4 (boxes, scores) and
pixel for pixel (masks).

Classes: a box comes from exactly one phrase pass, so it has that phrase's class.
When passes of several phrases find the same object (box IoU above
``SAME_OBJECT_IOU``), it is kept once, from the pass that scores it highest, which
gives it that phrase's class (the one-class-per-box rule of the other families).
Within one pass nothing is merged (the reference keeps every query above the
threshold); ``nms_iou`` then applies per class as for every family. SAM 3 has no
token probabilities, so ``text_threshold`` does not apply; ``box_threshold`` is the
reference's ``threshold``.

Example boxes ("find more like this") are not offered: SAM 3's geometry encoder pools
the example box with ``torchvision.ops.roi_align``, which transformers calls with no
fallback, and groundlabel does not install torchvision.
"""

from __future__ import annotations

import json
import platform
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from PIL import Image

from groundlabel import masks as mask_codec
from groundlabel.boxes import box_iou, clamp_to_image, class_wise_nms
from groundlabel.errors import LabelSetError, ModelLoadError
from groundlabel.families.base import FamilyAdapter, Prompt
from groundlabel.labels import LabelSet, PromptChunk
from groundlabel.processor_config import read_image_processor_config

#: Sam3Processor pads and truncates every phrase to this many tokens.
PROMPT_TOKENS = 32
#: boxes from passes of different phrases that overlap more than this are one object.
SAME_OBJECT_IOU = 0.8
#: the reference's ``mask_threshold`` (on the upsampled mask probability).
MASK_THRESHOLD = 0.5
#: masks upsampled to the image at once (bilinear upsampling is per mask, so any split is exact).
MASK_CHUNK = 8
#: why the family cannot search by example boxes (``groundlabel.exemplars``).
NO_EXEMPLARS = (
    "SAM 3's example-box prompts pool image features with torchvision.ops.roi_align, which "
    "transformers calls with no fallback, and groundlabel does not install torchvision (it would "
    "replace the CPU torch build)"
)
_RESAMPLE_MODES = {2: "bilinear", 3: "bicubic"}  # PIL resample codes Sam3ImageProcessor accepts


@dataclass(frozen=True)
class Sam3Preprocessing:
    """The image half of ``Sam3Processor``, read from the checkpoint's processor config."""

    height: int = 1008
    width: int = 1008
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    std: tuple[float, float, float] = (0.5, 0.5, 0.5)
    rescale_factor: float = 1 / 255
    resample: int = 2

    @classmethod
    def from_config(cls, values: dict[str, Any]) -> Sam3Preprocessing:
        size = values.get("size") or {}
        resample = int(values.get("resample", 2))
        if resample not in _RESAMPLE_MODES or not values.get("do_resize", True):
            raise ModelLoadError(f"SAM 3 image processor settings groundlabel cannot reproduce: {values}")
        if not (values.get("do_rescale", True) and values.get("do_normalize", True)):
            raise ModelLoadError("SAM 3 checkpoints must rescale and normalise their images")
        return cls(
            height=int(size.get("height", cls.height)),
            width=int(size.get("width", cls.width)),
            mean=tuple(float(v) for v in values.get("image_mean", cls.mean)),
            std=tuple(float(v) for v in values.get("image_std", cls.std)),
            rescale_factor=float(values.get("rescale_factor", cls.rescale_factor)),
            resample=resample,
        )

    def __call__(self, image: Image.Image) -> torch.Tensor:
        """(1, 3, height, width) float pixels, as ``Sam3ImageProcessor`` computes them."""
        array = np.asarray(image.convert("RGB"))
        pixels = torch.from_numpy(array.copy()).permute(2, 0, 1).contiguous().unsqueeze(0)
        pixels = _resize_uint8(pixels, (self.height, self.width), _RESAMPLE_MODES[self.resample])
        # The processor folds the rescale into the normalisation: mean and std times 1/rescale.
        mean = torch.tensor(self.mean) * (1.0 / self.rescale_factor)
        std = torch.tensor(self.std) * (1.0 / self.rescale_factor)
        return (pixels.to(torch.float32) - mean.view(-1, 1, 1)) / std.view(-1, 1, 1)


def _resize_uint8(pixels: torch.Tensor, size: tuple[int, int], mode: str) -> torch.Tensor:
    """torchvision's ``resize`` of a uint8 image tensor (antialiased), without torchvision.

    torchvision resizes uint8 natively on CPUs with AVX2 (and on ARM) for bilinear, and
    always for bicubic; elsewhere it resizes a float copy and rounds back to uint8.
    """
    if tuple(pixels.shape[-2:]) == size:
        return pixels
    native = mode == "bicubic" or (
        torch.backends.cpu.get_cpu_capability() in ("AVX2", "AVX512")
        or platform.machine() in ("aarch64", "arm64")
    )
    if native and pixels.device.type == "cpu":
        return torch.nn.functional.interpolate(
            pixels, size=size, mode=mode, align_corners=False, antialias=True
        )
    resized = torch.nn.functional.interpolate(
        pixels.to(torch.float32), size=size, mode=mode, align_corners=False, antialias=True
    )
    if mode == "bicubic":
        resized = resized.clamp_(0, 255)
    return resized.round_().to(torch.uint8)


class Sam3Inputs:
    """The processor stand-in: CLIP tokenizer plus the torchvision-free image half."""

    def __init__(self, tokenizer: Any, preprocessing: Sam3Preprocessing) -> None:
        self.tokenizer = tokenizer
        self.preprocessing = preprocessing

    def text(self, phrase: str, count: int) -> dict[str, torch.Tensor]:
        """``input_ids``/``attention_mask`` as ``Sam3Processor(text=...)`` makes them."""
        encoded = self.tokenizer(
            [phrase] * count, return_tensors="pt", padding="max_length", max_length=PROMPT_TOKENS
        )
        return {"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"]}

    def save_pretrained(self, directory: str | Path) -> None:
        """Tokenizer files and a ``processor_config.json`` that ``Sam3Processor`` loads too."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.tokenizer.save_pretrained(directory)
        pre = self.preprocessing
        config = {
            "image_processor": {
                "image_processor_type": "Sam3ImageProcessor",
                "do_convert_rgb": True,
                "do_resize": True,
                "do_rescale": True,
                "do_normalize": True,
                "size": {"height": pre.height, "width": pre.width},
                "image_mean": list(pre.mean),
                "image_std": list(pre.std),
                "rescale_factor": pre.rescale_factor,
                "resample": pre.resample,
            },
            "processor_class": "Sam3Processor",
            "point_pad_value": -10,
            "target_size": pre.height,
        }
        (directory / "processor_config.json").write_text(json.dumps(config, indent=2) + "\n")


def _read_processor_config(model: str, local_files_only: bool) -> dict[str, Any]:
    """The image processor settings: ``processor_config.json`` (transformers 5) or the older file."""
    values = read_image_processor_config(
        model, local_files_only, accept=lambda found: "size" in found or "image_processor_type" in found
    )
    return values or {}


def load_parts(model: str, dtype: torch.dtype, local_files_only: bool) -> tuple[torch.nn.Module, Sam3Inputs]:
    """Model and ``Sam3Inputs`` from a hub id or folder, through ``from_pretrained`` (no torchvision)."""
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model, local_files_only=local_files_only)
    preprocessing = Sam3Preprocessing.from_config(_read_processor_config(model, local_files_only))
    network = AutoModel.from_pretrained(model, dtype=dtype, local_files_only=local_files_only)
    return network, Sam3Inputs(tokenizer, preprocessing)


class Sam3Adapter(FamilyAdapter):
    """One pass per phrase on a shared vision encoding; boxes, masks and scores per image."""

    #: the adapter turns model outputs into ``DetectionResult``s itself (``detect_batch``).
    owns_postprocessing = True
    makes_masks = True
    fp32_island_groups: ClassVar[dict[str, tuple[str, ...]]] = {
        # boxes, presence and the query-phrase scores; the mask logits' last projection
        "heads": ("box_head", "presence_head", "dot_product_scoring", "ref_point_head"),
        "masks": ("mask_decoder",),
    }
    fp32_groups_kept = ("heads",)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._text_cache: dict[tuple[str, int], Any] = {}

    def prompts(self, labels: LabelSet) -> list[Prompt]:
        """One prompt per phrase (aliases too), owned by its class."""
        prompts = []
        for phrase, owner in labels.phrase_owners():
            tokens = len(self.tokenizer(phrase, add_special_tokens=False)["input_ids"]) + 2
            if tokens > PROMPT_TOKENS:
                raise LabelSetError(
                    f"phrase {phrase!r} is {tokens} tokens, more than SAM 3 reads per prompt "
                    f"({PROMPT_TOKENS}); shorten it"
                )
            chunk = PromptChunk(phrase, ((0, len(phrase), owner),))
            prompts.append(Prompt(chunk, torch.tensor([owner], dtype=torch.long), (phrase,)))
        return prompts

    def pixels(self, images: list[Image.Image]) -> dict[str, torch.Tensor]:
        return {"pixel_values": torch.cat([self.processor.preprocessing(image) for image in images])}

    def forward(self, pixels: dict[str, torch.Tensor], prompt: Prompt) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError("SAM 3 post-processes itself: use detect_batch")

    def _text_embeds(self, phrase: str, count: int) -> tuple[Any, torch.Tensor]:
        """The phrase's text encoding for ``count`` images (cached) and its attention mask."""
        key = (phrase, count)
        if key not in self._text_cache:
            if len(self._text_cache) > 256:
                self._text_cache.clear()
            text = {k: v.to(self.device) for k, v in self.processor.text(phrase, count).items()}
            with self.compute():
                embeds = self.model.get_text_features(**text, return_dict=True)
            self._text_cache[key] = (embeds, text["attention_mask"])
        return self._text_cache[key]

    @torch.inference_mode()
    def raw_outputs(self, pixels: dict[str, torch.Tensor], prompts: Sequence[Prompt]) -> Iterator[Any]:
        """The model's outputs for each prompt in turn, on one vision encoding of the batch."""
        pixel_values = pixels["pixel_values"].to(self.device, self.dtype)
        with self.compute():
            vision = self.model.get_vision_features(pixel_values=pixel_values)
        for prompt in prompts:
            embeds, attention_mask = self._text_embeds(prompt.queries[0], int(pixel_values.shape[0]))
            with self.compute():
                output = self.model(vision_embeds=vision, text_embeds=embeds, attention_mask=attention_mask)
            yield output

    def detect_batch(
        self,
        sources: Sequence[str],
        images: Sequence[Image.Image],
        pixels: dict[str, torch.Tensor],
        prompts: Sequence[Prompt],
        labels: LabelSet,
        settings: Any,
    ) -> list[Any]:
        """One ``DetectionResult`` (boxes, masks, scores, classes) per image of the batch.

        Of each pass only the queries above the threshold are kept (with their low-resolution
        mask logits), so memory grows with what is found, not with the number of phrases.
        """
        sizes = [(image.height, image.width) for image in images]
        found: list[list[_Candidates]] = [[] for _ in images]
        for output, prompt in zip(self.raw_outputs(pixels, prompts), prompts, strict=True):
            for index, size in enumerate(sizes):
                found[index].append(
                    _Candidates.of(output, index, size, int(prompt.owners[0]), settings.box_threshold)
                )
        return [
            _result(source, size, parts, labels, settings)
            for source, size, parts in zip(sources, sizes, found, strict=True)
        ]


@dataclass(frozen=True)
class _Candidates:
    """The queries of one pass on one image above the threshold."""

    boxes: torch.Tensor  # (n, 4) xyxy pixels, not yet clamped
    scores: torch.Tensor
    classes: torch.Tensor
    mask_logits: torch.Tensor  # (n, h, w) at the model's mask resolution

    @classmethod
    def of(cls, output: Any, index: int, size: tuple[int, int], owner: int, threshold: float) -> _Candidates:
        """As ``post_process_instance_segmentation``: score, ``> threshold``, boxes times (w, h, w, h)."""
        scores = output.pred_logits[index].float().sigmoid()
        if output.presence_logits is not None:
            scores = scores * output.presence_logits[index].float().sigmoid()
        scores = scores.cpu()
        height, width = size
        scale = torch.tensor([width, height, width, height]).unsqueeze(0)
        queries = torch.nonzero(scores > threshold).flatten()
        boxes = (output.pred_boxes[index].float().cpu() * scale)[queries]
        masks = output.pred_masks[index][queries.to(output.pred_masks.device)].float().cpu()
        return cls(boxes, scores[queries], torch.full((len(queries),), owner, dtype=torch.long), masks)


def _result(
    source: str, size: tuple[int, int], parts: Sequence[_Candidates], labels: LabelSet, settings: Any
) -> Any:
    """The image's boxes: one class per object, clamped, NMS per class, best first, with masks."""
    from groundlabel.detector import DetectionResult

    height, width = size
    boxes = clamp_to_image(torch.cat([p.boxes for p in parts]), width, height)
    scores = torch.cat([p.scores for p in parts])
    classes = torch.cat([p.classes for p in parts])
    passes = torch.cat([torch.full((len(p.scores),), i, dtype=torch.long) for i, p in enumerate(parts)])
    keep = _one_pass_per_object(boxes, scores, passes)
    if settings.nms_iou is not None and len(keep):
        keep = keep[class_wise_nms(boxes[keep], scores[keep], classes[keep], settings.nms_iou)]
    keep = keep[torch.argsort(scores[keep], descending=True, stable=True)]
    if settings.max_detections is not None:
        keep = keep[: settings.max_detections]
    mask_logits = torch.cat([p.mask_logits for p in parts]) if parts else torch.zeros(0)
    kept_classes = classes[keep].tolist()
    return DetectionResult(
        source=source,
        image_size=(width, height),
        boxes=boxes[keep].tolist(),
        scores=scores[keep].tolist(),
        labels=[labels.names[c] for c in kept_classes],
        class_ids=kept_classes,
        masks=_masks(mask_logits[keep], size) if len(keep) else [],
        # SAM 3 gives one score per instance: the box's score is the mask's.
        mask_scores=scores[keep].tolist(),
    )


def _one_pass_per_object(boxes: torch.Tensor, scores: torch.Tensor, passes: torch.Tensor) -> torch.Tensor:
    """Indices kept when passes of different phrases find the same object: the best-scored one."""
    order = torch.argsort(scores, descending=True, stable=True)
    if len(order) == 0:
        return order
    overlaps = box_iou(boxes[order], boxes[order])
    other_pass = passes[order][:, None] != passes[order][None, :]
    suppressed = torch.zeros(len(order), dtype=torch.bool)
    keep = []
    for i in range(len(order)):
        if suppressed[i]:
            continue
        keep.append(int(order[i]))
        suppressed |= (overlaps[i] > SAME_OBJECT_IOU) & other_pass[i]
    return torch.tensor(sorted(keep), dtype=torch.long)


def _masks(mask_logits: torch.Tensor, size: tuple[int, int]) -> list[dict | None]:
    """RLE masks: sigmoid, bilinear upsampling to the image, ``> 0.5``, as the reference does."""
    encoded: list[dict | None] = []
    for start in range(0, len(mask_logits), MASK_CHUNK):
        probs = mask_logits[start : start + MASK_CHUNK].sigmoid()
        upsampled = torch.nn.functional.interpolate(
            probs.unsqueeze(0), size=size, mode="bilinear", align_corners=False
        ).squeeze(0)
        encoded.extend(mask_codec.encode(mask) for mask in (upsampled > MASK_THRESHOLD).numpy())
    return encoded


ADAPTER = Sam3Adapter
