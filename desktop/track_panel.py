"""The track list beside the class list, shown while the current image is a video's frame.

The panel lists what ``track_model.track_rows`` gives and reports what the user asked for as
signals (a track selected, "accept", "split", a propagation direction); ``TrackControl`` turns
those into the project's track commands. The question it asks (which class, which track) is a
module-level function so tests can answer it.
"""

from __future__ import annotations

from groundlabel.desktop.track_model import TrackRow
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QGridLayout,
    QInputDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

STATE_MARKS = {"accepted": "✓", "rejected": "✗", "pending": "•", "in review": "◐"}
DIRECTIONS = {"forward": "Forward ▶", "backward": "◀ Backward", "both": "◀ Both ▶"}


def ask_choice(parent: QWidget, title: str, label: str, items: list[str]) -> int | None:
    """The index of the item the user picks, or None if cancelled."""
    value, ok = QInputDialog.getItem(parent, title, label, items, 0, False)
    return items.index(value) if ok and value in items else None


def _swatch(colour: str) -> QIcon:
    pixmap = QPixmap(14, 14)
    pixmap.fill(QColor(colour))
    return QIcon(pixmap)


class TrackPanel(QWidget):
    """Signals carry the user's intent; the rows come from ``set_rows``."""

    track_selected = Signal(object)  # track id or None
    action_requested = Signal(str)  # accept, reject, relabel, split, merge, delete
    propagate_requested = Signal(str)  # forward, backward, both
    tracker_requested = Signal()  # choose the video tracker checkpoint

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.list = QListWidget()
        self.list.setObjectName("trackList")
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        grid = QGridLayout()
        self.buttons: dict[str, QPushButton | QToolButton] = {}
        for name, text, tip in [
            ("accept", "Accept", "Accept every box of the track (A)"),
            ("reject", "Reject", "Reject every box of the track (R)"),
            ("relabel", "Relabel…", "Give every box of the track another class"),
            ("split", "Split here", "The track from this frame on becomes a new track (S)"),
            ("merge", "Merge…", "Another track of this video joins this one"),
            ("delete", "Delete", "Delete every box of the track"),
        ]:
            button = QPushButton(text)
            button.setToolTip(tip)
            button.clicked.connect(lambda checked=False, n=name: self.action_requested.emit(n))
            grid.addWidget(button, len(self.buttons) // 3, len(self.buttons) % 3)
            self.buttons[name] = button
        self.propagate_button = QToolButton()
        self.propagate_button.setText("Propagate from here")
        self.propagate_button.setToolTip(
            "Re-run the video tracker from this frame's box up to the next keyframe"
        )
        self.propagate_button.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        menu = QMenu(self.propagate_button)
        for direction, text in DIRECTIONS.items():
            menu.addAction(text, lambda d=direction: self.propagate_requested.emit(d))
        menu.addSeparator()
        menu.addAction("Video tracker checkpoint…", self.tracker_requested.emit)
        self.propagate_button.setMenu(menu)
        self.propagate_button.clicked.connect(lambda: self.propagate_requested.emit("both"))
        self.buttons["propagate"] = self.propagate_button
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.list)
        layout.addLayout(grid)
        layout.addWidget(self.propagate_button)
        layout.addWidget(self.summary)
        self.list.currentItemChanged.connect(lambda *_: self.track_selected.emit(self.current_id()))
        self._rows: list[TrackRow] = []

    def set_rows(self, rows: list[TrackRow], frame: int | None = None) -> None:
        """Show ``rows``, keeping the selected track when it still exists (no signal)."""
        current = self.current_id()
        self._rows = list(rows)
        self.list.blockSignals(True)
        self.list.clear()
        for row in rows:
            item = QListWidgetItem(_swatch(row.colour), f"{STATE_MARKS[row.state]} {row.text()}")
            item.setData(Qt.ItemDataRole.UserRole, row.track_id)
            here = frame is not None and row.summary.first_frame <= frame <= row.summary.last_frame
            if not here:
                item.setForeground(QColor("#888888"))
            self.list.addItem(item)
        self._select(current)
        self.list.blockSignals(False)
        reviewed = sum(1 for r in rows if r.summary.reviewed)
        self.summary.setText(
            f"{len(rows)} track(s), {reviewed} reviewed" if rows else "No tracks in this video"
        )
        if current != self.current_id():
            self.track_selected.emit(self.current_id())

    def _select(self, track_id: int | None) -> None:
        ids = [r.track_id for r in self._rows]
        self.list.setCurrentRow(ids.index(track_id) if track_id in ids else -1)

    def select_track(self, track_id: int | None) -> None:
        """Select without reporting it (the canvas or the timeline chose it)."""
        self.list.blockSignals(True)
        self._select(track_id)
        self.list.blockSignals(False)

    def rows(self) -> list[TrackRow]:
        return list(self._rows)

    def current_id(self) -> int | None:
        item = self.list.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None

    def current_row(self) -> TrackRow | None:
        current = self.current_id()
        return next((r for r in self._rows if r.track_id == current), None)
