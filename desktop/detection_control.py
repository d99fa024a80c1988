"""Detection as the window sees it: model status, jobs, a progress bar with ETA and Cancel.

The model and thresholds are remembered per project (``model``, ``device``,
``box_threshold``, ``text_threshold`` settings). Jobs go to the ``DetectionWorker``
thread; each finished image is recorded in the project on the GUI thread as it arrives,
so a cancelled or crashed run keeps every image it finished.
"""

from __future__ import annotations

import logging
from typing import Any

from groundlabel.desktop.detection_worker import DetectionJob, DetectionThread
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from groundlabel.class_thresholds import ClassThresholds
from groundlabel.detector import DetectionResult, DetectionSettings
from groundlabel.errors import GroundlabelError
from groundlabel.labels import LabelSet
from groundlabel.model_catalog import DEFAULT_MODEL
from groundlabel.project import ImageState, ReviewProject
from groundlabel.project.predicting import PredictionPlan, prediction_plan
from groundlabel.project.thresholds import save_thresholds, set_auto_accept_precision

log = logging.getLogger(__name__)


def format_eta(seconds: float) -> str:
    if seconds < 0:
        return "estimating…"
    seconds = round(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min left"
    if seconds >= 60:
        return f"{seconds // 60} min {seconds % 60:02d} s left"
    return f"{seconds} s left"


class DetectionProgress(QWidget):
    """Progress bar, ETA and Cancel for the status bar; hidden when idle."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bar = QProgressBar()
        self.bar.setMaximumWidth(220)
        self.bar.setFormat("%v / %m images")
        self.eta = QLabel()
        self.cancel_button = QPushButton("Cancel")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.bar)
        layout.addWidget(self.eta)
        layout.addWidget(self.cancel_button)
        self.hide()


class DetectionControl(QObject):
    """Loads the project's model in the background and runs detection jobs on it."""

    model_status = Signal(str)
    model_problem = Signal(object)  # why the model is not loaded (for the banner), or None once it loads
    error = Signal(str)
    message = Signal(str)
    busy_changed = Signal(bool)
    image_failed = Signal(int, str)  # image id, reason
    job_done = Signal(int, int, bool)  # done, total, cancelled

    def __init__(self, progress: DetectionProgress, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.progress = progress
        self.thread = DetectionThread(self)
        worker = self.thread.worker
        worker.model_loading.connect(self.model_status)
        worker.model_ready.connect(self._on_model_ready)
        worker.model_failed.connect(self._on_model_failed)
        worker.progress.connect(self._on_progress)
        worker.result.connect(self._on_result)
        worker.job_finished.connect(self._on_finished)
        worker.job_failed.connect(self._on_failed)
        progress.cancel_button.clicked.connect(self.cancel)
        self.project: ReviewProject | None = None
        self.model_ready = False
        self.model_error: str | None = None
        self.busy = False
        self._job: DetectionJob | None = None
        self._job_project: ReviewProject | None = None
        self._plan: PredictionPlan | None = None  # the job's per-class thresholds and auto-accept
        self._model = DEFAULT_MODEL
        self._record: str | None = None  # family:checkpoint once the model is loaded

    # -- settings, remembered per project -------------------------------------------------
    def settings(self) -> DetectionSettings:
        project = self.project
        if project is None:
            return DetectionSettings()
        return DetectionSettings(
            box_threshold=float(project.get_setting("box_threshold", 0.35)),
            text_threshold=float(project.get_setting("text_threshold", 0.25)),
        )

    def model_choice(self) -> tuple[str, str]:
        if self.project is None:
            return DEFAULT_MODEL, "auto"
        return self.project.model or DEFAULT_MODEL, str(self.project.get_setting("device", "auto"))

    def attach(
        self, project: ReviewProject | None, model: str | None = None, device: str | None = None
    ) -> None:
        """Use ``project``; a model/device given on the command line becomes the project's choice."""
        self.cancel()
        self.project = project
        if project is None:
            return
        if model:
            project.model = model
        if device:
            project.set_setting("device", device)
        self.load_model()

    def apply_settings(self, model: str, device: str, box_threshold: float, text_threshold: float) -> None:
        """From the settings dialog: store, and reload the model only if it changed."""
        if self.project is None:
            return
        changed = (model, device) != self.model_choice() or self.model_error is not None
        self.project.model = model
        self.project.set_setting("device", device)
        self.project.set_setting("box_threshold", box_threshold)
        self.project.set_setting("text_threshold", text_threshold)
        if changed:
            self.load_model()

    def apply_class_thresholds(self, thresholds: ClassThresholds, auto_accept: float | None) -> None:
        """From the settings dialog: the per-class thresholds (on/off, values) and auto-accept."""
        if self.project is None:
            return
        with self.project.batch():
            save_thresholds(self.project, thresholds)
            set_auto_accept_precision(self.project, auto_accept)

    def load_model(self) -> None:
        model, device = self.model_choice()
        self._model = model
        self._record = None
        self.model_ready = False
        self.model_error = None
        self.model_problem.emit(None)
        self.model_status.emit(f"Loading model {model} …")
        self.thread.worker.load_requested.emit(model, device)

    def prelabel_with(self, model: str) -> None:
        """Switch the project to ``model`` (e.g. one just trained) and detect on every unreviewed image once it loads."""
        settings = self.settings()
        self._detect_remaining_when_ready = True
        self.apply_settings(model, self.model_choice()[1], settings.box_threshold, settings.text_threshold)

    def _on_model_ready(self, model: str, device: str) -> None:
        self.model_ready = True
        detector = self.thread.worker.detector
        family = getattr(detector, "family", "")
        # Boxes and prediction keys record the family with the checkpoint.
        self._record = detector.model_record if detector is not None else None
        self.model_status.emit(
            f"Model: {model} ({family}) on {device}" if family else f"Model: {model} on {device}"
        )
        self.model_problem.emit(None)
        if getattr(self, "_detect_remaining_when_ready", False):
            self._detect_remaining_when_ready = False
            self.detect(self.remaining_ids())

    def _on_model_failed(self, reason: str) -> None:
        """Never a modal box: the banner shows it and the window stays usable."""
        self.model_error = reason
        log.warning("model not loaded: %s", reason)  # for a terminal; the window shows the banner
        self.model_status.emit("Model not loaded (see the banner)")
        self.model_problem.emit(reason)

    # -- jobs -------------------------------------------------------------------------------
    def remaining_ids(self) -> list[int]:
        """Images not reviewed whose prediction is missing or was made with other settings."""
        if self.project is None:
            return []
        key = self._key()
        if key is None:
            return []
        return [
            r.id
            for r in self.project.images(state=[ImageState.NEW, ImageState.PREDICTED])
            if r.prediction_key != key
        ]

    def _key(self) -> str | None:
        try:
            return prediction_plan(
                self.project, self._record or self._model, self.project.label_set(), self.settings()
            ).key
        except GroundlabelError:
            return None

    def detect(self, image_ids: list[int]) -> bool:
        """Queue detection on ``image_ids``; False with a message if it cannot start."""
        if self.project is None or not image_ids:
            self.message.emit("No images to detect on")
            return False
        if self.busy:
            self.message.emit("Detection is already running; cancel it first")
            return False
        if self.model_error is not None:
            self.message.emit("Detection needs a model: choose one in the banner above the image")
            self.model_problem.emit(self.model_error)
            return False
        try:
            labels = self.project.label_set()
        except GroundlabelError as exc:
            self.error.emit(f"Add classes first: the detector's prompt is built from them.\n\n({exc})")
            return False
        self._plan = prediction_plan(self.project, self._record or self._model, labels, self.settings())
        return self._start(DetectionJob(self._items(image_ids), labels, self._plan.run_settings))

    def find_similar(self, box_ids: list[int]) -> bool:
        """Search every image of the folder for boxes like the selected ones (OWL models).

        The proposals arrive pending, labelled with their example's class; see
        ``groundlabel.project.similar``.
        """
        from groundlabel.exemplars import check_supported
        from groundlabel.project.similar import exemplars_from_boxes

        if self.project is None or self.busy:
            self.message.emit(
                "Detection is already running; cancel it first" if self.busy else "Open a folder"
            )
            return False
        detector = self.thread.worker.detector
        try:
            exemplars = exemplars_from_boxes(self.project, [int(i) for i in box_ids])
            if detector is not None:
                check_supported(detector.family, detector.model_name)
        except GroundlabelError as exc:
            self.error.emit(f"Cannot find similar boxes.\n\n{exc}")
            return False
        labels = LabelSet.from_names(list(dict.fromkeys(e.label for e in exemplars)))
        ids = [r.id for r in self.project.images()]
        return self._start(DetectionJob(self._items(ids), labels, self.settings(), tuple(exemplars)))

    def _items(self, image_ids: list[int]) -> tuple[tuple[int, str], ...]:
        return tuple((image_id, str(self.project.image_file(image_id))) for image_id in image_ids)

    def _start(self, job: DetectionJob) -> bool:
        self._job = job
        self._job_project = self.project  # results belong to this project, even if another opens
        self._set_busy(True)
        self.progress.bar.setRange(0, len(job.items))
        self.progress.bar.setValue(0)
        self.progress.eta.setText("waiting for the model…" if not self.model_ready else "starting…")
        self.thread.worker.run_requested.emit(job)
        return True

    def cancel(self) -> None:
        if self.busy:
            self.thread.worker.cancel()
            self.progress.eta.setText("cancelling after this image…")

    def _set_busy(self, busy: bool) -> None:
        self.busy = busy
        self.progress.setVisible(busy)
        self.busy_changed.emit(busy)

    def _on_progress(self, done: int, total: int, seconds_left: float) -> None:
        self.progress.bar.setRange(0, total)
        self.progress.bar.setValue(done)
        self.progress.eta.setText(format_eta(seconds_left))

    def _on_result(self, image_id: int, result: DetectionResult) -> None:
        if self.project is None or self._job is None or self._job_project is not self.project:
            return  # a late result of a job on a project that was closed since
        if not result.ok:
            self.image_failed.emit(image_id, result.error or "unreadable")
            return
        try:
            if self._job.exemplars:
                from groundlabel.project.similar import record_similar

                model = f"{self._record or self._model}|examples"
                record_similar(self.project, image_id, result, model, self._job.settings)
                return
            plan = self._plan
            if plan.thresholds.active:
                result = plan.thresholds.apply(
                    result, plan.settings.box_threshold, plan.settings.max_detections
                )
            self.project.record_prediction(
                image_id,
                result,
                self._record or self._model,
                self._job.labels,
                plan.settings,
                plan.fingerprint,
                plan.auto_accept,
            )
        except GroundlabelError as exc:
            self.image_failed.emit(image_id, str(exc))

    def _on_finished(self, done: int, total: int, cancelled: bool) -> None:
        self._set_busy(False)
        self.message.emit(f"Detection {'cancelled' if cancelled else 'finished'}: {done} / {total} image(s)")
        self.job_done.emit(done, total, cancelled)

    def _on_failed(self, reason: str) -> None:
        self._set_busy(False)
        if self.model_error is not None:  # a job that waited for a model that then failed
            self.message.emit(f"Detection not run: {reason}")
            self.model_problem.emit(self.model_error)
        else:
            self.error.emit(reason)

    def shutdown(self, timeout_ms: int = 30000) -> bool:
        """True when the worker thread has ended within ``timeout_ms``."""
        return self.thread.stop(timeout_ms)

    def state(self) -> dict[str, Any]:
        return {"busy": self.busy, "model_ready": self.model_ready, "model_error": self.model_error}
