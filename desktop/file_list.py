"""The file list: one row per image with its review state, filters and search.

``FileListModel`` is a view-model over the project's ``ImageRecord`` snapshots (one SQL
query for 10,000 images, no file is opened); ``FileFilterProxy`` filters by state, class
and name; ``FileListPanel`` puts them together with the "412 / 1,000 reviewed" count.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from groundlabel.desktop.thumbnails import THUMB_SIZE, ThumbnailProvider
from PySide6.QtCore import (
    QAbstractListModel,
    QItemSelectionModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSize,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor, QIcon, QImage, QPainter, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QVBoxLayout,
    QWidget,
)

from groundlabel.project import ImageRecord, ImageState

IdRole = Qt.ItemDataRole.UserRole + 1
StateRole = Qt.ItemDataRole.UserRole + 2

# Display states: the stored ones plus "in review" (predicted, some boxes decided) and
# "unreadable" (the file could not be decoded this session).
IN_REVIEW = "in review"
UNREADABLE = "unreadable"
DISPLAY_STATES = ["new", "predicted", IN_REVIEW, "reviewed", "reviewed-empty", UNREADABLE]
AUTO_ACCEPTED_FILTER = "auto-accepted"  # images holding a box the auto-accept rule accepted
MASKS_FILTER = "with masks"  # images where at least one box has a mask
STATE_COLOURS = {
    "new": "#9e9e9e",
    "predicted": "#2196f3",
    IN_REVIEW: "#ff9800",
    "reviewed": "#4caf50",
    "reviewed-empty": "#81c784",
    UNREADABLE: "#e53935",
}
REVIEWED_STATES = (ImageState.REVIEWED, ImageState.REVIEWED_EMPTY)


def display_state(record: ImageRecord, error: str | None = None) -> str:
    if error:
        return UNREADABLE
    if record.state in (ImageState.NEW, ImageState.PREDICTED) and (
        record.accepted_count or record.rejected_count
    ):
        return IN_REVIEW
    return str(record.state)


def _dot(colour: str) -> QIcon:
    pixmap = QPixmap(12, 12)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setBrush(QColor(colour))
    painter.setPen(Qt.PenStyle.NoPen)
    painter.drawEllipse(1, 1, 10, 10)
    painter.end()
    return QIcon(pixmap)


def _thumb_icon(image: QImage | None, colour: str) -> QIcon:
    """The thumbnail (or a grey tile while it is made) with the state dot in its corner."""
    pixmap = QPixmap(THUMB_SIZE)
    pixmap.fill(QColor(70, 70, 74))
    painter = QPainter(pixmap)
    if image is not None:
        x = (THUMB_SIZE.width() - image.width()) // 2
        y = (THUMB_SIZE.height() - image.height()) // 2
        painter.drawImage(x, y, image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(QColor("white"))
    painter.setBrush(QColor(colour))
    painter.drawEllipse(1, THUMB_SIZE.height() - 13, 12, 12)
    painter.end()
    return QIcon(pixmap)


class FileListModel(QAbstractListModel):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._records: list[ImageRecord] = []
        self._row_of: dict[int, int] = {}
        self._errors: dict[int, str] = {}
        self._icons: dict[str, QIcon] = {}
        self.root: Path | None = None  # the project folder, for thumbnail paths
        # The file of a record for its thumbnail; set by the controller so a video's frame is
        # decoded from its clip (``desktop.frame_files``), not looked up as ``root / path``.
        self.file_of: Callable[[ImageRecord], str | Callable[[], str]] | None = None
        self.thumbnails: ThumbnailProvider | None = None  # None: state dots only
        self._thumb_icons: dict[tuple[int, str], QIcon] = {}

    def set_thumbnails(self, provider: ThumbnailProvider | None) -> None:
        self.thumbnails = provider
        self._thumb_icons.clear()
        if provider is not None:
            provider.ready.connect(self._thumbnail_ready)
        if self._records:
            self.dataChanged.emit(self.index(0), self.index(len(self._records) - 1))

    def _thumbnail_ready(self, image_id: int) -> None:
        row = self._row_of.get(image_id)
        if row is not None:
            self.dataChanged.emit(self.index(row), self.index(row), [Qt.ItemDataRole.DecorationRole])

    def _decoration(self, record: ImageRecord, state: str) -> QIcon:
        if self.thumbnails is None or self.root is None:
            if state not in self._icons:
                self._icons[state] = _dot(STATE_COLOURS[state])
            return self._icons[state]
        key = (record.id, state)
        icon = self._thumb_icons.get(key)
        if icon is None:
            path = self.file_of(record) if self.file_of is not None else str(self.root / record.path)
            image = self.thumbnails.thumbnail(record.id, path)
            icon = _thumb_icon(image, STATE_COLOURS[state])
            if self.thumbnails.has(record.id):  # keep only finished ones
                if len(self._thumb_icons) > 3000:
                    self._thumb_icons.clear()
                self._thumb_icons[key] = icon
        return icon

    def set_records(self, records: Iterable[ImageRecord]) -> None:
        self.beginResetModel()
        self._records = list(records)
        self._row_of = {r.id: i for i, r in enumerate(self._records)}
        self.endResetModel()

    def update_record(self, record: ImageRecord) -> None:
        row = self._row_of.get(record.id)
        if row is None:
            return
        self._records[row] = record
        index = self.index(row)
        self.dataChanged.emit(index, index)

    def set_error(self, image_id: int, error: str | None) -> None:
        if error:
            self._errors[image_id] = error
        else:
            self._errors.pop(image_id, None)
        row = self._row_of.get(image_id)
        if row is not None:
            self.dataChanged.emit(self.index(row), self.index(row))

    def error(self, image_id: int) -> str | None:
        return self._errors.get(image_id)

    def record(self, row: int) -> ImageRecord:
        return self._records[row]

    def records(self) -> list[ImageRecord]:
        return list(self._records)

    def row_of(self, image_id: int) -> int | None:
        return self._row_of.get(image_id)

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._records)

    def data(
        self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if not index.isValid():
            return None
        record = self._records[index.row()]
        error = self._errors.get(record.id)
        state = display_state(record, error)
        if role == Qt.ItemDataRole.DisplayRole:
            boxes = record.pending_count + record.accepted_count
            masks = (
                f", {record.mask_count} mask{'s' if record.mask_count != 1 else ''}"
                if record.mask_count
                else ""
            )
            return f"{record.path}  ({boxes}{masks})" if boxes or masks else record.path
        if role == Qt.ItemDataRole.DecorationRole:
            return self._decoration(record, state)
        if role == Qt.ItemDataRole.ToolTipRole:
            text = (
                f"{record.path}\n{state}: {record.pending_count} pending, "
                f"{record.accepted_count} accepted, {record.rejected_count} rejected, "
                f"{record.mask_count} with a mask"
            )
            return f"{text}\n{error}" if error else text
        if role == Qt.ItemDataRole.ForegroundRole and error:
            return QColor(STATE_COLOURS[UNREADABLE])
        if role == IdRole:
            return record.id
        if role == StateRole:
            return state
        return None


class FileFilterProxy(QSortFilterProxyModel):
    """Rows matching the state filter, the class filter (a set of image ids) and the search text."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.state: str | None = None
        self.allowed_ids: set[int] | None = None
        self.search = ""

    def set_filters(self, state: str | None, allowed_ids: set[int] | None, search: str) -> None:
        if hasattr(self, "beginFilterChange"):  # Qt 6.10+
            self.beginFilterChange()
            self.state, self.allowed_ids, self.search = state, allowed_ids, search.strip().lower()
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            self.state, self.allowed_ids, self.search = state, allowed_ids, search.strip().lower()
            self.invalidateFilter()

    def filterAcceptsRow(self, source_row: int, source_parent: QModelIndex | QPersistentModelIndex) -> bool:
        model: FileListModel = self.sourceModel()
        record = model.record(source_row)
        if self.state is not None and display_state(record, model.error(record.id)) != self.state:
            return False
        if self.allowed_ids is not None and record.id not in self.allowed_ids:
            return False
        return not self.search or self.search in record.path.lower()


