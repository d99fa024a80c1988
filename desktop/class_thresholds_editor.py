"""The settings dialog's per-class thresholds: each class on/off with its value, one master switch,
and the optional auto-accept precision. It only shows and reports values; storing them is the
caller's job (``groundlabel.project.thresholds``)."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from groundlabel.class_thresholds import ClassThresholds


def _spin(value: float) -> QDoubleSpinBox:
    spin = QDoubleSpinBox()
    spin.setRange(0.0, 1.0)
    spin.setSingleStep(0.01)
    spin.setDecimals(3)
    spin.setValue(value)
    return spin


class ClassThresholdsEditor(QGroupBox):
    def __init__(
        self,
        class_names: Sequence[str],
        thresholds: ClassThresholds,
        auto_accept: float | None,
        default: float,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__("Per-class thresholds (groundlabel calibrate sets them)", parent)
        self.enabled = QCheckBox(
            "Use per-class thresholds (they replace the box threshold and the score slider)"
        )
        self.enabled.setObjectName("classThresholdsEnabled")
        self.enabled.setChecked(thresholds.enabled)
        self.rows: dict[str, tuple[QCheckBox, QDoubleSpinBox]] = {}
        grid = QGridLayout()
        for row, name in enumerate(class_names):
            value = thresholds.values.get(name)
            check = QCheckBox(name)
            check.setChecked(value is not None)
            spin = _spin(default if value is None else value)
            spin.setEnabled(value is not None)
            check.toggled.connect(spin.setEnabled)
            grid.addWidget(check, row, 0)
            grid.addWidget(spin, row, 1)
            self.rows[name] = (check, spin)
        if not class_names:
            grid.addWidget(QLabel("No classes yet."), 0, 0)
        self.auto_accept = QCheckBox("Auto-accept proposals at or above their class threshold when the")
        self.auto_accept.setChecked(auto_accept is not None)
        self.auto_accept_precision = _spin(0.95 if auto_accept is None else auto_accept)
        self.auto_accept_precision.setEnabled(auto_accept is not None)
        self.auto_accept.toggled.connect(self.auto_accept_precision.setEnabled)
        auto_row = QHBoxLayout()
        auto_row.addWidget(self.auto_accept)
        auto_row.addWidget(QLabel("measured precision is at least"))
        auto_row.addWidget(self.auto_accept_precision)
        auto_row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.enabled)
        layout.addLayout(grid)
        layout.addLayout(auto_row)

    def thresholds(self) -> ClassThresholds:
        values = {
            name: (spin.value() if check.isChecked() else None) for name, (check, spin) in self.rows.items()
        }
        return ClassThresholds(values, enabled=self.enabled.isChecked())

    def auto_accept_value(self) -> float | None:
        return self.auto_accept_precision.value() if self.auto_accept.isChecked() else None
