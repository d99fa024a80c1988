"""A translucent sheet over the main window listing every shortcut (F1 or ?)."""

from __future__ import annotations

from html import escape

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QColor, QKeyEvent, QPainter
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from desktop.shortcuts import grouped


def shortcuts_html() -> str:
    """The help text as an HTML table, built from the shortcut table so it never goes stale."""
    parts = ["<h2>Keyboard shortcuts</h2><table cellspacing='0' cellpadding='3'>"]
    for group, rows in grouped().items():
        parts.append(f"<tr><td colspan='2'><br><b>{escape(group)}</b></td></tr>")
        for keys, description in rows:
            key_cell = f"<td style='padding-right:18px'><tt>{escape(keys)}</tt></td>"
            parts.append(f"<tr>{key_cell}<td>{escape(description)}</td></tr>")
    parts.append("</table><p>Press F1, ? or Escape to close.</p>")
    return "".join(parts)


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

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(20, 20, 24, 225))

    def keyPressEvent(self, event: QKeyEvent) -> None:
        self.hide()
        event.accept()

    def mousePressEvent(self, event) -> None:
        self.hide()
        event.accept()
