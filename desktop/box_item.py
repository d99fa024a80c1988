"""One box on the canvas: outline in its class colour, a class/score tag, handles to resize.

The item only reports what the user did with the mouse (``on_edit`` with the new
rectangle on release); it never writes the project. The controller turns the report into
an undoable command and redraws the boxes from the project afterwards.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from groundlabel.desktop.mask_item import MaskItem
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsSceneHoverEvent,
    QGraphicsSceneMouseEvent,
    QStyleOptionGraphicsItem,
    QWidget,
)

HANDLE_PX = 9.0  # handle size on screen, whatever the zoom
MIN_SIZE = 1.0  # smallest box side in image pixels

# Handle positions as (fx, fy) fractions of the rectangle; "move" drags the whole box.
_HANDLES: dict[str, tuple[float, float]] = {
    "tl": (0, 0),
    "t": (0.5, 0),
    "tr": (1, 0),
    "r": (1, 0.5),
    "br": (1, 1),
    "b": (0.5, 1),
    "bl": (0, 1),
    "l": (0, 0.5),
}
_CURSORS = {
    "tl": Qt.CursorShape.SizeFDiagCursor,
    "br": Qt.CursorShape.SizeFDiagCursor,
    "tr": Qt.CursorShape.SizeBDiagCursor,
    "bl": Qt.CursorShape.SizeBDiagCursor,
    "t": Qt.CursorShape.SizeVerCursor,
    "b": Qt.CursorShape.SizeVerCursor,
    "l": Qt.CursorShape.SizeHorCursor,
    "r": Qt.CursorShape.SizeHorCursor,
    "move": Qt.CursorShape.SizeAllCursor,
}


@dataclass(frozen=True)
class BoxView:
    """What the canvas needs to draw one box; built by the controller from the project."""

    box_id: object
    xyxy: tuple[float, float, float, float]
    label: str
    color: str
    score: float | None = None
    status: str = "pending"  # pending, accepted, rejected
    source: str = "model"  # model, manual, import
    auto_accepted: bool = False  # accepted by the calibrated auto-accept rule, not by a person
    mask: dict | None = None  # the box's mask as COCO RLE (groundlabel.masks), None when it has none

    @property
    def caption(self) -> str:
        text = self.label if self.score is None else f"{self.label} {self.score:.2f}"
        return f"{text} auto" if self.auto_accepted and self.status == "accepted" else text


def rect_from_xyxy(xyxy: tuple[float, float, float, float]) -> QRectF:
    x0, y0, x1, y1 = xyxy
    return QRectF(QPointF(x0, y0), QPointF(x1, y1)).normalized()


def xyxy_from_rect(rect: QRectF) -> tuple[float, float, float, float]:
    rect = rect.normalized()
    return (rect.left(), rect.top(), rect.right(), rect.bottom())


def resized(rect: QRectF, handle: str, delta: QPointF, bounds: QRectF) -> QRectF:
    """``rect`` with ``handle`` dragged by ``delta``, kept inside ``bounds`` and at least 1 px."""
    if handle == "move":
        moved = rect.translated(delta)
        dx = max(bounds.left() - moved.left(), 0) + min(bounds.right() - moved.right(), 0)
        dy = max(bounds.top() - moved.top(), 0) + min(bounds.bottom() - moved.bottom(), 0)
        return moved.translated(dx, dy)
    left, top, right, bottom = rect.left(), rect.top(), rect.right(), rect.bottom()
    if "l" in handle:
        left = min(max(left + delta.x(), bounds.left()), right - MIN_SIZE)
    if "r" in handle:
        right = max(min(right + delta.x(), bounds.right()), left + MIN_SIZE)
    if "t" in handle:
        top = min(max(top + delta.y(), bounds.top()), bottom - MIN_SIZE)
    if "b" in handle:
        bottom = max(min(bottom + delta.y(), bounds.bottom()), top + MIN_SIZE)
    return QRectF(QPointF(left, top), QPointF(right, bottom))


class BoxItem(QGraphicsItem):
    """A selectable, movable, resizable rectangle in image pixel coordinates."""

    def __init__(self, view: BoxView, bounds: QRectF, on_edit: Callable[[object, QRectF], None]) -> None:
        super().__init__()
        self.view = view
        self.rect = rect_from_xyxy(view.xyxy)
        self.bounds = bounds
        self.dimmed = False
        self._on_edit = on_edit
        self._drag_handle: str | None = None
        self._press_scene = QPointF()
        self._press_rect = QRectF()
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable, True)
        self.setAcceptHoverEvents(True)
        # Small boxes above large ones, so a box inside another can still be clicked.
        self.setZValue(1.0 / (1.0 + self.rect.width() * self.rect.height()))
        self.tag = LabelTag(view.caption, QColor(view.color), self)
        self.mask_item: MaskItem | None = None
        self.show_mask = True  # the canvas's M toggle
        self._show_mask(view)
        self._place_tag()

    def _show_mask(self, view: BoxView) -> None:
        """The mask follows the box's data: created, updated or hidden with it."""
        if view.mask is None:
            if self.mask_item is not None:
                self.mask_item.hide()
            return
        if self.mask_item is None:
            self.mask_item = MaskItem(self)
        self.mask_item.set_mask(view.mask, view.color)
        self.mask_item.setVisible(self.show_mask)

    def set_mask_visible(self, on: bool) -> None:
        self.show_mask = on
        if self.mask_item is not None:
            self.mask_item.setVisible(on and self.view.mask is not None)

    # -- geometry ---------------------------------------------------------------------
    def _scale(self) -> float:
        scene = self.scene()
        if scene is None or not scene.views():
            return 1.0
        return max(scene.views()[0].transform().m11(), 1e-6)

    def _handle_size(self) -> float:
        return HANDLE_PX / self._scale()

    def handle_rects(self) -> dict[str, QRectF]:
        size = self._handle_size()
        r = self.rect
        return {
            name: QRectF(
                r.left() + fx * r.width() - size / 2, r.top() + fy * r.height() - size / 2, size, size
            )
            for name, (fx, fy) in _HANDLES.items()
        }

    def handle_at(self, pos: QPointF) -> str | None:
        """The handle under ``pos`` (item coordinates) when selected, "move" inside, else None."""
        if self.isSelected():
            for name, rect in self.handle_rects().items():
                if rect.adjusted(-1, -1, 1, 1).contains(pos):
                    return name
        return "move" if self.rect.contains(pos) else None

    def boundingRect(self) -> QRectF:
        margin = self._handle_size()
        return self.rect.adjusted(-margin, -margin, margin, margin)

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.addRect(self.rect)
        if self.isSelected():
            for rect in self.handle_rects().values():
                path.addRect(rect)
        return path

    def set_view(self, view: BoxView, bounds: QRectF) -> None:
        """Show new data for the same box (after an edit), keeping the item and its selection."""
        self.view = view
        self.bounds = bounds
        if self._drag_handle is None:
            self.set_rect(rect_from_xyxy(view.xyxy))
        self.setZValue(1.0 / (1.0 + self.rect.width() * self.rect.height()))
        self.tag.set_text(view.caption, QColor(view.color))
        self._show_mask(view)
        self.update()

    def set_rect(self, rect: QRectF) -> None:
        self.prepareGeometryChange()
        self.rect = rect.normalized()
        self._place_tag()
        self.update()

    def _place_tag(self) -> None:
        # Above the box, or just inside it when the box touches the top of the image.
        below = self.rect.top() - self.bounds.top() < self.tag.height() / self._scale()
        if below != self.tag.below:
            self.tag.prepareGeometryChange()
            self.tag.below = below
        self.tag.setPos(self.rect.topLeft())

    def place_tag(self) -> None:
        """Called by the canvas when the zoom changes (the tag's size in image pixels changes)."""
        self._place_tag()

    # -- painting (appearance only) -----------------------------------------------------
    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        color = QColor(self.view.color)
        status = self.view.status
        if status == "rejected":
            color = QColor(150, 150, 150)
        pen = QPen(color, 3 if self.isSelected() else 2)
        pen.setCosmetic(True)
        if status == "pending":
            pen.setStyle(Qt.PenStyle.DashLine)
        elif status == "rejected":
            pen.setStyle(Qt.PenStyle.DotLine)
        painter.setPen(pen)
        fill = QColor(color)
        fill.setAlpha(40 if self.isSelected() else (0 if status == "rejected" else 18))
        painter.setBrush(QBrush(fill))
        painter.drawRect(self.rect)
        if self.isSelected():
            handle_pen = QPen(QColor("white"), 1)
            handle_pen.setCosmetic(True)
            painter.setPen(handle_pen)
            painter.setBrush(QBrush(color))
            for rect in self.handle_rects().values():
                painter.drawRect(rect)

    def itemChange(self, change: QGraphicsItem.GraphicsItemChange, value: Any) -> Any:
        if change == QGraphicsItem.GraphicsItemChange.ItemSelectedHasChanged:
            self.prepareGeometryChange()  # handles widen the bounding rect
        return super().itemChange(change, value)

    # -- mouse ------------------------------------------------------------------------
    def hoverMoveEvent(self, event: QGraphicsSceneHoverEvent) -> None:
        handle = self.handle_at(event.pos())
        self.setCursor(_CURSORS.get(handle or "", Qt.CursorShape.ArrowCursor))

    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            event.ignore()
            return
        if not self.isSelected():
            if not event.modifiers() & Qt.KeyboardModifier.ControlModifier and self.scene() is not None:
                self.scene().clearSelection()
            self.setSelected(True)
        self._drag_handle = self.handle_at(event.pos()) or "move"
        self._press_scene = event.scenePos()
        self._press_rect = QRectF(self.rect)
        event.accept()

    def mouseMoveEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if self._drag_handle is None:
            return
        delta = event.scenePos() - self._press_scene
        self.set_rect(resized(self._press_rect, self._drag_handle, delta, self.bounds))

    def mouseReleaseEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        handle, self._drag_handle = self._drag_handle, None
        if handle is not None and self.rect != self._press_rect:
            # After this event returns: the edit refreshes the scene, never mid-event.
            box_id, rect = self.view.box_id, QRectF(self.rect)
            QTimer.singleShot(0, lambda: self._on_edit(box_id, rect))
        event.accept()


class LabelTag(QGraphicsItem):
    """Class name and score on a colour chip; constant size on screen at any zoom."""

    def __init__(self, text: str, color: QColor, parent: QGraphicsItem) -> None:
        super().__init__(parent)
        self.font = QFont()
        self.font.setPointSizeF(8.5)
        self.below = False
        self.set_text(text, color)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)

    def set_text(self, text: str, color: QColor) -> None:
        self.prepareGeometryChange()
        self.text = text
        self.color = color
        self.below = getattr(self, "below", False)
        metrics = QFontMetricsF(self.font)
        self._size = QRectF(0, 0, metrics.horizontalAdvance(text) + 8, metrics.height() + 2)
        self.update()

    def height(self) -> float:
        return self._size.height()

    def boundingRect(self) -> QRectF:
        return QRectF(self._size) if self.below else self._size.translated(0, -self._size.height())

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        rect = self.boundingRect()
        painter.fillRect(rect, self.color)
        painter.setFont(self.font)
        # Dark text on light colours, white on dark ones.
        painter.setPen(QColor("black") if self.color.lightnessF() > 0.6 else QColor("white"))
        painter.drawText(rect.adjusted(4, 0, -4, 0), Qt.AlignmentFlag.AlignVCenter, self.text)
