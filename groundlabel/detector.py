"""The detector both front ends share: images and a label set in, labelled boxes out.

The computation is the transformers reference path (processor, model, the same
post-processing arithmetic) so boxes and scores equal it; what groundlabel adds is
around it: prompts built from classes (split when too long), one class per box
(``label_assignment``), clamping, optional NMS, and per-image error reporting.

Speed comes from ``groundlabel.inference``: on CPU the loaded model gets numerically
equivalent replacements for its slowest parts (``accelerate``), the prompt's text
encoding is reused across images, each image is preprocessed once for all prompt
chunks, and for several images the decoding and preprocessing of the next batch runs
in a background thread while the model works (``prefetch``). ``fast=False`` keeps the
plain reference computation.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import torch
from PIL import Image

from groundlabel.batching import bucket_by_shape, concat_pixels, pixel_shape, window_size, windows
from groundlabel.boxes import center_to_corners, clamp_to_image, class_wise_nms
from groundlabel.errors import ImageLoadError
from groundlabel.families import Prompt, adapter_for
from groundlabel.images import (
    DEFAULT_MAX_PIXELS,
    EncodedImage,
    ImageInput,
    describe_source,
    expand_inputs,
    load_image,
)
from groundlabel.inference.prefetch import prefetch
from groundlabel.label_assignment import assign_classes
from groundlabel.labels import LabelSet
from groundlabel.model_loading import DEFAULT_MODEL, LoadedModel, load_model

if TYPE_CHECKING:
    from groundlabel.exemplars import Exemplar

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DetectionSettings:
    """Thresholds as in the model card: a box needs a score above ``box_threshold`` and
    its class's best token probability above ``text_threshold``."""

    box_threshold: float = 0.35
    text_threshold: float = 0.25
    nms_iou: float | None = None
    max_detections: int | None = None

    def fingerprint(self) -> str:
        return (
            f"box={self.box_threshold:g},text={self.text_threshold:g},"
            f"nms={self.nms_iou if self.nms_iou is None else f'{self.nms_iou:g}'},max={self.max_detections}"
        )


@dataclass
class DetectionResult:
    """Boxes for one image: xyxy pixels of the image as shown, best score first."""

    source: str
    image_size: tuple[int, int]
    boxes: list[list[float]] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    class_ids: list[int] = field(default_factory=list)
    # One entry per box when the family makes masks (SAM 3) or a segmenter refined the boxes
    # (``groundlabel.masks`` RLE in pixels of the image as shown); empty when there are none.
    masks: list[dict | None] = field(default_factory=list)
    mask_scores: list[float | None] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class _Prepared:
    source: str
    image: Image.Image | None
    error: str | None = None


@dataclass
class _Window:
    """Consecutive images (unreadable ones included) and their batches of equal resized shape."""

    items: list[_Prepared]
    batches: list[tuple[list[int], dict[str, torch.Tensor]]]


