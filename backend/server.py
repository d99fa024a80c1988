"""Assembling and running the backend: model first, then the HTTP server.

The model loads before the server listens, so Label Studio's /setup (3 s timeout) never
waits for it, and a model that cannot load stops ``groundlabel serve`` with one message.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass

from groundlabel.backend.ls_auth import LabelStudioAuth
from groundlabel.backend.ls_client import LabelStudioClient
from groundlabel.backend.predictor import Predictor
from groundlabel.backend.settings import BackendSettings
from groundlabel.backend.task_images import TaskImageFetcher
from groundlabel.backend.webhook_worker import PrelabelWorker

from groundlabel.class_thresholds import ClassThresholds
from groundlabel.detector import DetectionSettings, Detector

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelOptions:
    model: str
    device: str = "auto"
    dtype: str = "fp32"
    box_threshold: float = 0.35
    text_threshold: float = 0.25
    class_thresholds: ClassThresholds | None = None  # --class-thresholds FILE


def build_predictor(options: ModelOptions, settings: BackendSettings) -> Predictor:
    """Load the detector and wire it to an image fetcher holding Label Studio's credentials."""
    detector = Detector.load(options.model, device=options.device, dtype=options.dtype)
    auth = (
        LabelStudioAuth(settings.label_studio_url, settings.api_key)
        if settings.label_studio_url and settings.api_key
        else None
    )
    detection = DetectionSettings(box_threshold=options.box_threshold, text_threshold=options.text_threshold)
    return Predictor(detector, detection, TaskImageFetcher(settings, auth), options.class_thresholds)


def serve(options: ModelOptions, host: str, port: int, settings: BackendSettings | None = None) -> None:
    import uvicorn
    from groundlabel.backend.app import create_app

    settings = settings or BackendSettings.from_env()
    predictor = build_predictor(options, settings)
    worker = None
    if settings.background_prelabel and settings.label_studio_url and settings.api_key:
        url, key = settings.label_studio_url, settings.api_key
        worker = PrelabelWorker(lambda: LabelStudioClient(url, key), predictor)
        worker.start()
    elif not settings.label_studio_url:
        log.warning(
            "LABEL_STUDIO_URL is not set: images stored in Label Studio (/data/...) cannot be downloaded"
        )
    if settings.label_studio_url and not settings.api_key:
        log.warning("LABEL_STUDIO_API_KEY is not set: Label Studio will refuse image downloads")
    print(
        f"groundlabel backend: model {options.model} ({predictor.model_version}) on http://{host}:{port}"
        + (f", Label Studio at {settings.label_studio_url}" if settings.label_studio_url else "")
        + (", pre-labelling imported tasks in the background" if worker else ""),
        file=sys.stderr,
        flush=True,
    )
    try:
        uvicorn.run(create_app(predictor, settings, worker), host=host, port=port, log_level="warning")
    finally:
        if worker is not None:
            worker.stop()
        predictor.fetcher.close()
