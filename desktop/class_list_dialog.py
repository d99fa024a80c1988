"""The class-list dialog: type (or import) a list, see what will be added, then add it.

Typed text is the ``groundlabel detect --labels`` syntax, read by the same parser
(``groundlabel.class_lists.parse_class_text``), so a list pasted from the command line
gives the same classes here. The table previews every entry before anything is written:
what is added, with its prompt phrases, and what is refused and why (a duplicate names the
class that already holds the name or phrase). The decisions are the core's
``plan_additions``; the dialog only shows them.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QLineEdit,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from groundlabel.class_lists import ClassAddition, ClassList, parse_class_text, plan_additions, prompt_phrases
from groundlabel.errors import LabelSetError
from groundlabel.labels import LabelClass

SYNTAX_HINT = (
    "Commas separate classes; <b>=</b> gives a class the phrases the detector looks for, "
    "separated by <b>|</b> — the same as <code>groundlabel detect --labels</code>. "
    "A pasted block with one class per line works too."
)
EXAMPLE = "cup=mug, spoon, saucer=plate|dish"


class ClassListDialog(QDialog):
    """Without ``entries``: a line to type a list into. With ``entries`` (an imported file):
    just the preview. ``additions()`` is what OK adds."""

    def __init__(
        self,
        existing: Sequence[LabelClass],
        parent: QWidget | None = None,
        entries: ClassList | None = None,
        source: str | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("classListDialog")
        self.existing = list(existing)
        self._imported = entries
        self._plan: list[ClassAddition] = []
        self.setWindowTitle(f"Import classes from {source}" if source else "Add classes")
        self.resize(560, 380)
        layout = QVBoxLayout(self)
        self.text = QLineEdit()
        self.text.setObjectName("classListText")
        self.text.setPlaceholderText(EXAMPLE)
        if entries is None:
            hint = QLabel(SYNTAX_HINT)
            hint.setWordWrap(True)
            layout.addWidget(QLabel("Classes to add:"))
            layout.addWidget(self.text)
            layout.addWidget(hint)
        else:
            self.text.hide()
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["Class", "Prompt phrases", "Result"])
        self.table.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # Tab and Return stay with the text
        layout.addWidget(self.table)
        self.summary = QLabel()
        self.summary.setObjectName("classListSummary")
        self.summary.setWordWrap(True)
        layout.addWidget(self.summary)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setDefault(True)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.text.textChanged.connect(self._update)
        self._update()
        if entries is None:
            self.text.setFocus()

    def _update(self) -> None:
        problems: list[str] = []
        if self._imported is not None:
            entries, problems = list(self._imported.classes), list(self._imported.problems)
        elif not self.text.text().strip():
            entries = []
        else:
            try:
                entries = list(parse_class_text(self.text.text()))
            except LabelSetError as exc:
                entries, problems = [], [str(exc)]
        self._plan = plan_additions(self.existing, entries)
        self.table.setRowCount(len(self._plan))
        for row, item in enumerate(self._plan):
            result = "add" if item.added else f"refused: {item.refused}"
            cells = [item.cls.name, prompt_phrases(item.cls), result]
            for column, text in enumerate(cells):
                cell = QTableWidgetItem(text)
                cell.setToolTip(text)
                if not item.added:
                    cell.setForeground(QColor("#a33"))
                self.table.setItem(row, column, cell)
        self.table.resizeColumnsToContents()
        count = len(self.additions())
        self.ok_button.setText(f"Add {count} class{'' if count == 1 else 'es'}")
        self.ok_button.setEnabled(count > 0)
        refused = len(self._plan) - count
        lines = []
        if self._plan:
            lines.append(f"{count} to add" + (f", {refused} refused (shown in red)" if refused else ""))
        lines.extend(problems)
        if not self._plan and not problems:
            lines.append(f"For example: {EXAMPLE}")
        self.summary.setText("\n".join(lines))

    def plan(self) -> list[ClassAddition]:
        return list(self._plan)

    def additions(self) -> list[LabelClass]:
        """The classes OK adds, in list order."""
        return [item.cls for item in self._plan if item.added]

    def accept(self) -> None:
        if self.additions():
            super().accept()


def ask_class_list(
    parent: QWidget,
    existing: Sequence[LabelClass],
    entries: ClassList | None = None,
    source: str | None = None,
) -> list[LabelClass] | None:
    """Run the dialog; the classes to add, or None if cancelled. Module-level so tests can answer."""
    dialog = ClassListDialog(existing, parent, entries, source)
    try:
        return dialog.additions() if dialog.exec() == QDialog.DialogCode.Accepted else None
    finally:
        dialog.deleteLater()
