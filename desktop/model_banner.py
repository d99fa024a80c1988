"""A strip above the image saying the model is not loaded, why, and how to pick another.

A missing model (offline and not downloaded yet, a wrong folder) must not stop anyone
from reviewing by hand, so it is never a modal box: this banner sits in the window,
takes no focus, and every shortcut keeps working while it shows.
"""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget


class ModelBanner(QFrame):
    """Hidden until ``show_problem``; the buttons only report what the user asked for."""

    choose_requested = Signal()  # "Choose model…": the settings dialog
    folder_requested = Signal()  # "Model folder…": pick a saved model's folder
    retry_requested = Signal()

    DETECTION = "<b>No model loaded</b> — reviewing by hand works; detection needs a model."
    MASKS = "<b>No mask model</b> — box review goes on; masks need a mask model (Settings → Mask model)."

    def __init__(
        self, parent: QWidget | None = None, heading: str = DETECTION, name: str = "modelBanner"
    ) -> None:
        super().__init__(parent)
        self.heading = heading
        self.setObjectName(name)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setStyleSheet(f"#{name} {{ background: #fff4ce; color: #3b2f00; }}")
        self.reason = QLabel()
        self.reason.setObjectName("modelBannerReason")
        self.reason.setWordWrap(True)
        self.reason.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.addWidget(self.reason, 1)
        self.buttons: dict[str, QPushButton] = {}
        for key, text, signal in [
            ("choose", "Choose model…", self.choose_requested),
            ("folder", "Model folder…", self.folder_requested),
            ("retry", "Retry", self.retry_requested),
            ("close", "✕", None),
        ]:
            button = QPushButton(text)
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # keys stay with the image
            button.clicked.connect(signal.emit if signal is not None else self.hide)
            layout.addWidget(button)
            self.buttons[key] = button
        self.buttons["close"].setToolTip("Hide this message (reviewing by hand works without a model)")
        self.hide()

    def show_problem(self, reason: str) -> None:
        self.reason.setText(f"{self.heading}<br>{html.escape(reason)}")
        self.reason.setToolTip(reason)
        self.show()

    def text(self) -> str:
        return self.reason.toolTip()
