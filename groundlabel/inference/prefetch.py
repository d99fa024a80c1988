"""Run a producer iterator one step ahead in a background thread.

For a folder the model is the long pole, but decoding and resizing the next images
still cost tens of milliseconds each on the main thread. PIL's decoders and resizers
and numpy release the GIL, so doing that work in a thread while the model runs on the
next batch overlaps it for free. Items come out in the producer's order; an exception
in the producer is re-raised in the consumer at the point it happened; the queue is
bounded so at most ``depth`` prepared items wait in memory; closing the consumer early
stops the producer.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

_DONE = object()


class _Failure:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def prefetch(items: Iterable[T], depth: int = 2) -> Iterator[T]:
    """Yield ``items`` in order while a daemon thread computes up to ``depth`` ahead."""
    slots: queue.Queue = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()

    def put(value: object) -> bool:
        while not stop.is_set():
            try:
                slots.put(value, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
        except BaseException as exc:  # handed to the consumer, which re-raises it
            put(_Failure(exc))
            return
        put(_DONE)

    worker = threading.Thread(target=produce, name="groundlabel-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            value = slots.get()
            if value is _DONE:
                return
            if isinstance(value, _Failure):
                raise value.exc
            yield value
    finally:
        stop.set()
        worker.join(timeout=5)
