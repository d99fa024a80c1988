"""Model loading and detection on a worker thread, so the window never freezes.

``DetectionWorker`` lives in its own ``QThread``; the GUI talks to it only through
queued signals (``load_requested``, ``run_requested``) and a cancel flag it may set
from any thread. Results come back one image at a time, so the project records them as
they arrive and a cancelled run keeps what it already finished.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import traceback
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

from groundlabel.detector import DetectionResult, DetectionSettings
from groundlabel.errors import GroundlabelError
from groundlabel.labels import LabelSet

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DetectionJob:
    """Images (project id, file path) to detect on, with the prompt and thresholds to use."""

    items: tuple[tuple[Any, str], ...]
    labels: LabelSet
    settings: DetectionSettings
    # Example boxes: search by example ("Find similar in folder") instead of by class names.
    exemplars: tuple[Any, ...] = ()


def _is_hub_id(model: str) -> bool:
    from groundlabel.model_loading import _looks_local

    return not _looks_local(model)


class DetectionWorker(QObject):
    """Owns the Detector; every slot runs on the worker thread."""

    load_requested = Signal(str, str)  # model, device
    run_requested = Signal(object)  # DetectionJob

    model_loading = Signal(str)  # a status line ("Loading …", "Downloading 2/7 files")
    model_ready = Signal(str, str)  # model name, device
    model_failed = Signal(str)  # a message for the user
    progress = Signal(int, int, float)  # done, total, seconds left (-1 unknown)
    result = Signal(object, object)  # project image id, DetectionResult
    job_finished = Signal(int, int, bool)  # done, total, cancelled
    job_failed = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self.detector = None
        self.model_key: tuple[str, str] | None = None
        self._cancel = threading.Event()
        self.load_requested.connect(self._load)
        self.run_requested.connect(self._run)

    def cancel(self) -> None:
        """Thread-safe: the running job stops after the image it is on."""
        self._cancel.set()

    @Slot(str, str)
    def _load(self, model: str, device: str) -> None:
        if self.model_key == (model, device) and self.detector is not None:
            self.model_ready.emit(model, str(self.detector.device))
            return
        self.detector = None
        self.model_key = None
        try:
            if _is_hub_id(model) and os.environ.get("HF_HUB_OFFLINE", "") in ("", "0"):
                self._download(model)
            self.model_loading.emit(f"Loading model {model} …")
            from groundlabel.detector import Detector
            from groundlabel.model_loading import FROM_PRETRAINED_LOCK

            with FROM_PRETRAINED_LOCK:  # the mask model may be loading on its own thread
                self.detector = Detector.load(model, device=device)
            self.model_key = (model, device)
            self.model_ready.emit(model, str(self.detector.device))
        except GroundlabelError as exc:
            self.model_failed.emit(str(exc))
        except Exception as exc:  # a bug or an odd environment: report it, keep the app alive
            log.error("model loading failed:\n%s", traceback.format_exc())
            self.model_failed.emit(f"cannot load model {model!r}: {type(exc).__name__}: {exc}")

    def _download(self, model: str) -> None:
        """Fetch a hub model first with a visible file count; cached files are not fetched again."""
        from huggingface_hub import snapshot_download
        from tqdm.auto import tqdm

        worker = self

        class _Progress(tqdm):  # huggingface_hub reports files done through a tqdm class
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                kwargs["disable"] = True
                super().__init__(*args, **kwargs)

            def update(self, n: float | None = 1) -> bool | None:
                result = super().update(n)
                worker.model_loading.emit(f"Downloading {model}: {self.n}/{self.total or '?'} files")
                return result

        self.model_loading.emit(f"Checking the model cache for {model} …")
        try:
            snapshot_download(
                model, tqdm_class=_Progress, allow_patterns=["*.json", "*.txt", "*.safetensors"]
            )
        except Exception as exc:  # offline or unknown id: from_pretrained reports it precisely
            log.info("pre-download of %s failed: %s", model, exc)

    @Slot(object)
    def _run(self, job: DetectionJob) -> None:
        self._cancel.clear()
        total = len(job.items)
        if self.detector is None:
            self.job_failed.emit("the model is not loaded yet; see the status bar")
            return
        started = time.monotonic()
        done = 0
        self.progress.emit(0, total, -1.0)
        try:
            for image_id, path in job.items:
                if self._cancel.is_set():
                    break
                result = self._detect_one(path, job)
                done += 1
                self.result.emit(image_id, result)
                elapsed = time.monotonic() - started
                self.progress.emit(done, total, elapsed / done * (total - done))
        except Exception as exc:
            log.error("detection failed:\n%s", traceback.format_exc())
            self.job_failed.emit(f"detection stopped: {type(exc).__name__}: {exc}")
            return
        self.job_finished.emit(done, total, self._cancel.is_set() and done < total)

    def _detect_one(self, path: str, job: DetectionJob) -> DetectionResult:
        s = job.settings
        if job.exemplars:
            return next(
                self.detector.detect_like(
                    [path], job.exemplars, box_threshold=s.box_threshold, nms_iou=s.nms_iou,
                    max_detections=s.max_detections,
                )
            )  # fmt: skip
        return next(
            iter(
                self.detector.detect(
                    [path],
                    job.labels,
                    box_threshold=s.box_threshold,
                    text_threshold=s.text_threshold,
                    nms_iou=s.nms_iou,
                    max_detections=s.max_detections,
                )
            )
        )


_still_running: set[tuple[QThread, QObject]] = set()  # threads that outlived their window


class DetectionThread(QObject):
    """Starts the worker on its own thread and stops it cleanly when the window closes."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.thread = QThread()
        self.thread.setObjectName("groundlabel-detection")
        self.worker = DetectionWorker()
        self.worker.moveToThread(self.thread)
        self.thread.start()

    def stop(self, timeout_ms: int = 30000) -> bool:
        """Cancel the job and end the thread; False when it is still busy after ``timeout_ms``
        (a model load or the kernel build cannot be cut short: the caller must not wait for it)."""
        self.worker.cancel()
        self.thread.quit()
        if self.thread.wait(timeout_ms):
            return True
        # Still busy: keep the thread and its worker alive past the window (Qt aborts the process
        # when a running QThread is destroyed) until it ends by itself, or the process does.
        thread, worker = self.thread, self.worker
        _still_running.add((thread, worker))
        thread.finished.connect(lambda: _still_running.discard((thread, worker)))
        return False
