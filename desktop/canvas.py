"""The image view: fit, zoom and pan, boxes on top, and drawing new boxes.

The canvas shows what it is given (``set_image``, ``set_boxes``) and reports what the
user did as signals (a box drawn, a box moved or resized, a selection change, a tap on
Space); the controller decides what those mean for the project.
"""

from __future__ import annotations

from groundlabel.desktop.box_item import BoxItem, BoxView, rect_from_xyxy, resized, xyxy_from_rect
from groundlabel.desktop.mask_item import PointMarker
from PySide6.QtCore import QEvent, QPoint, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPen,
    QPixmap,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QGraphicsPathItem,
    QGraphicsPixmapItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsTextItem,
    QGraphicsView,
    QWidget,
)

MIN_ZOOM, MAX_ZOOM = 0.01, 40.0
ZOOM_STEP = 1.25
MIN_DRAW_PX = 3.0  # a drag shorter than this on screen is a click, not a box
TOOLS = ("box", "points", "brush", "eraser")  # what a left click on the image does
NEGATIVE_POINT_MODIFIER = Qt.KeyboardModifier.ShiftModifier  # Shift+click: a "not this" point


class ImageCanvas(QGraphicsView):
    box_drawn = Signal(object)  # (x0, y0, x1, y1) in image pixels
    box_edited = Signal(object, object)  # box id, (x0, y0, x1, y1)
    selection_changed = Signal(list)  # selected box ids
    space_tapped = Signal()  # Space pressed and released without panning
    zoom_changed = Signal(float)
    point_clicked = Signal(float, float, bool)  # x, y in image pixels, positive (False: Shift+click)
    stroke_drawn = Signal(list, bool)  # [(x, y), ...] in image pixels, erase
    tool_changed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("canvas")
        self._scene = QGraphicsScene(self)
        self.setScene(self._scene)
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setBackgroundBrush(QColor(48, 48, 52))
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(True)
        # Long-lived items, shown or hidden: nothing the scene owns is ever recreated per image.
        self._pixmap_item = QGraphicsPixmapItem()
        self._pixmap_item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self._pixmap_item.setZValue(-1)
        self._scene.addItem(self._pixmap_item)
        self._message_item = QGraphicsTextItem()
        self._message_item.setTextWidth(560)
        self._message_item.setPos(40, 150)
        self._scene.addItem(self._message_item)
        self._draw_item = QGraphicsRectItem()
        self._draw_item.setPen(self._draw_pen())
        self._draw_item.setZValue(10)
        self._draw_item.hide()
        self._scene.addItem(self._draw_item)
        self._has_image = False
        self._items: dict[object, BoxItem] = {}
        self._views: list[BoxView] = []
        self._bounds = QRectF()
        self._fit_mode = True
        self._min_score = 0.0
        self._class_min_scores: dict[str, float] = {}
        self._rejected_mode = "dim"  # or "hide"
        self._space_down = False
        self._space_panned = False
        self._pan_from: QPoint | None = None
        self._draw_from: QPointF | None = None
        self._tool = "box"
        self._masks_visible = True
        self.brush_radius = 8.0  # image pixels
        self._stroke: list[tuple[float, float]] | None = None
        self._stroke_item = QGraphicsPathItem()
        self._stroke_item.setZValue(11)
        self._stroke_item.hide()
        self._scene.addItem(self._stroke_item)
        self._markers: list[PointMarker] = []
        self._scene.selectionChanged.connect(self._emit_selection)

    # -- tools and masks ---------------------------------------------------------------------
    def set_tool(self, tool: str) -> None:
        """ "box" (draw, select, move), "points" (prompt the selected box's mask), "brush", "eraser"."""
        if tool not in TOOLS:
            raise ValueError(f"unknown tool {tool!r}")
        self._cancel_draw()
        self._tool = tool
        cursor = Qt.CursorShape.ArrowCursor if tool == "box" else Qt.CursorShape.CrossCursor
        self.viewport().setCursor(cursor)
        self.tool_changed.emit(tool)

    def tool(self) -> str:
        return self._tool

    def set_masks_visible(self, on: bool) -> None:
        self._masks_visible = on
        for item in self._items.values():
            item.set_mask_visible(on)

    def masks_visible(self) -> bool:
        return self._masks_visible

    def set_points(self, points: list[tuple[float, float, bool]]) -> None:
        """Markers for the prompt points of the box being corrected (x, y, positive)."""
        for marker in self._markers:
            self._scene.removeItem(marker)
        self._markers = [PointMarker(x, y, positive) for x, y, positive in points]
        for marker in self._markers:
            self._scene.addItem(marker)

    def point_markers(self) -> list[tuple[float, float, bool]]:
        return [(m.pos().x(), m.pos().y(), m.positive) for m in self._markers]

    # -- content ------------------------------------------------------------------------
    def set_image(self, image: QImage | None, error: str | None = None, keep_view: bool = False) -> None:
        """Show an image (or an error placeholder) and drop the old boxes; fits unless ``keep_view``."""
        self._cancel_draw()
        self._remove_boxes(list(self._items))
        self.set_points([])
        self._views = []
        self._has_image = image is not None and not image.isNull()
        if self._has_image:
            self._pixmap_item.setPixmap(QPixmap.fromImage(image))
            self._bounds = QRectF(0, 0, image.width(), image.height())
            self._message_item.setPlainText("")
        else:
            self._pixmap_item.setPixmap(QPixmap())
            self._bounds = QRectF(0, 0, 640, 400)
            self._message_item.setPlainText(error or "")
            self._message_item.setDefaultTextColor(QColor(255, 140, 120) if error else QColor(200, 200, 200))
        self._pixmap_item.setVisible(self._has_image)
        self._message_item.setVisible(not self._has_image)
        self._scene.setSceneRect(self._bounds)
        if not keep_view:
            self.fit()
        self.selection_changed.emit([])

    def has_image(self) -> bool:
        return self._has_image

    def message(self) -> str:
        return "" if self._has_image else self._message_item.toPlainText()

    def image_bounds(self) -> QRectF:
        return QRectF(self._bounds)

    def _remove_boxes(self, ids: list[object]) -> None:
        self._scene.blockSignals(True)
        for box_id in ids:
            item = self._items.pop(box_id)
            item.setSelected(False)
            self._scene.removeItem(item)  # ownership back to Python; freed with the last reference
        self._scene.blockSignals(False)

    def set_boxes(self, views: list[BoxView]) -> None:
        """Show ``views``: items of boxes still there are updated in place, keeping their selection."""
        wanted = {view.box_id: view for view in views} if self._has_image else {}
        self._remove_boxes([box_id for box_id in self._items if box_id not in wanted])
        self._views = [v for v in views if v.box_id in wanted]
        self._scene.blockSignals(True)
        for view in self._views:
            item = self._items.get(view.box_id)
            if item is None:
                item = BoxItem(view, self._bounds, self._report_edit)
                item.set_mask_visible(self._masks_visible)
                self._scene.addItem(item)
                self._items[view.box_id] = item
            else:
                item.set_view(view, self._bounds)
        self._scene.blockSignals(False)
        self._place_tags()
        self._apply_visibility()
        self._emit_selection()

    def _place_tags(self) -> None:
        for item in self._items.values():
            item.place_tag()

    def box_items(self) -> dict[object, BoxItem]:
        return dict(self._items)

    def visible_ids(self) -> list[object]:
        return [
            v.box_id for v in self._views if self._items.get(v.box_id) and self._items[v.box_id].isVisible()
        ]

    def set_class_min_scores(self, scores: dict[str, float]) -> None:
        """Per-class thresholds (by class name) that take the slider's place for their classes."""
        self._class_min_scores = dict(scores)
        self._apply_visibility()

    def min_score_for(self, label: str) -> float:
        return self._class_min_scores.get(label, self._min_score)

    def set_min_score(self, score: float) -> None:
        """Hide pending model proposals scoring below ``score``; nothing is re-run or changed."""
        self._min_score = score
        self._apply_visibility()

    def set_rejected_mode(self, mode: str) -> None:
        self._rejected_mode = mode
        self._apply_visibility()

    def rejected_mode(self) -> str:
        return self._rejected_mode

    def _apply_visibility(self) -> None:
        for view in self._views:
            item = self._items.get(view.box_id)
            if item is None:
                continue
            below = (
                view.status == "pending"
                and view.score is not None
                and view.score < self.min_score_for(view.label)
            )
            hidden_rejected = view.status == "rejected" and self._rejected_mode == "hide"
            item.setVisible(not (below or hidden_rejected))
            item.setOpacity(0.45 if view.status == "rejected" else 1.0)
            if not item.isVisible():
                item.setSelected(False)

    # -- selection -----------------------------------------------------------------------
    def selected_ids(self) -> list[object]:
        return [box_id for box_id, item in self._items.items() if item.isSelected()]

    def select_ids(self, ids: list[object]) -> None:
        self._scene.blockSignals(True)
        for box_id, item in self._items.items():
            item.setSelected(box_id in ids and item.isVisible())
        self._scene.blockSignals(False)
        self._emit_selection()
        if ids and ids[0] in self._items:
            self.ensureVisible(self._items[ids[0]].rect, 20, 20)

    def select_step(self, step: int) -> None:
        """Select the next (or previous) visible box, in the order the controller gave them."""
        visible = self.visible_ids()
        if not visible:
            return
        current = self.selected_ids()
        index = (
            visible.index(current[0]) + step if current and current[0] in visible else (0 if step > 0 else -1)
        )
        self.select_ids([visible[index % len(visible)]])

    def _emit_selection(self) -> None:
        self.selection_changed.emit(self.selected_ids())

    def _report_edit(self, box_id: object, rect: QRectF) -> None:
        self.box_edited.emit(box_id, xyxy_from_rect(rect))

    # -- zoom ------------------------------------------------------------------------------
    def zoom(self) -> float:
        return self.transform().m11()

    def fit(self) -> None:
        self._fit_mode = True
        if not self._bounds.isEmpty():
            self.fitInView(self._bounds, Qt.AspectRatioMode.KeepAspectRatio)
        self._place_tags()
        self.zoom_changed.emit(self.zoom())

    def zoom_by(self, factor: float) -> None:
        target = min(max(self.zoom() * factor, MIN_ZOOM), MAX_ZOOM)
        self._fit_mode = False
        self.scale(target / self.zoom(), target / self.zoom())
        self._place_tags()
        self.zoom_changed.emit(self.zoom())

    def zoom_in(self) -> None:
        self.zoom_by(ZOOM_STEP)

    def zoom_out(self) -> None:
        self.zoom_by(1 / ZOOM_STEP)

    def zoom_actual(self) -> None:
        self.zoom_by(1.0 / self.zoom())

    def wheelEvent(self, event: QWheelEvent) -> None:
        steps = event.angleDelta().y() / 120.0
        if steps:
            self.zoom_by(ZOOM_STEP**steps)
        event.accept()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self._fit_mode:
            self.fit()

    # -- keys: Space taps vs. Space-drag panning, Tab through boxes, Alt+arrows nudge ------
    def event(self, event: QEvent) -> bool:
        if (
            event.type() == QEvent.Type.ShortcutOverride
            and isinstance(event, QKeyEvent)
            and event.key() in (Qt.Key.Key_Space, Qt.Key.Key_Escape)
            and not event.modifiers()
        ):
            event.accept()  # handle these here so Space-drag can pan
            return True
        if event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent):
            if event.key() == Qt.Key.Key_Tab:
                self.select_step(1)
                return True
            if event.key() == Qt.Key.Key_Backtab:
                self.select_step(-1)
                return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key == Qt.Key.Key_Space and not event.modifiers():
            if not event.isAutoRepeat():
                self._space_down = True
                self._space_panned = False
                self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            event.accept()
            return
        if key == Qt.Key.Key_Escape:
            if self._draw_from is not None or self._stroke is not None:
                self._cancel_draw()
            elif self._tool != "box":
                self.set_tool("box")
            else:
                self._scene.clearSelection()
            event.accept()
            return
        arrows = {
            Qt.Key.Key_Left: (-1, 0),
            Qt.Key.Key_Right: (1, 0),
            Qt.Key.Key_Up: (0, -1),
            Qt.Key.Key_Down: (0, 1),
        }
        if key in arrows and event.modifiers() & Qt.KeyboardModifier.AltModifier:
            step = 10 if event.modifiers() & Qt.KeyboardModifier.ShiftModifier else 1
            dx, dy = arrows[key]
            for box_id in self.selected_ids():
                item = self._items[box_id]
                self.box_edited.emit(
                    box_id,
                    xyxy_from_rect(resized(item.rect, "move", QPointF(dx * step, dy * step), self._bounds)),
                )
            event.accept()
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            was_down, panned = self._space_down, self._space_panned
            self._space_down = False
            self._pan_from = None
            self.viewport().unsetCursor()
            if was_down and not panned:
                self.space_tapped.emit()
            event.accept()
            return
        super().keyReleaseEvent(event)

    # -- mouse: pan, draw; box items handle their own move/resize -----------------------
    def mousePressEvent(self, event: QMouseEvent) -> None:
        button = event.button()
        if button == Qt.MouseButton.MiddleButton or (
            button == Qt.MouseButton.LeftButton and self._space_down
        ):
            self._pan_from = event.position().toPoint()
            self._space_panned = True
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            event.accept()
            return
        if button == Qt.MouseButton.LeftButton and self._has_image and self._tool != "box":
            point = self._clamp(self.mapToScene(event.position().toPoint()))
            if self._tool == "points":
                positive = not event.modifiers() & NEGATIVE_POINT_MODIFIER
                self.point_clicked.emit(point.x(), point.y(), bool(positive))
            else:
                self._stroke = [(point.x(), point.y())]
                self._show_stroke()
            event.accept()
            return
        if button == Qt.MouseButton.LeftButton and self._has_image:
            item = self.itemAt(event.position().toPoint())
            if not isinstance(item, BoxItem) and not isinstance(
                getattr(item, "parentItem", lambda: None)(), BoxItem
            ):
                self._scene.clearSelection()
                start = self._clamp(self.mapToScene(event.position().toPoint()))
                self._draw_from = start
                self._draw_item.setRect(QRectF(start, start))
                self._draw_item.show()
                event.accept()
                return
        super().mousePressEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        """Two quick clicks with the point tool are two points (Qt reports the second as a double-click)."""
        if event.button() == Qt.MouseButton.LeftButton and self._tool != "box":
            self.mousePressEvent(event)
            return
        super().mouseDoubleClickEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._pan_from is not None:
            delta = event.position().toPoint() - self._pan_from
            self._pan_from = event.position().toPoint()
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - delta.x())
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - delta.y())
            self._fit_mode = False
            event.accept()
            return
        if self._stroke is not None:
            point = self._clamp(self.mapToScene(event.position().toPoint()))
            self._stroke.append((point.x(), point.y()))
            self._show_stroke()
            event.accept()
            return
        if self._draw_from is not None:
            end = self._clamp(self.mapToScene(event.position().toPoint()))
            self._draw_item.setRect(QRectF(self._draw_from, end).normalized())
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._pan_from is not None and event.button() in (
            Qt.MouseButton.MiddleButton,
            Qt.MouseButton.LeftButton,
        ):
            self._pan_from = None
            self.viewport().setCursor(
                Qt.CursorShape.OpenHandCursor if self._space_down else Qt.CursorShape.ArrowCursor
            )
            event.accept()
            return
        if self._stroke is not None and event.button() == Qt.MouseButton.LeftButton:
            stroke = self._stroke
            self._cancel_draw()
            self.stroke_drawn.emit(stroke, self._tool == "eraser")
            event.accept()
            return
        if self._draw_from is not None and event.button() == Qt.MouseButton.LeftButton:
            rect = self._draw_item.rect()
            self._cancel_draw()
            if min(rect.width(), rect.height()) * self.zoom() >= MIN_DRAW_PX:
                self.box_drawn.emit(xyxy_from_rect(rect))
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def _clamp(self, point: QPointF) -> QPointF:
        return QPointF(
            min(max(point.x(), self._bounds.left()), self._bounds.right()),
            min(max(point.y(), self._bounds.top()), self._bounds.bottom()),
        )

    def _draw_pen(self) -> QPen:
        pen = QPen(QColor(255, 255, 255), 1.5, Qt.PenStyle.DashLine)
        pen.setCosmetic(True)
        return pen

    def _cancel_draw(self) -> None:
        self._draw_item.hide()
        self._draw_from = None
        self._stroke_item.hide()
        self._stroke = None

    def _show_stroke(self) -> None:
        """The brush's trail while dragging, as wide as the brush (image pixels)."""
        path = QPainterPath(QPointF(*self._stroke[0]))
        for x, y in self._stroke[1:]:
            path.lineTo(x, y)
        colour = QColor(255, 80, 80, 110) if self._tool == "eraser" else QColor(255, 255, 255, 110)
        pen = QPen(colour, 2 * self.brush_radius, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap)
        self._stroke_item.setPen(pen)
        self._stroke_item.setPath(path if len(self._stroke) > 1 else self._dot(path))
        self._stroke_item.show()

    def _dot(self, path: QPainterPath) -> QPainterPath:
        x, y = self._stroke[0]
        path.lineTo(x + 0.01, y)
        return path

    def box_rect(self, box_id: object) -> QRectF:
        """Where a box is on screen (viewport coordinates); for tests and tooltips."""
        item = self._items[box_id]
        return self.mapFromScene(item.rect).boundingRect()

    def scene_to_view(self, x: float, y: float) -> QPoint:
        return self.mapFromScene(QPointF(x, y))


__all__ = ["BoxView", "ImageCanvas", "rect_from_xyxy"]
