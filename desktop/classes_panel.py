"""The classes panel: the list the detector's prompt is built from.

The panel shows classes and asks the user questions (name, aliases, colour, "delete
boxes too?"); what to do with the answers is the controller's job, reached through
signals. The prompt functions are module-level so tests can answer them.
"""

from __future__ import annotations

from pathlib import Path

from groundlabel.desktop.class_list_dialog import ask_class_list
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QColorDialog,
    QFileDialog,
    QGridLayout,
    QInputDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from groundlabel.class_lists import ClassList, read_class_list
from groundlabel.errors import GroundlabelError
from groundlabel.labels import LabelClass
from groundlabel.project import ClassRecord


def ask_text(parent: QWidget, title: str, label: str, text: str = "") -> str | None:
    """A line of text from the user, or None if cancelled."""
    value, ok = QInputDialog.getText(parent, title, label, text=text)
    return value.strip() if ok else None


def ask_class_file(parent: QWidget) -> str | None:
    """A class list file to import, or None if cancelled."""
    path, _ = QFileDialog.getOpenFileName(
        parent,
        "Import classes",
        "",
        "Class lists (*.txt *.names *.xml *.json);;Label Studio labeling config (*.xml);;"
        "COCO (*.json);;Text, one class per line (*.txt *.names);;All files (*)",
    )
    return path or None


def ask_colour(parent: QWidget, colour: str) -> str | None:
    chosen = QColorDialog.getColor(QColor(colour), parent, "Class colour")
    return chosen.name() if chosen.isValid() else None


def confirm(parent: QWidget, title: str, text: str) -> bool:
    answer = QMessageBox.warning(
        parent, title, text, QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel
    )
    return answer == QMessageBox.StandardButton.Yes


def _swatch(colour: str) -> QIcon:
    pixmap = QPixmap(14, 14)
    pixmap.fill(QColor(colour))
    return QIcon(pixmap)


class ClassesPanel(QWidget):
    """Signals carry class ids and the user's answers; ``box_count`` is asked before deleting."""

    classes_requested = Signal(list)  # LabelClass entries to add, in order
    error = Signal(str)
    rename_requested = Signal(int, str)
    aliases_requested = Signal(int, list)
    colour_requested = Signal(int, str)
    delete_requested = Signal(int)
    current_class_changed = Signal(object)  # class id or None

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.box_count = lambda class_id: 0  # set by the controller: boxes using a class
        self.list = QListWidget()
        self.list.setObjectName("classList")
        self.hint = QLabel("Add the classes to find; 1–9 pick them.")
        self.hint.setWordWrap(True)
        buttons = QGridLayout()  # two rows keep the panel narrow
        self.buttons: dict[str, QPushButton] = {}
        for key, text, slot in [
            ("add", "Add…", self.request_add),
            ("rename", "Rename", self.request_rename),
            ("aliases", "Aliases", self.request_aliases),
            ("colour", "Colour", self.request_colour),
            ("delete", "Delete", self.request_delete),
        ]:
            button = QPushButton(text)
            button.clicked.connect(slot)
            buttons.addWidget(button, len(self.buttons) // 3, len(self.buttons) % 3)
            self.buttons[key] = button
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.list)
        layout.addLayout(buttons)
        layout.addWidget(self.hint)
        self.list.currentItemChanged.connect(lambda *_: self.current_class_changed.emit(self.current_id()))
        self.list.itemDoubleClicked.connect(lambda *_: self.request_rename())
        self._classes: list[ClassRecord] = []

    def set_classes(self, classes: list[ClassRecord]) -> None:
        """Show ``classes`` in order, keeping the current class if it still exists."""
        current = self.current_id()
        self._classes = list(classes)
        self.list.blockSignals(True)
        self.list.clear()
        for number, record in enumerate(classes, start=1):
            key = f"{number}  " if number <= 9 else "    "
            aliases = f"  ({' | '.join(record.aliases)})" if record.aliases else ""
            item = QListWidgetItem(_swatch(record.colour), f"{key}{record.name}{aliases}")
            item.setData(Qt.ItemDataRole.UserRole, record.id)
            item.setToolTip("Prompt phrases: " + ", ".join(record.aliases or (record.name,)))
            self.list.addItem(item)
        ids = [c.id for c in classes]
        row = ids.index(current) if current in ids else (0 if ids else -1)
        self.list.setCurrentRow(row)
        self.list.blockSignals(False)
        self.hint.setVisible(not classes)
        if current != self.current_id():
            self.current_class_changed.emit(self.current_id())

    def classes(self) -> list[ClassRecord]:
        return list(self._classes)

    def current_id(self) -> int | None:
        item = self.list.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None

    def current_record(self) -> ClassRecord | None:
        current = self.current_id()
        return next((c for c in self._classes if c.id == current), None)

    def set_current_index(self, index: int) -> bool:
        if 0 <= index < self.list.count():
            self.list.setCurrentRow(index)
            return True
        return False

    # -- questions to the user -> signals ------------------------------------------
    def existing(self) -> list[LabelClass]:
        return [LabelClass(c.name, tuple(c.aliases)) for c in self._classes]

    def request_add(self) -> None:
        """Type a list (``cup=mug, spoon``, as ``--labels`` reads it), preview it, add it."""
        classes = ask_class_list(self.window(), self.existing())
        if classes:
            self.classes_requested.emit(classes)

    def request_import(self) -> None:
        """A Label Studio config, a COCO file or a text file: preview its classes, add them."""
        path = ask_class_file(self.window())
        if not path:
            return
        try:
            entries: ClassList = read_class_list(path)
        except GroundlabelError as exc:
            self.error.emit(str(exc))
            return
        classes = ask_class_list(self.window(), self.existing(), entries, Path(path).name)
        if classes:
            self.classes_requested.emit(classes)

    def request_rename(self) -> None:
        record = self.current_record()
        if record is None:
            return
        name = ask_text(self, "Rename class", f"New name for “{record.name}”:", record.name)
        if name and name != record.name:
            self.rename_requested.emit(record.id, name)

    def request_aliases(self) -> None:
        record = self.current_record()
        if record is None:
            return
        text = ask_text(
            self,
            "Class aliases",
            f"Phrases the detector looks for as “{record.name}”, separated by '|' (empty: the name):",
            " | ".join(record.aliases),
        )
        if text is not None:
            self.aliases_requested.emit(record.id, [a.strip() for a in text.split("|") if a.strip()])

    def request_colour(self) -> None:
        record = self.current_record()
        if record is None:
            return
        colour = ask_colour(self, record.colour)
        if colour and colour != record.colour:
            self.colour_requested.emit(record.id, colour)

    def request_delete(self) -> None:
        record = self.current_record()
        if record is None:
            return
        count = self.box_count(record.id)
        text = f"Delete the class “{record.name}”?"
        if count:
            text += f"\n\n{count:,} box(es) use it and will be deleted with it (Undo brings them back)."
        if confirm(self, "Delete class", text):
            self.delete_requested.emit(record.id)
