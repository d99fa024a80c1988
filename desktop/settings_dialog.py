"""The per-project detection settings: model, device, thresholds."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLineEdit,
    QWidget,
)


class SettingsDialog(QDialog):
    def __init__(
        self,
        model: str,
        device: str,
        box_threshold: float,
        text_threshold: float,
        parent: QWidget | None = None,
        class_thresholds: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Detection settings (this project)")
        self.model = QLineEdit(model)
        self.model.setToolTip("A Hugging Face hub id or a local folder saved with save_pretrained")
        self.device = QComboBox()
        self.device.setEditable(True)
        self.device.addItems(["auto", "cpu", "cuda", "mps"])
        self.device.setCurrentText(device)
        self.box_threshold = self._spin(box_threshold)
        self.text_threshold = self._spin(text_threshold)
        form = QFormLayout(self)
        form.addRow("Model", self.model)
        form.addRow("Device", self.device)
        form.addRow("Box threshold", self.box_threshold)
        form.addRow("Text threshold", self.text_threshold)
        self.class_thresholds = class_thresholds  # a ClassThresholdsEditor, when a project is open
        if class_thresholds is not None:
            form.addRow(class_thresholds)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    @staticmethod
    def _spin(value: float) -> QDoubleSpinBox:
        spin = QDoubleSpinBox()
        spin.setRange(0.0, 1.0)
        spin.setSingleStep(0.05)
        spin.setDecimals(2)
        spin.setValue(value)
        return spin

    def values(self) -> tuple[str, str, float, float]:
        return (
            self.model.text().strip(),
            self.device.currentText().strip() or "auto",
            self.box_threshold.value(),
            self.text_threshold.value(),
        )
