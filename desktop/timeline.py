"""The timeline under the canvas: where the current frame is, and a strip per track.

Each strip is filled where its track has a box, with a white tick where a person set the box
(a keyframe: propagation starts and stops there) and a red tick where the tracker's score is
low. A click moves to that frame (and, on a strip, selects that track). The widget only paints
``TrackStrip``s and reports clicks; ``TrackControl`` decides what they mean.
"""

from __future__ import annotations

from groundlabel.desktop.track_model import TrackStrip, VideoPosition
from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

HEADER = 16  # the frame ruler and the position text
ROW = 9  # one track strip
MAX_ROWS = 14  # more tracks share the height (thinner strips)
MARGIN = 6


class Timeline(QWidget):
    frame_clicked = Signal(int)
    track_clicked = Signal(object)  # track id under the click, None between strips

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("timeline")
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.position: VideoPosition | None = None
        self.strips: list[TrackStrip] = []
        self.selected: int | None = None
        self.setFixedHeight(self._height())

    def _height(self) -> int:
        return HEADER + ROW * min(max(len(self.strips), 1), MAX_ROWS) + 4

    def sizeHint(self) -> QSize:
        return QSize(600, self._height())

    def set_content(
        self, position: VideoPosition | None, strips: list[TrackStrip], selected: int | None
    ) -> None:
        self.position, self.strips, self.selected = position, list(strips), selected
        self.setFixedHeight(self._height())
        self.update()

    def set_selected(self, track_id: int | None) -> None:
        self.selected = track_id
        self.update()

    # -- geometry -------------------------------------------------------------------------
    def _count(self) -> int:
        return max(self.position.frame_count if self.position else 1, 1)

    def x_of(self, frame: float) -> float:
        width = max(self.width() - 2 * MARGIN, 1)
        return MARGIN + width * frame / self._count()

    def frame_at(self, x: float) -> int:
        width = max(self.width() - 2 * MARGIN, 1)
        return max(0, min(int((x - MARGIN) / width * self._count()), self._count() - 1))

    def _row_height(self) -> float:
        return ROW * min(len(self.strips), MAX_ROWS) / max(len(self.strips), 1)

    def track_at(self, y: float) -> int | None:
        if not self.strips or y < HEADER:
            return None
        row = int((y - HEADER) / self._row_height())
        return self.strips[row].track_id if row < len(self.strips) else None

    # -- events -----------------------------------------------------------------------------
    def mousePressEvent(self, event: QMouseEvent) -> None:
        if self.position is None or event.button() != Qt.MouseButton.LeftButton:
            return
        point = event.position()
        track = self.track_at(point.y())
        if track is not None:
            self.track_clicked.emit(track)
        self.frame_clicked.emit(self.frame_at(point.x()))

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # drag to scrub
        if self.position is not None and event.buttons() & Qt.MouseButton.LeftButton:
            self.frame_clicked.emit(self.frame_at(event.position().x()))

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(36, 36, 40))
        if self.position is None:
            return
        step = self.x_of(1) - self.x_of(0)
        painter.setPen(QColor(200, 200, 200))
        painter.drawText(MARGIN, 12, self.position.time_text())
        painter.setPen(QColor(90, 90, 96))
        for frame in self.position.frame_ids:  # a tick per frame in the project
            x = self.x_of(frame + 0.5)
            painter.drawLine(int(x), HEADER - 3, int(x), HEADER - 1)
        height = self._row_height()
        for row, strip in enumerate(self.strips):
            top = HEADER + row * height
            colour = QColor(strip.colour)
            if strip.rejected:
                colour.setAlpha(70)
            if strip.track_id == self.selected:
                painter.fillRect(QRectF(0, top, self.width(), height), QColor(70, 70, 90))
            for first, last in strip.runs():
                painter.fillRect(
                    QRectF(self.x_of(first), top + 1, self.x_of(last + 1) - self.x_of(first), height - 2),
                    colour,
                )
            for frame, tick in [(f, QColor(255, 80, 80)) for f in strip.low] + [
                (f, QColor("white")) for f in strip.keyframes
            ]:
                x = self.x_of(frame + 0.5)
                painter.fillRect(QRectF(x - max(step / 4, 1), top, max(step / 2, 2), height), tick)
        x = self.x_of(self.position.frame + 0.5)
        painter.setPen(QPen(QColor(255, 210, 60), 2))
        painter.drawLine(int(x), HEADER - 4, int(x), self.height())
        painter.end()
