"""The per-project detection settings: model, device, thresholds."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QWidget,
)


def model_picker(current: str) -> QComboBox:
    """An editable list of the known checkpoints of every family; shows ``current``."""
    from groundlabel.model_catalog import picker_entries

    picker = QComboBox()
    picker.setEditable(True)
    picker.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
    for shown, model_id in picker_entries():
        picker.addItem(model_id)
        picker.setItemData(picker.count() - 1, shown, Qt.ItemDataRole.ToolTipRole)
    picker.setCurrentText(current)
    picker.setToolTip(
        "A known checkpoint (Grounding DINO, MM Grounding DINO / LLMDet, OWLv2, OWL-ViT, SAM 3), "
        "or any Hugging Face hub id or local folder saved with save_pretrained"
    )
    return picker


def licence_label(picker: QComboBox) -> QLabel:
    """The chosen checkpoint's licence and gating, kept up to date with the picker."""
    from groundlabel.model_catalog import licence_of

    label = QLabel()
    label.setWordWrap(True)

    def show(model_id: str) -> None:
        label.setText(licence_of(model_id.strip()) or "see the model card")

    picker.currentTextChanged.connect(show)
    show(picker.currentText())
    return label


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
        self.model_picker = model_picker(model)
        # The picker's own text field: any hub id or folder can be typed over a listed one.
        self.model = self.model_picker.lineEdit()
        self.device = QComboBox()
        self.device.setEditable(True)
        self.device.addItems(["auto", "cpu", "cuda", "mps"])
        self.device.setCurrentText(device)
        self.box_threshold = self._spin(box_threshold)
        self.text_threshold = self._spin(text_threshold)
        form = QFormLayout(self)
        form.addRow("Model", self.model_picker)
        self.licence = licence_label(self.model_picker)
        form.addRow("Licence", self.licence)
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
