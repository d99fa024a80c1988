"""Shared helpers for the desktop GUI tests (real widgets, offscreen, tiny real model)."""

from __future__ import annotations

import time

from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication

WAIT_MS = 60_000


def show_main_window(qtbot, monkeypatch, prefs, model: str, size=(1100, 720)):
    """A real main window with preferences in ``prefs`` and error dialogs collected in
    ``window.shown_errors`` instead of shown (a modal box would block the test)."""
    import groundlabel.desktop.main_window as main_window
    from groundlabel.desktop.app_settings import AppSettings

    shown: list[str] | None = getattr(main_window.show_error, "collected", None)
    if shown is None:  # one list per test, shared by every window it opens
        shown = []

        def collect(parent, text: str) -> None:
            shown.append(text)

        collect.collected = shown
        monkeypatch.setattr(main_window, "show_error", collect)
    window = main_window.MainWindow(AppSettings(prefs), model=model, device="cpu")
    window.shown_errors = shown
    qtbot.addWidget(window)
    window.resize(*size)
    window.show()
    qtbot.waitExposed(window)
    return window


def wait_idle(qtbot, window) -> None:
    """Wait until the model is loaded (or failed) and no detection job runs."""
    qtbot.waitUntil(
        lambda: window.detection.model_ready or window.detection.model_error is not None, timeout=WAIT_MS
    )
    qtbot.waitUntil(lambda: not window.detection.busy, timeout=WAIT_MS)


def wait_image(qtbot, window) -> None:
    qtbot.waitUntil(
        lambda: window.canvas.has_image() or "Cannot show" in window.canvas.message(), timeout=WAIT_MS
    )


def view_point(window, x: float, y: float) -> QPoint:
    """Image pixel (x, y) as a point on the canvas viewport."""
    return window.canvas.scene_to_view(x, y)


def drag(qtbot, window, start: tuple[float, float], end: tuple[float, float], steps: int = 5) -> None:
    """A left-button drag on the canvas between two image points."""
    viewport = window.canvas.viewport()
    p0, p1 = view_point(window, *start), view_point(window, *end)
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=p0)
    for i in range(1, steps + 1):
        qtbot.mouseMove(
            viewport, QPoint(p0.x() + (p1.x() - p0.x()) * i // steps, p0.y() + (p1.y() - p0.y()) * i // steps)
        )
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=p1)
    QApplication.processEvents()


def key(qtbot, window, key: Qt.Key, modifier: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
    """A key press on the canvas, the way a user types it (window shortcuts included)."""
    if not window.isActiveWindow():
        window.activateWindow()
        qtbot.waitUntil(window.isActiveWindow, timeout=5_000)
    window.canvas.setFocus()
    qtbot.keyClick(window.canvas, key, modifier)
    QApplication.processEvents()


def settle(seconds: float = 0.05) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        QApplication.processEvents()
