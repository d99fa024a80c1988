"""Keyboard focus where no window manager hands it out (Xvfb, kiosks, bare X sessions)."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QWidget


class ReturnFocusAfterDialogs(QObject):
    """Give the keyboard back to the main window when one of its dialogs closes.

    A window manager does this; without one (Xvfb, kiosks) X drops the focus with the
    closed dialog, the main window stays inactive and its shortcuts stop working.
    """

    def __init__(self, window: QWidget) -> None:
        super().__init__(window)
        self.window = window

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (
            event.type() == QEvent.Type.Hide
            and isinstance(watched, QWidget)
            and watched.isWindow()
            and watched is not self.window
            and watched.parentWidget() is not None
            and watched.parentWidget().window() is self.window
        ):
            QTimer.singleShot(0, self._refocus)
        return False

    def _refocus(self) -> None:
        active = QApplication.activeWindow()
        if self.window.isVisible() and (active is None or not active.isVisible()):
            self.window.activateWindow()
