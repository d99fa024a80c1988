"""A box's mask on the canvas: a translucent fill with an outline in the class colour.

The item is a child of its ``BoxItem`` (it moves, hides and dims with the box) and is drawn
behind it, so the box outline and handles stay on top. It only paints what it is given;
decoding goes through ``groundlabel.masks`` (the one mask codec), and the decoded pixmap is
kept until the mask or the colour changes, so redrawing the boxes after an edit is cheap.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPainterPath, QPen, QPolygonF
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from groundlabel import masks as mask_codec
from groundlabel.masks import RLE

FILL_ALPHA = 96  # of 255: the object stays visible under its mask
POINT_PX = 5.0  # radius of a point marker on screen


def fill_rgba(
    mask: np.ndarray, rgb: tuple[int, int, int], alpha: int = FILL_ALPHA
) -> tuple[np.ndarray, int, int]:
    """The mask's bounding crop as RGBA (colour where set, transparent elsewhere) and its offset."""
    ys, xs = np.nonzero(mask)
    if not len(xs):
        return np.zeros((0, 0, 4), dtype=np.uint8), 0, 0
    x0, x1, y0, y1 = int(xs.min()), int(xs.max()) + 1, int(ys.min()), int(ys.max()) + 1
    crop = mask[y0:y1, x0:x1]
    rgba = np.zeros((*crop.shape, 4), dtype=np.uint8)
    rgba[crop] = (*rgb, alpha)
    return rgba, x0, y0


class MaskItem(QGraphicsItem):
    """The fill as one image, the outline as contour polygons drawn with a cosmetic pen."""

    def __init__(self, parent: QGraphicsItem) -> None:
        super().__init__(parent)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemStacksBehindParent, True)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self._key: tuple[str, str] | None = None
        self._image = QImage()
        self._offset = QPointF()
        self._outline = QPainterPath()
        self._colour = QColor("white")
        self._rect = QRectF()

    def set_mask(self, rle: RLE, colour: str) -> None:
        key = (str(rle.get("counts")), colour)
        if key == self._key:
            return
        self.prepareGeometryChange()
        self._key = key
        self._colour = QColor(colour)
        mask = mask_codec.decode(rle)
        rgb = (self._colour.red(), self._colour.green(), self._colour.blue())
        rgba, x0, y0 = fill_rgba(mask, rgb)
        height, width = rgba.shape[:2]
        self._image = (
            QImage(rgba.tobytes(), width, height, width * 4, QImage.Format.Format_RGBA8888).copy()
            if width and height
            else QImage()
        )
        self._offset = QPointF(x0, y0)
        self._rect = QRectF(x0, y0, width, height)
        path = QPainterPath()
        for polygon in mask_codec.to_polygons(mask):
            xy = np.asarray(polygon, dtype=float).reshape(-1, 2)
            path.addPolygon(QPolygonF([QPointF(x, y) for x, y in xy]))
            path.closeSubpath()
        self._outline = path
        self.update()

    def pixel_count(self) -> int:
        """Set pixels of the shown fill (tests check what is on screen)."""
        if self._image.isNull():
            return 0
        bits = self._image.constBits()
        array = np.frombuffer(bits, dtype=np.uint8).reshape(self._image.height(), self._image.bytesPerLine())
        return int(np.count_nonzero(array[:, 3::4][:, : self._image.width()]))

    def colour(self) -> str:
        return self._colour.name()

    def boundingRect(self) -> QRectF:
        return self._rect.adjusted(-2, -2, 2, 2)

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        if self._image.isNull():
            return
        painter.drawImage(self._offset, self._image)
        pen = QPen(self._colour, 2)
        pen.setCosmetic(True)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(self._outline)


class PointMarker(QGraphicsItem):
    """A prompt point: green with "+" (positive) or red with "−" (negative), constant size on screen."""

    def __init__(self, x: float, y: float, positive: bool) -> None:
        super().__init__()
        self.positive = positive
        self.setPos(x, y)
        self.setZValue(20)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)

    def boundingRect(self) -> QRectF:
        r = POINT_PX + 2
        return QRectF(-r, -r, 2 * r, 2 * r)

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(QColor("white"), 1.5))
        painter.setBrush(QColor("#2ecc40") if self.positive else QColor("#ff4136"))
        painter.drawEllipse(QPointF(0, 0), POINT_PX, POINT_PX)
        painter.drawLine(QPointF(-3, 0), QPointF(3, 0))
        if self.positive:
            painter.drawLine(QPointF(0, -3), QPointF(0, 3))
