"""A small LRU cache of SAM image embeddings, so a point edit costs only the mask decoder.

The vision encoder is the slow part of SAM (seconds on CPU); the prompt encoder and mask
decoder are milliseconds. The reviewer embeds an image in the background when it is opened
and keeps the last few here: going back to an image, or clicking ten points on it, never
re-runs the encoder. Plain Python (no Qt), shared by the GUI thread and the mask worker.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

DEFAULT_CAPACITY = 4  # a full-size SAM embedding is ~4 MB (256×64×64 floats); a handful is plenty

V = TypeVar("V")


class EmbeddingCache(Generic[V]):
    """Least-recently-used, bounded by entry count; thread-safe.

    Keys say what the embedding is of: (model record, image id, content hash), so a new
    mask model or a changed file never gets a stale embedding.
    """

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 1:
            raise ValueError("an embedding cache holds at least one image")
        self.capacity = capacity
        self._items: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._items

    def keys(self) -> list[Hashable]:
        """Oldest first."""
        with self._lock:
            return list(self._items)

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            if key not in self._items:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return self._items[key]

    def put(self, key: Hashable, value: V) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)

    def get_or_compute(self, key: Hashable, compute: Callable[[], V]) -> V:
        """The cached value, or ``compute()`` stored under ``key``; compute runs outside the lock."""
        value = self.get(key)
        if value is None:
            value = compute()
            self.put(key, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
