"""Review → Train…: train a detector on the reviewed images in the background, then offer to
pre-label the unreviewed ones with it.

The dialog only gathers options and shows progress; the training is
``groundlabel.trainers.loop.train`` on a QThread (``TrainTask``), fed the same options as
``groundlabel train`` and stopped through its stop event (which saves a checkpoint). When it
succeeds, ``offer_prelabel`` asks whether to switch the project to the new model and detect
on every image not reviewed yet.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QThread, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from groundlabel.errors import GroundlabelError
from groundlabel.trainers import ARCHITECTURES, DEFAULT_ARCH
from groundlabel.trainers.loop import EpochRecord, Hooks, TrainOptions, TrainResult, train


def default_model_dir(folder: Path, arch: str) -> Path:
    """A new folder beside the images: ``FOLDER/models/<arch>-<date-time>``."""
    return Path(folder) / "models" / f"{arch}-{time.strftime('%Y%m%d-%H%M%S')}"


class TrainTask(QThread):
    """``train(options)`` off the GUI thread; progress as signals, Stop through the loop's event."""

    stepped = Signal(int, int, float)  # batch, batches, running loss
    epoch_done = Signal(object)  # EpochRecord
    succeeded = Signal(object)  # TrainResult
    failed = Signal(str)

    def __init__(self, options: TrainOptions, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.options = options
        self.stop_event = threading.Event()

    def run(self) -> None:
        hooks = Hooks(
            on_step=lambda done, total, loss: self.stepped.emit(done, total, loss),
            on_epoch=self.epoch_done.emit,
            stop=self.stop_event,
            show_progress=False,
        )
        try:
            result = train(self.options, hooks)
        except GroundlabelError as exc:
            self.failed.emit(str(exc))
        except Exception as exc:  # a bug: say so instead of losing the window
            self.failed.emit(f"{type(exc).__name__}: {exc}")
        else:
            self.succeeded.emit(result)


class TrainDialog(QDialog):
    """Options, then progress: epoch bar, loss and the latest mAP; Stop keeps a checkpoint."""

    finished_training = Signal(object)  # TrainResult

    def __init__(self, folder: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.folder = Path(folder)
        self.task: TrainTask | None = None
        self.result: TrainResult | None = None
        self.setWindowTitle("Train a detector on the reviewed images")
        form = QFormLayout()
        self.arch = QComboBox()
        self.arch.addItems(list(ARCHITECTURES))
        self.arch.setCurrentText(DEFAULT_ARCH)
        self.output = QLineEdit(str(default_model_dir(self.folder, DEFAULT_ARCH)))
        self.epochs = QSpinBox()
        self.epochs.setRange(1, 1000)
        self.epochs.setValue(50)
        self.image_size = QSpinBox()
        self.image_size.setRange(64, 1280)
        self.image_size.setSingleStep(32)
        self.image_size.setValue(640)
        self.batch_size = QSpinBox()
        self.batch_size.setRange(1, 256)
        self.batch_size.setValue(8)
        self.scratch = QCheckBox("from scratch (no COCO-pretrained download)")
        form.addRow("Architecture", self.arch)
        form.addRow("Model folder", self.output)
        form.addRow("Epochs", self.epochs)
        form.addRow("Image size", self.image_size)
        form.addRow("Batch size", self.batch_size)
        form.addRow("", self.scratch)
        self.status = QLabel("Trains on the reviewed images (split train=0.8,val=0.2, as export).")
        self.status.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.buttons = QDialogButtonBox()
        self.start_button = QPushButton("Train")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setEnabled(False)
        self.buttons.addButton(self.start_button, QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.addButton(self.stop_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.start_button.clicked.connect(self.start)
        self.stop_button.clicked.connect(self.stop)
        self.buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.buttons)
        self._last_map: str = "-"
        self._epoch = 0
        #: extra TrainOptions fields (tests: a tiny config); not shown.
        self.extra_options: dict[str, Any] = {}

    def options(self) -> TrainOptions:
        scratch = self.scratch.isChecked() or "config_file" in self.extra_options
        return TrainOptions(
            folder=self.folder,
            output=Path(self.output.text()).expanduser(),
            arch=self.arch.currentText(),
            from_scratch=scratch,
            epochs=self.epochs.value(),
            image_size=self.image_size.value(),
            batch_size=self.batch_size.value(),
            **self.extra_options,
        )

    def start(self) -> None:
        options = self.options()
        self.task = TrainTask(options, self)
        self.task.stepped.connect(self._on_step)
        self.task.epoch_done.connect(self._on_epoch)
        self.task.succeeded.connect(self._on_success)
        self.task.failed.connect(self._on_failure)
        self.task.finished.connect(lambda: self._busy(False))
        self._busy(True)
        self.status.setText(f"Training {options.arch} for {options.epochs} epoch(s) …")
        self.task.start()

    def stop(self) -> None:
        if self.task is not None:
            self.task.stop_event.set()
            self.status.setText("Stopping after this batch; a checkpoint is kept …")

    def _busy(self, busy: bool) -> None:
        self.start_button.setEnabled(not busy)
        self.stop_button.setEnabled(busy)
        self.progress.setVisible(busy or self.progress.isVisible())

    def _on_step(self, done: int, total: int, loss: float) -> None:
        self.progress.setMaximum(total)
        self.progress.setValue(done)
        self.progress.setFormat(
            f"epoch {self._epoch + 1}: %v/%m batches, loss {loss:.3f}, mAP@0.5 {self._last_map}"
        )

    def _on_epoch(self, record: EpochRecord) -> None:
        self._epoch = record.epoch
        if record.map50 is not None:
            self._last_map = f"{record.map50:.3f}"
        self.status.setText(f"Epoch {record.epoch}: loss {record.loss:.3f}, mAP@0.5 {self._last_map}")

    def _on_success(self, result: TrainResult) -> None:
        self.result = result
        best = result.best
        score = "" if best is None or best.map50 is None else f" (best mAP@0.5 {best.map50:.3f})"
        self.status.setText(f"Trained{score}: {result.output}")
        self.finished_training.emit(result)

    def _on_failure(self, reason: str) -> None:
        self.status.setText(reason)

    def closeEvent(self, event: Any) -> None:
        if self.task is not None and self.task.isRunning():
            self.task.stop_event.set()
            self.task.wait(120_000)
        super().closeEvent(event)


def offer_prelabel(
    parent: QWidget, result: TrainResult, unreviewed: int, prelabel: Callable[[str], None]
) -> bool:
    """Ask to pre-label the ``unreviewed`` images with the new model; ``prelabel(model_dir)`` if yes."""
    if unreviewed == 0:
        return False
    answer = QMessageBox.question(
        parent,
        "Pre-label with the new model?",
        f"Use the trained model ({result.output.name}) for this project and detect on the {unreviewed} "
        "image(s) not reviewed yet?",
    )
    if answer != QMessageBox.StandardButton.Yes:
        return False
    prelabel(str(result.output))
    return True
