"""The reviewer's LRU cache of image embeddings (plain Python, no Qt, no model)."""

from __future__ import annotations

import threading

import pytest
from groundlabel.desktop.embedding_cache import EmbeddingCache


def test_keeps_the_most_recently_used_and_drops_the_oldest():
    cache: EmbeddingCache[str] = EmbeddingCache(capacity=2)
    cache.put("a", "A")
    cache.put("b", "B")
    assert cache.get("a") == "A"  # a is now the most recent
    cache.put("c", "C")  # so b goes
    assert "b" not in cache
    assert cache.keys() == ["a", "c"]
    assert cache.get("b") is None
    assert (cache.hits, cache.misses) == (1, 1)


def test_get_or_compute_runs_the_computation_once_per_key():
    cache: EmbeddingCache[int] = EmbeddingCache(capacity=3)
    calls: list[str] = []

    def compute(key: str):
        return lambda: calls.append(key) or len(calls)

    assert cache.get_or_compute("x", compute("x")) == 1
    assert cache.get_or_compute("x", compute("x")) == 1
    assert cache.get_or_compute("y", compute("y")) == 2
    assert calls == ["x", "y"]


def test_capacity_bounds_the_entries_under_concurrent_puts():
    cache: EmbeddingCache[int] = EmbeddingCache(capacity=4)

    def fill(start: int) -> None:
        for i in range(start, start + 200):
            cache.put(i, i)
            cache.get(i - 1)

    threads = [threading.Thread(target=fill, args=(n * 1000,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(cache) == 4


def test_clear_and_a_capacity_below_one():
    cache: EmbeddingCache[int] = EmbeddingCache(capacity=1)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.keys() == ["b"]
    cache.clear()
    assert len(cache) == 0
    with pytest.raises(ValueError):
        EmbeddingCache(capacity=0)
