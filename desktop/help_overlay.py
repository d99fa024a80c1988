"""A translucent sheet over the main window listing every shortcut (F1 or ?)."""

from __future__ import annotations

from html import escape

from groundlabel.desktop.shortcuts import grouped
from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QColor, QKeyEvent, QMouseEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget


def _group_rows(group: str, rows: list[tuple[str, str]]) -> str:
    parts = [f"<tr><td colspan='2'><br><b>{escape(group)}</b></td></tr>"]
    for keys, description in rows:
        key_cell = f"<td style='padding-right:14px'><tt>{escape(keys)}</tt></td>"
        parts.append(f"<tr>{key_cell}<td>{escape(description)}</td></tr>")
    return "".join(parts)


def shortcuts_html() -> str:
    """The help text, built from the shortcut table so it never goes stale; two columns fit a laptop screen."""
    groups = list(grouped().items())
    # Two columns of about equal length: split where the left one reaches half the rows.
    sizes = [len(rows) + 2 for _, rows in groups]
    split, total = 0, 0
    while split < len(groups) - 1 and total + sizes[split] <= sum(sizes) / 2:
        total += sizes[split]
        split += 1
    split = max(split, 1)
    left, right = groups[:split], groups[split:]
    columns = []
    for column in (left, right):
        rows = "".join(_group_rows(group, rows) for group, rows in column)
        columns.append(
            f"<td valign='top' style='padding-right:40px'><table cellspacing='0' cellpadding='2'>{rows}</table></td>"
        )
    return (
        "<h2 align='center'>Keyboard shortcuts</h2>"
        f"<table><tr>{''.join(columns)}</tr></table>"
        "<p align='center'>Press F1, ? or Escape to close.</p>"
    )


class HelpOverlay(QWidget):
    """Covers its parent; any key or click closes it. Follows the parent's size."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("helpOverlay")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.label = QLabel(shortcuts_html(), self)
        self.label.setTextFormat(Qt.TextFormat.RichText)
        self.label.setStyleSheet("color: white; font-size: 10pt;")
        self.label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignHCenter)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(40, 20, 40, 20)
        layout.addWidget(self.label)
        parent.installEventFilter(self)
        self.hide()

    def toggle(self) -> None:
        if self.isVisible():
            self.hide()
        else:
            self.setGeometry(self.parentWidget().rect())
            self.show()
            self.raise_()
            self.setFocus()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.parentWidget() and event.type() == QEvent.Type.Resize:
            self.setGeometry(self.parentWidget().rect())
        return False

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(20, 20, 24, 225))

    def keyPressEvent(self, event: QKeyEvent) -> None:
        self.hide()
        event.accept()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self.hide()
        event.accept()
