"""Assembling and running the backend: model first, then the HTTP server.

The model loads before the server listens, so Label Studio's /setup (3 s timeout) never
waits for it, and a model that cannot load stops ``groundlabel serve`` with one message.

On SIGTERM (``docker stop``) or Ctrl+C the backend stops taking work at once: running
/predict batches and the background worker finish the image in progress, leave the rest
in the queue on disk, and the process exits within a few seconds, not after the batch.
A second signal during that stop ends the process at once; the queue is a committed
SQLite file, so nothing in it is lost, and claims of the ended process are free again.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from groundlabel.backend.ls_auth import LabelStudioAuth
from groundlabel.backend.ls_client import LabelStudioClient
from groundlabel.backend.predictor import Predictor
from groundlabel.backend.settings import BackendSettings
from groundlabel.backend.task_images import TaskImageFetcher
from groundlabel.backend.task_queue import TaskQueue
from groundlabel.backend.webhook_worker import PrelabelWorker

from groundlabel import interrupts
from groundlabel.class_thresholds import ClassThresholds
from groundlabel.detector import DetectionSettings, Detector
from groundlabel.segmenters import load_segmenter

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelOptions:
    model: str
    device: str = "auto"
    dtype: str = "auto"
    box_threshold: float = 0.35
    text_threshold: float = 0.25
    class_thresholds: ClassThresholds | None = None  # --class-thresholds FILE
    masks: str | None = None  # --masks MODEL: a SAM-family checkpoint for the boxes' masks and clicks
    tracker: str | None = None  # --tracker MODEL: a video tracker for rectangles drawn on a video
    track_max_frames: int = 30  # --track-frames N: frames followed after a drawn rectangle


def build_predictor(options: ModelOptions, settings: BackendSettings) -> Predictor:
    """Load the detector and wire it to an image fetcher holding Label Studio's credentials."""
    # The mask model first: it is the smaller one, so a wrong --masks fails before the detector loads.
    segmenter = load_segmenter(options.masks, options.device, options.dtype) if options.masks else None
    video_tracker = None
    if options.tracker:
        from groundlabel.trackers.sam2_video import Sam2VideoTrackers

        video_tracker = Sam2VideoTrackers(options.tracker, options.device)
    detector = Detector.load(options.model, device=options.device, dtype=options.dtype)
    auth = (
        LabelStudioAuth(settings.label_studio_url, settings.api_key)
        if settings.label_studio_url and settings.api_key
        else None
    )
    detection = DetectionSettings(box_threshold=options.box_threshold, text_threshold=options.text_threshold)
    return Predictor(
        detector,
        detection,
        TaskImageFetcher(settings, auth),
        options.class_thresholds,
        segmenter=segmenter,
        video_tracker=video_tracker,
        track_max_frames=options.track_max_frames,
    )


def serve(
    options: ModelOptions,
    host: str,
    port: int,
    settings: BackendSettings | None = None,
    state_dir: Path | None = None,
) -> None:
    import uvicorn
    from groundlabel.backend.app import create_app

    settings = settings or BackendSettings.from_env()
    if state_dir is not None:
        settings = replace(settings, state_dir=state_dir)
    predictor = build_predictor(options, settings)
    worker = None
    if settings.background_prelabel and settings.label_studio_url and settings.api_key:
        url, key = settings.label_studio_url, settings.api_key
        queue = TaskQueue(settings.state_dir, predictor.model_version, settings.queue_max)
        worker = PrelabelWorker(lambda: LabelStudioClient(url, key), predictor, queue)
        worker.start()
        waiting = queue.length()
        if waiting:
            log.info("%d task(s) left in the queue %s: pre-labelling them", waiting, queue.path)
    elif not settings.label_studio_url:
        log.warning(
            "LABEL_STUDIO_URL is not set: images stored in Label Studio (/data/...) cannot be downloaded"
        )
    if settings.label_studio_url and not settings.api_key:
        log.warning("LABEL_STUDIO_API_KEY is not set: Label Studio will refuse image downloads")
    print(
        f"groundlabel backend: model {options.model} ({predictor.model_version}) on http://{host}:{port}"
        + (f", Label Studio at {settings.label_studio_url}" if settings.label_studio_url else "")
        + (
            f", pre-labelling imported tasks in the background (queue in {settings.state_dir})"
            if worker
            else ""
        ),
        file=sys.stderr,
        flush=True,
    )
    config = uvicorn.Config(
        create_app(predictor, settings, worker),
        host=host,
        port=port,
        log_level="warning",
        timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
    )

    def begin_stop(signum: int) -> None:
        # In the signal watcher's thread, never in a signal handler: Event.set takes a lock, and a
        # handler re-entering it on a second SIGTERM deadlocked the process (interrupts.py).
        log.info("stopping: finishing the image in progress, keeping the rest queued")
        predictor.stopping.set()
        if worker is not None:
            worker.request_stop()
        server.should_exit = True

    server = _stopping_server(config)
    with interrupts.watch_for("groundlabel serve") as watch:
        watch.on_first = begin_stop
        watch.kept = f"the queue in {settings.state_dir} keeps every task not yet posted"
        try:
            server.run()
        finally:
            if worker is not None:
                worker.stop()
            predictor.close()
            log.info("stopped; the queue is saved in %s", settings.state_dir)


# Seconds uvicorn waits for open requests after SIGTERM; batches stop at the next image.
SHUTDOWN_GRACE_S = 5


def _stopping_server(config: Any) -> Any:
    """uvicorn's server, leaving SIGTERM and SIGINT to ``interrupts`` (which sets ``should_exit``).

    uvicorn's own handlers would wait for in-flight /predict batches (up to the predict
    budget) before anything else learns about the shutdown, and re-raise the signal after.
    """
    import uvicorn

    class StoppingServer(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    return StoppingServer(config)