class FileListPanel(QWidget):
    """List, filters, search and the reviewed count. ``current_image_changed`` carries an image id."""

    current_image_changed = Signal(object)
    filters_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = FileListModel(self)
        self.proxy = FileFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self.count_label = QLabel("no folder open")
        self.count_label.setObjectName("reviewedCount")
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search file names (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        self.state_filter = QComboBox()
        self.state_filter.addItem("All states", None)
        for state in DISPLAY_STATES:
            self.state_filter.addItem(state, state)
        self.state_filter.addItem(AUTO_ACCEPTED_FILTER, AUTO_ACCEPTED_FILTER)
        self.state_filter.addItem(MASKS_FILTER, MASKS_FILTER)
        self.class_filter = QComboBox()
        self.class_filter.addItem("All classes", None)
        self.show_thumbnails = QCheckBox("Thumbnails")
        self.show_thumbnails.setChecked(True)
        self.show_thumbnails.toggled.connect(self._toggle_thumbnails)
        self.thumbnails = ThumbnailProvider(self)
        self.model.set_thumbnails(self.thumbnails)
        self.view = QListView()
        self.view.setIconSize(THUMB_SIZE)
        self.view.setModel(self.proxy)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setUniformItemSizes(True)  # 10,000 rows stay fast
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        filters = QHBoxLayout()
        filters.addWidget(self.state_filter)
        filters.addWidget(self.class_filter)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        top = QHBoxLayout()
        top.addWidget(self.count_label, 1)
        top.addWidget(self.show_thumbnails)
        layout.addLayout(top)
        layout.addWidget(self.search)
        layout.addLayout(filters)
        layout.addWidget(self.view)
        self.search.textChanged.connect(lambda _: self.filters_changed.emit())
        self.state_filter.currentIndexChanged.connect(lambda _: self.filters_changed.emit())
        self.class_filter.currentIndexChanged.connect(lambda _: self.filters_changed.emit())
        self.view.selectionModel().currentChanged.connect(self._on_current)

    def _toggle_thumbnails(self, on: bool) -> None:
        self.model.set_thumbnails(self.thumbnails if on else None)
        self.view.setIconSize(THUMB_SIZE if on else QSize(12, 12))

    def set_root(self, root: Path | None) -> None:
        """A new project: thumbnails are per folder."""
        self.thumbnails.clear()
        self.model._thumb_icons.clear()
        self.model.root = root

    def _on_current(self, current: QModelIndex, previous: QModelIndex) -> None:
        if current.isValid():
            self.current_image_changed.emit(current.data(IdRole))

    def set_classes(self, classes: list[tuple[int, str]]) -> None:
        """Refill the class filter, keeping the chosen class when it still exists."""
        chosen = self.class_filter.currentData()
        self.class_filter.blockSignals(True)
        self.class_filter.clear()
        self.class_filter.addItem("All classes", None)
        for class_id, name in classes:
            self.class_filter.addItem(name, class_id)
        index = self.class_filter.findData(chosen)
        self.class_filter.setCurrentIndex(max(index, 0))
        self.class_filter.blockSignals(False)

    def apply_filters(self, allowed_ids: set[int] | None) -> None:
        """``allowed_ids`` comes from the project (class and auto-accepted filters)."""
        state = self.state_filter.currentData()
        state = None if state in (AUTO_ACCEPTED_FILTER, MASKS_FILTER) else state
        self.proxy.set_filters(state, allowed_ids, self.search.text())

    def set_counts(self, reviewed: int, total: int) -> None:
        self.count_label.setText(f"{reviewed:,} / {total:,} reviewed")

    def current_id(self) -> int | None:
        index = self.view.currentIndex()
        return index.data(IdRole) if index.isValid() else None

    def selected_ids(self) -> list[int]:
        rows = sorted(self.view.selectionModel().selectedRows(), key=lambda i: i.row())
        return [index.data(IdRole) for index in rows]

    def id_at(self, proxy_row: int) -> int:
        return self.model.record(self.proxy.mapToSource(self.proxy.index(proxy_row, 0)).row()).id

    def proxy_row(self, image_id: int | None) -> int | None:
        row = self.model.row_of(image_id) if image_id is not None else None
        if row is None:
            return None
        index = self.proxy.mapFromSource(self.model.index(row))
        return index.row() if index.isValid() else None

    def neighbour_id(self, image_id: int | None, step: int) -> int | None:
        """The shown image ``step`` rows away (clamped), without walking the whole list."""
        count = self.proxy.rowCount()
        if not count:
            return None
        row = self.proxy_row(image_id)
        target = 0 if row is None else max(0, min(row + step, count - 1))
        return self.id_at(target)

    def ids_after(self, image_id: int | None) -> Iterator[int]:
        """Shown images after ``image_id``, wrapping around, lazily (stops as soon as the caller does)."""
        count = self.proxy.rowCount()
        row = self.proxy_row(image_id)
        start = 0 if row is None else row + 1
        for offset in range(count):
            yield self.id_at((start + offset) % count)

    def visible_ids(self) -> list[int]:
        return [self.proxy.index(row, 0).data(IdRole) for row in range(self.proxy.rowCount())]

    def select_id(self, image_id: int) -> bool:
        """Make ``image_id`` current (clearing a filter that hides it); False if unknown."""
        row = self.model.row_of(image_id)
        if row is None:
            return False
        index = self.proxy.mapFromSource(self.model.index(row))
        if not index.isValid():
            self.search.clear()
            self.state_filter.setCurrentIndex(0)
            self.class_filter.setCurrentIndex(0)
            self.apply_filters(None)
            index = self.proxy.mapFromSource(self.model.index(row))
        flags = QItemSelectionModel.SelectionFlag.ClearAndSelect
        self.view.selectionModel().setCurrentIndex(index, flags)
        self.view.scrollTo(index)
        return True
