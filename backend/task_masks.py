"""Masks for Label Studio tasks: the boxes' masks, and SAM answers to clicks.

A SAM image embedding is the costly part (one vision pass); the masks for boxes and
points against it cost only the prompt encoder and mask decoder. In interactive mode an
annotator clicks several times on the same image, so embeddings are kept per task image
in a small LRU cache: the first click pays for the embedding, the next ones do not, and a
task pre-labelled with masks a moment ago answers its first click from the cache too.

Every forward pass, the segmenter's as well as the detector's, runs on the backend's one
inference thread (``InferenceOwner``). Masks that the detector's family already made
(SAM 3's ``DetectionResult.masks``) are used as they are: no segmenter is needed for them.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import replace

from groundlabel.backend.inference_owner import InferenceOwner
from PIL import Image

from groundlabel import masks
from groundlabel.detector import DetectionResult
from groundlabel.segmenters import ImageEmbedding, MaskProposal, Segmenter

log = logging.getLogger(__name__)

#: Image embeddings kept for interactive clicks (SAM ViT-B: about 4 MB each, SAM-HQ more).
DEFAULT_CACHE_SIZE = 4


class EmbeddingCache:
    """The most recently used image embeddings, by task image; safe across request threads."""

    def __init__(self, size: int = DEFAULT_CACHE_SIZE) -> None:
        self.size = max(0, size)
        self._items: OrderedDict[Hashable, ImageEmbedding] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> ImageEmbedding | None:
        with self._lock:
            embedding = self._items.get(key)
            if embedding is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return embedding

    def peek(self, key: Hashable) -> ImageEmbedding | None:
        """The entry, if present, without counting a hit or a miss or refreshing it."""
        with self._lock:
            return self._items.get(key)

    def put(self, key: Hashable, embedding: ImageEmbedding) -> None:
        if self.size == 0:
            return
        with self._lock:
            self._items[key] = embedding
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


class TaskMasks:
    """The backend's mask model (optional), its embedding cache and the inference thread."""

    def __init__(
        self,
        segmenter: Segmenter | None,
        inference: InferenceOwner,
        cache_size: int = DEFAULT_CACHE_SIZE,
    ) -> None:
        self.segmenter = segmenter
        self.inference = inference
        self.cache = EmbeddingCache(cache_size)

    @property
    def model_record(self) -> str:
        """The segmenter's ``family:checkpoint`` for the model version; empty without one."""
        return self.segmenter.model_record if self.segmenter is not None else ""

    def embedding(self, key: Hashable, image: Callable[[], Image.Image]) -> ImageEmbedding:
        """The cached embedding of a task image, or one computed now (``image`` is only called then)."""
        assert self.segmenter is not None
        full_key = (self.segmenter.model_record, key)
        cached = self.cache.get(full_key)
        if cached is not None:
            return cached
        picture = image()
        embedding = self.inference.run(lambda: self.segmenter.embed(picture))
        self.cache.put(full_key, embedding)
        return embedding

    def image_size(self, key: Hashable) -> tuple[int, int] | None:
        """(width, height) of a task image whose embedding is cached, without fetching it."""
        if self.segmenter is None:
            return None
        cached = self.cache.peek((self.segmenter.model_record, key))
        return cached.image_size if cached is not None else None

    def add_masks(self, key: Hashable, image: Image.Image, result: DetectionResult) -> DetectionResult:
        """``result`` with one mask per box: the family's own masks if it made them, else the segmenter's.

        Without either, ``result`` comes back without masks. The embedding is computed once
        for all boxes and kept for clicks on the same image.
        """
        if result.masks or self.segmenter is None or not result.boxes:
            return result
        embedding = self.embedding(key, lambda: image)
        boxes = [tuple(float(v) for v in box) for box in result.boxes]
        proposals = self.inference.run(lambda: self.segmenter.masks_for_boxes(embedding, boxes))
        return replace(
            result,
            masks=[masks.encode(p.mask) for p in proposals],
            mask_scores=[float(p.score) for p in proposals],
        )

    def mask_for_prompt(
        self,
        key: Hashable,
        image: Callable[[], Image.Image],
        box: tuple[float, float, float, float] | None,
        points: list[tuple[float, float]],
        point_labels: list[int],
    ) -> tuple[MaskProposal, tuple[int, int]]:
        """SAM's mask for a box and/or points in pixels, and the image size it belongs to."""
        assert self.segmenter is not None
        embedding = self.embedding(key, image)
        proposal = self.inference.run(
            lambda: self.segmenter.mask_for_prompt(embedding, box, points, point_labels)
        )
        return proposal, embedding.image_size
