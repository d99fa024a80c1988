"""Every forward pass of the backend on one thread, and a bound on images held at once.

Why: uvicorn serves each ``/predict`` on a thread of its pool, and inference used to run on
whichever request thread took the lock. Each new calling thread then gets its own
OpenMP worker team and its own glibc malloc arena, and with the raised malloc
thresholds (``groundlabel.inference.allocator``) every arena keeps the gigabytes a
Grounding DINO pass frees: RSS grew with the number of distinct request threads (see
``benchmarks/backend_load.py``). Handing the passes to one owner thread keeps one arena
and one OpenMP team hot, so RSS stays at the sequential level. Requests still download
and decode in parallel, but at most ``max_images`` decoded images are held at a time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from PIL import Image

from groundlabel.detector import DetectionResult, DetectionSettings, Detector
from groundlabel.labels import LabelSet

# One image in the model, one decoded and waiting: enough to keep the model busy.
DEFAULT_MAX_IMAGES = 2


class InferenceOwner:
    """Runs ``detector.detect_image`` on a single dedicated thread; callers block on the result."""

    def __init__(
        self,
        detector: Detector,
        max_images: int = DEFAULT_MAX_IMAGES,
        on_inference: Callable[[float], None] | None = None,
    ) -> None:
        self.detector = detector
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="groundlabel-inference")
        self._slots = threading.BoundedSemaphore(max(1, max_images))
        self._on_inference = on_inference

    @contextmanager
    def image_slot(self) -> Iterator[None]:
        """Hold one of the ``max_images`` slots while a task's images are fetched and detected."""
        with self._slots:
            yield

    def detect(self, image: Image.Image, labels: LabelSet, settings: DetectionSettings) -> DetectionResult:
        """The detector's result for one decoded image, computed on the owner thread."""
        return self.run(lambda: self.detector.detect_image(image, labels, settings))

    def run(self, compute: Callable[[], DetectionResult]) -> DetectionResult:
        """Any other use of the model (example boxes, say), on the same owner thread."""
        return self._executor.submit(self._timed, compute).result()

    def _timed(self, compute: Callable[[], DetectionResult]) -> DetectionResult:
        started = time.perf_counter()
        try:
            return compute()
        finally:
            if self._on_inference is not None:
                self._on_inference(time.perf_counter() - started)

    def close(self) -> None:
        """Finish the pass in progress (if any) and stop the thread."""
        self._executor.shutdown(wait=True, cancel_futures=True)
