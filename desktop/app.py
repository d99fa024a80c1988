"""Starting the reviewer: check that a window can open, then run the Qt event loop.

Qt 6.5+ aborts the whole process (no Python exception) when its xcb platform plugin
cannot load, most often because ``libxcb-cursor0`` is missing; it also aborts without a
display. Both are checked first so the user gets a message with the fix instead.
"""

from __future__ import annotations

import ctypes.util
import os
import sys
from pathlib import Path
from typing import Any

from groundlabel.errors import GroundlabelError

# Debian/Ubuntu packages a real (xcb) window needs beyond a desktop's usual libraries.
LINUX_PACKAGES = (
    "libxcb-cursor0 libxkbcommon-x11-0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 "
    "libxcb-render-util0 libxcb-image0 libegl1 libgl1 libfontconfig1 libdbus-1-3"
)
_XCB_LIBS = (
    "xcb-cursor",
    "xkbcommon-x11",
    "xcb-icccm",
    "xcb-keysyms",
    "xcb-shape",
    "xcb-render-util",
    "xcb-image",
)


def check_display() -> None:
    """Raise ``GroundlabelError`` when Qt would abort on start (Linux only)."""
    if not sys.platform.startswith("linux"):
        return
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if platform.startswith(("offscreen", "minimal", "vnc", "eglfs", "linuxfb")):
        return
    if platform.startswith("wayland") or (not platform and os.environ.get("WAYLAND_DISPLAY")):
        return
    if not os.environ.get("DISPLAY"):
        raise GroundlabelError(
            "no display: DISPLAY is not set. Run on a desktop session, with ssh -X, or under "
            "xvfb-run; QT_QPA_PLATFORM=offscreen runs without a window (tests, screenshots)"
        )
    missing = [name for name in _XCB_LIBS if ctypes.util.find_library(name) is None]
    if missing:
        raise GroundlabelError(
            f"Qt needs system libraries to open a window; missing: {', '.join('lib' + m for m in missing)}. "
            f"On Debian/Ubuntu: sudo apt-get install {LINUX_PACKAGES}"
        )


def review_target(path: str | os.PathLike[str]) -> tuple[Path, Path | None]:
    """(project folder, clip to show) for ``review PATH``: a video file's folder is its project."""
    from groundlabel.video import is_video_path

    target = Path(path)
    if target.is_file() and is_video_path(target):
        return target.resolve().parent, target
    if not target.is_dir():
        raise GroundlabelError(
            f"{path}: not a folder or a video file; give the folder of images or videos, or a clip, to review"
        )
    return target, None


def run_app(
    folder: str | os.PathLike[str] | None = None,
    model: str | None = None,
    device: str | None = None,
    settings_path: str | None = None,
    mask_model: str | None = None,
) -> int:
    """Open the main window (on ``folder`` if given) and run until it closes.

    ``folder`` may be a video file: its folder is the project and the window shows the clip."""
    video = None
    if folder is not None:
        folder, video = review_target(folder)
    check_display()
    from groundlabel.desktop.app_settings import AppSettings
    from groundlabel.desktop.focus import ReturnFocusAfterDialogs
    from groundlabel.desktop.main_window import MainWindow
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("groundlabel")
    app.setOrganizationName("groundlabel")
    window = MainWindow(AppSettings(settings_path), model=model, device=device, mask_model=mask_model)
    window.show()
    # Ask for keyboard focus: a window manager usually gives it to a new window, but without
    # one (Xvfb, some kiosk setups) the window never becomes active and no shortcut fires.
    window.raise_()
    window.activateWindow()
    app.installEventFilter(ReturnFocusAfterDialogs(window))
    interrupted = _close_on_signal(window)
    if folder is not None:
        window.open_folder(folder, video)
    code = int(app.exec())
    if window.background_running:
        # A model load or the kernel build cannot be cut short and every edit is already committed:
        # end here instead of joining it (Qt would also abort on destroying a running QThread).
        from groundlabel.inference.kernel_build import stop_running_builds

        stop_running_builds()  # no orphaned compiler: the next start builds the kernel afresh
        code = interrupted.code(code)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return interrupted.code(code)


class _SignalCloser:
    """Ctrl+C or SIGTERM in the terminal closes the window as Ctrl+Q does; a second one ends at once.

    The first signal is seen by ``groundlabel.interrupts``' watcher thread (Qt's event loop
    runs no Python signal handler while idle); it emits a Qt signal, which Qt delivers on the
    GUI thread.
    """

    def __init__(self, window: Any) -> None:
        from PySide6.QtCore import QObject, Qt, Signal

        class Relay(QObject):
            close_requested = Signal()

        self.signum: int | None = None
        self.relay = Relay()
        self.relay.close_requested.connect(window.close, Qt.ConnectionType.QueuedConnection)

    def on_signal(self, signum: int) -> None:
        self.signum = signum
        self.relay.close_requested.emit()

    def code(self, code: int) -> int:
        if self.signum is None:
            return code
        print("groundlabel: interrupted; every edit is already saved in the project", file=sys.stderr)
        return 128 + self.signum


def _close_on_signal(window: Any) -> _SignalCloser:
    from groundlabel import interrupts

    closer = _SignalCloser(window)
    interrupts.set_on_first(closer.on_signal)
    interrupts.set_kept("every edit is already saved in the project")
    return closer