class Detector:
    """A loaded detector of any supported family plus the rules that turn its outputs into labelled boxes.

    The family (``config.model_type``) picks an adapter in ``groundlabel.families`` that
    runs the processor and model; everything after the model (scores, class rule,
    clamping, NMS) is shared.
    """

    def __init__(self, loaded: LoadedModel, fast: bool = True) -> None:
        self.loaded = loaded
        self.model = loaded.model
        self.processor = loaded.processor
        self.device = loaded.device
        self.dtype = loaded.dtype
        self.model_name = loaded.name
        self.family = str(getattr(self.model.config, "model_type", ""))
        self.adapter = adapter_for(self.family)(self.model, self.processor, self.device, self.dtype)
        self.adapter.cpu_autocast = loaded.cpu_autocast
        self.max_text_len = int(getattr(self.model.config, "max_text_len", 256))
        self._prompt_cache: dict[str, list[Prompt]] = {}
        self.fast = fast
        self.acceleration = None
        if fast and self.adapter.fast_paths:
            from groundlabel.inference.accelerate import accelerate

            on_cpu = self.device.type == "cpu"
            self.acceleration = accelerate(
                self.model, deformable=on_cpu, fusion=on_cpu, feed_forward=on_cpu, allocator=on_cpu
            )
        if loaded.cpu_autocast:  # after the fast paths: an island may wrap a module they put in place
            from groundlabel.inference.fp32_islands import keep_fp32

            keep_fp32(self.model, self.adapter.fp32_islands())

    @classmethod
    def load(
        cls, model: str = DEFAULT_MODEL, device: str = "auto", dtype: str = "fp32", *, fast: bool = True
    ) -> Detector:
        """Load from a hub id or a ``save_pretrained`` directory (see ``load_model``).

        ``fast=False`` runs the unmodified transformers model (the reference computation).
        """
        return cls(load_model(model, device=device, dtype=dtype), fast=fast)

    @property
    def tokenizer(self) -> Any:
        return self.processor.tokenizer

    @property
    def model_record(self) -> str:
        """Family and checkpoint, as outputs, prediction keys and model versions record them."""
        return f"{self.family}:{self.model_name}"

    def prompts(self, labels: LabelSet) -> list[Prompt]:
        """Model passes for a label set, with each prompt position's class, cached per label set."""
        key = labels.fingerprint()
        if key not in self._prompt_cache:
            self._prompt_cache[key] = self.adapter.prompts(labels)
        return self._prompt_cache[key]

    def detect(
        self,
        images: ImageInput | Iterable[ImageInput],
        labels: LabelSet,
        box_threshold: float = 0.35,
        text_threshold: float = 0.25,
        nms_iou: float | None = None,
        max_detections: int | None = None,
        batch_size: int = 1,
        max_pixels: int = DEFAULT_MAX_PIXELS,
    ) -> Iterator[DetectionResult]:
        """Yield one result per image, in input order; unreadable images carry ``error``.

        Folders are expanded recursively. A failing image never stops the batch.
        """
        settings = DetectionSettings(box_threshold, text_threshold, nms_iou, max_detections)
        yield from self._detect_prompts(
            images, labels, self.prompts(labels), settings, batch_size, max_pixels
        )

    def detect_like(
        self,
        images: ImageInput | Iterable[ImageInput],
        exemplars: Sequence[Exemplar],
        box_threshold: float = 0.35,
        nms_iou: float | None = None,
        max_detections: int | None = None,
        batch_size: int = 1,
        max_pixels: int = DEFAULT_MAX_PIXELS,
    ) -> Iterator[DetectionResult]:
        """Like ``detect``, with example boxes instead of class names (OWLv2, OWL-ViT).

        Boxes come out labelled with their examples' classes; ``ExemplarError`` says when
        the model's family cannot search by example or an example box is unusable.
        """
        from groundlabel.exemplars import exemplar_prompts

        labels, prompts = exemplar_prompts(self, exemplars)
        settings = DetectionSettings(box_threshold, 0.0, nms_iou, max_detections)
        yield from self._detect_prompts(images, labels, prompts, settings, batch_size, max_pixels)

    def _detect_prompts(
        self,
        images: ImageInput | Iterable[ImageInput],
        labels: LabelSet,
        prompts: list[Prompt],
        settings: DetectionSettings,
        batch_size: int,
        max_pixels: int,
    ) -> Iterator[DetectionResult]:
        if isinstance(images, (str, Image.Image, EncodedImage)) or hasattr(images, "__fspath__"):
            images = [images]
        work = self._batches(expand_inputs(images), max_pixels, max(1, batch_size))
        for unit in prefetch(work) if self.fast else work:
            results: list[DetectionResult | None] = [None] * len(unit.items)
            for indices, pixels in unit.batches:
                batch = [unit.items[i] for i in indices]
                for i, result in zip(
                    indices, self._run_batch(batch, labels, prompts, settings, pixels), strict=True
                ):
                    results[i] = result
            for item, result in zip(unit.items, results, strict=True):
                yield result or DetectionResult(item.source, (0, 0), error=item.error)

    def detect_image(
        self, image: Image.Image, labels: LabelSet, settings: DetectionSettings
    ) -> DetectionResult:
        """Detect on one already-decoded, upright RGB image."""
        prepared = _Prepared(describe_source(image), image)
        return next(iter(self._run_batch([prepared], labels, self.prompts(labels), settings)))

    def _batches(self, sources: Sequence[ImageInput], max_pixels: int, batch_size: int) -> Iterator[_Window]:
        """Decoded, preprocessed windows in input order, batched by resized shape (``batching``).

        Each image is preprocessed on its own and only images of the same shape share a
        batch, so no padding changes a result. This is the work ``prefetch`` moves off the
        model's thread: decoding and the processor's resize and normalisation.
        """
        for window in windows(self._prepare_all(sources, max_pixels), window_size(batch_size)):
            pixels = [None if p.image is None else self._pixels([p.image]) for p in window]
            shapes = [None if px is None else pixel_shape(px) for px in pixels]
            groups = bucket_by_shape(shapes, batch_size)
            yield _Window(window, [(g, concat_pixels([pixels[i] for i in g])) for g in groups])

    def _prepare_all(self, sources: Sequence[ImageInput], max_pixels: int) -> Iterator[_Prepared]:
        for source in sources:
            name = describe_source(source)
            try:
                yield _Prepared(name, load_image(source, max_pixels=max_pixels))
            except ImageLoadError as exc:
                log.warning("skipped %s", exc)
                yield _Prepared(name, None, exc.reason)

    def _pixels(self, images: list[Image.Image]) -> dict[str, torch.Tensor]:
        """The processor's image half: what ``processor(images=..., text=...)`` puts in pixel_values/mask."""
        return self.adapter.pixels(images)

    def _text_inputs(self, text: str, count: int) -> dict[str, torch.Tensor]:
        """Grounding DINO: the processor's text half for ``count`` copies of ``text`` (cached)."""
        return self.adapter.text_inputs(text, count)

    def _run_batch(
        self,
        batch: list[_Prepared],
        labels: LabelSet,
        prompts: list[Prompt],
        settings: DetectionSettings,
        pixels: dict[str, torch.Tensor] | None = None,
    ) -> Iterator[DetectionResult]:
        if not batch:
            return
        images = [p.image for p in batch]
        if not getattr(self.adapter, "uses_text_threshold", True):  # closed-set: the box score decides
            settings = replace(settings, text_threshold=0.0)
        if pixels is None:
            pixels = self._pixels(images)
        if self.adapter.owns_postprocessing:  # SAM 3: boxes, masks and scores per phrase pass
            sources = [p.source for p in batch]
            yield from self.adapter.detect_batch(sources, images, pixels, prompts, labels, settings)
            return
        per_image: list[list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]] = [[] for _ in batch]
        for prompt in prompts:
            logits, pred_boxes = self._forward(pixels, prompt)
            for i, image in enumerate(images):
                frame = self.adapter.box_frame(image.size)
                per_image[i].append(self._select(logits[i], pred_boxes[i], frame, prompt, labels, settings))
        for prepared, parts in zip(batch, per_image, strict=True):
            yield self._finish(prepared, parts, labels, settings)

    def _forward(self, pixels: dict[str, torch.Tensor], prompt: Prompt) -> tuple[torch.Tensor, torch.Tensor]:
        """The family's model on preprocessed pixels and one prompt: logits and cxcywh boxes."""
        return self.adapter.forward(pixels, prompt)

    @staticmethod
    def _select(
        logits: torch.Tensor,
        pred_boxes: torch.Tensor,
        size: tuple[int, int],
        prompt: Prompt,
        labels: LabelSet,
        settings: DetectionSettings,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Scores and boxes as the family's reference post-processing computes them, plus classes.

        ``size`` is the (width, height) the normalised boxes refer to (``box_frame``).
        """
        probs = torch.sigmoid(logits)
        scores = probs.max(dim=-1).values
        width, height = size
        scale = torch.tensor([width, height, width, height], dtype=torch.float32)
        boxes = center_to_corners(pred_boxes) * scale
        classes, class_probs = assign_classes(probs, prompt.owners, len(labels.classes))
        keep = (scores > settings.box_threshold) & (class_probs > settings.text_threshold)
        return boxes[keep], scores[keep], classes[keep]

    @staticmethod
    def _finish(
        prepared: _Prepared,
        parts: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]],
        labels: LabelSet,
        settings: DetectionSettings,
    ) -> DetectionResult:
        width, height = prepared.image.size
        boxes = clamp_to_image(torch.cat([p[0] for p in parts]), width, height)
        scores = torch.cat([p[1] for p in parts])
        classes = torch.cat([p[2] for p in parts])
        if settings.nms_iou is not None and len(scores):
            keep = class_wise_nms(boxes, scores, classes, settings.nms_iou)
            boxes, scores, classes = boxes[keep], scores[keep], classes[keep]
        order = torch.argsort(scores, descending=True, stable=True)
        if settings.max_detections is not None:
            order = order[: settings.max_detections]
        names = labels.names
        return DetectionResult(
            source=prepared.source,
            image_size=(width, height),
            boxes=boxes[order].tolist(),
            scores=scores[order].tolist(),
            labels=[names[c] for c in classes[order].tolist()],
            class_ids=classes[order].tolist(),
        )
