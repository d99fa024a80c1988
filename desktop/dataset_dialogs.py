"""Export and import dialogs over ``groundlabel.formats`` and ``groundlabel.project.exchange``.

The dialogs only collect choices; the work is the same code ``groundlabel export`` and
``groundlabel import`` run, on a background thread with a progress dialog.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from groundlabel.desktop.tasks import run_with_progress
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from groundlabel.errors import GroundlabelError
from groundlabel.formats.export_job import is_single_file
from groundlabel.formats.names import DEFAULT_IMAGE_MODE, FORMAT_NAMES, IMAGE_MODES
from groundlabel.formats.splits import Split, parse_splits
from groundlabel.formats.staging import check_output_folder
from groundlabel.project import BoxStatus, ImageState, ReviewProject

if TYPE_CHECKING:
    from collections.abc import Callable

    from groundlabel.desktop.main_window import MainWindow
    from groundlabel.desktop.session import ProjectSession

    from groundlabel.formats.export_job import ExportOutcome
    from groundlabel.project.exchange import ExportReport, ImportReport

FORMAT_LABELS = {
    "coco": "COCO (JSON)",
    "voc": "Pascal VOC (XML)",
    "yolo": "YOLO (Ultralytics)",
    "hf": "Hugging Face datasets (imagefolder)",
    "labelstudio": "Label Studio (JSON)",
}


def _path_row(edit: QLineEdit, browse: Callable[[], None]) -> QWidget:
    row = QWidget()
    layout = QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    button = QPushButton("Browse…")
    button.clicked.connect(browse)
    layout.addWidget(edit)
    layout.addWidget(button)
    return row


def _ok_cancel(dialog: QDialog, ok_text: str) -> QDialogButtonBox:
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
    buttons.button(QDialogButtonBox.StandardButton.Ok).setText(ok_text)
    buttons.accepted.connect(dialog.accept)
    buttons.rejected.connect(dialog.reject)
    return buttons


def _format_combo(chosen: str) -> QComboBox:
    combo = QComboBox()
    for name in FORMAT_NAMES:
        combo.addItem(FORMAT_LABELS.get(name, name), name)
    combo.setCurrentIndex(max(combo.findData(chosen), 0))
    return combo


IMAGE_MODE_LABELS = {
    "hardlink": "Hard links (no extra space; copies where the disk cannot link)",
    "copy": "Copies (portable, uses space)",
    "symlink": "Symbolic links (no space; break if the folder moves)",
    "none": "No images (annotations only)",
}


class ExportDialog(QDialog):
    """Format, output, split, images and which images; Enter exports. ``finished_export`` carries the summary."""

    finished_export = Signal(str)
    failed = Signal(str)

    def __init__(self, project: ReviewProject, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.project = project
        self.setWindowTitle("Export dataset")
        chosen = project.get_setting("export_format", "coco")
        self.format = _format_combo(chosen)
        self.output = QLineEdit(project.get_setting("export_output", str(project.root / "export")))
        self.images = QComboBox()
        self.images.addItem("Reviewed images only", "reviewed")
        self.images.addItem("Every image", "all")
        self.split = QLineEdit(project.get_setting("export_split", ""))
        self.split.setPlaceholderText("train=0.8,val=0.2  (empty: one split, train)")
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setValue(int(project.get_setting("export_seed", 0)))
        self.image_mode = QComboBox()
        for mode in IMAGE_MODES:
            self.image_mode.addItem(IMAGE_MODE_LABELS[mode], mode)
        self.image_mode.setCurrentIndex(
            max(self.image_mode.findData(project.get_setting("export_image_mode", DEFAULT_IMAGE_MODE)), 0)
        )
        self.ls_predictions = QCheckBox("Label Studio: put the boxes in as predictions")
        self.coco_masks = QComboBox()  # see groundlabel.formats.coco for why polygons by default
        self.coco_masks.addItem("Polygons (what COCO trainers read)", "polygons")
        self.coco_masks.addItem("RLE (exact pixels)", "rle")
        self.coco_masks.setCurrentIndex(
            max(self.coco_masks.findData(project.get_setting("export_coco_masks", "polygons")), 0)
        )
        counts = project.state_counts()
        reviewed = counts[ImageState.REVIEWED] + counts[ImageState.REVIEWED_EMPTY]
        form = QFormLayout(self)
        form.addRow(QLabel(f"{reviewed:,} of {sum(counts.values()):,} images are reviewed. Accepted and "
                           "hand-drawn boxes are exported; pending and rejected ones never."))  # fmt: skip
        form.addRow("Format", self.format)
        form.addRow("Output", _path_row(self.output, self._browse))
        form.addRow("Include", self.images)
        form.addRow("Split", self.split)
        form.addRow("Seed", self.seed)
        form.addRow("Image files", self.image_mode)
        form.addRow("&Masks (COCO)", self.coco_masks)
        form.addRow(self.ls_predictions)
        form.addRow(_ok_cancel(self, "Export"))
        self.task = None

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export into folder", self.output.text())
        if folder:
            self.output.setText(folder)

    def accept(self) -> None:
        out = Path(self.output.text().strip()).expanduser()
        if not self.output.text().strip():
            self.failed.emit("Choose an output folder")
            return
        try:
            splits = parse_splits(self.split.text())
            if not is_single_file(self.format.currentData(), out):
                check_output_folder(out)
        except GroundlabelError as exc:
            self.failed.emit(str(exc))  # the dialog stays open to fix the entry
            return
        super().accept()
        self.start(
            self.format.currentData(),
            out,
            self.images.currentData(),
            self.ls_predictions.isChecked(),
            splits=splits,
            seed=self.seed.value(),
            image_mode=self.image_mode.currentData(),
            coco_masks=self.coco_masks.currentData(),
        )

    def start(
        self,
        format_name: str,
        out: Path,
        images: str,
        ls_predictions: bool = False,
        *,
        splits: list[Split] | None = None,
        seed: int = 0,
        image_mode: str = DEFAULT_IMAGE_MODE,
        coco_masks: str = "polygons",
    ) -> None:
        from groundlabel.formats.export_job import export_dataset
        from groundlabel.formats.labelstudio import DEFAULT_URL_PREFIX
        from groundlabel.project.exchange import project_dataset

        project = self.project
        project.set_setting("export_format", format_name)
        project.set_setting("export_output", str(out))
        project.set_setting("export_split", self.split.text().strip())
        project.set_setting("export_seed", seed)
        project.set_setting("export_image_mode", image_mode)
        project.set_setting("export_coco_masks", coco_masks)
        total = len(project.images(state=None if images == "all" else ("reviewed", "reviewed-empty")))
        options = {}
        if format_name == "labelstudio":
            options = {"as_predictions": ls_predictions, "url_prefix": DEFAULT_URL_PREFIX}
        elif format_name == "coco":
            options = {"coco_masks": coco_masks}

        def job(tick: Callable[[], None]) -> tuple[ExportReport, ExportOutcome]:
            report = project_dataset(project, images, progress=tick)
            outcome = export_dataset(
                report.dataset,
                out,
                format_name,
                project.root,
                splits=splits,
                seed=seed,
                image_mode=image_mode,
                options=options,
            )
            return report, outcome

        def done(result: tuple[ExportReport, ExportOutcome]) -> None:
            report, outcome = result
            dataset = report.dataset
            boxes = sum(len(i.boxes) for i in dataset.images)
            per_split = ", ".join(f"{s}: {len(dataset.split_images(s))}" for s in dataset.splits)
            text = (
                f"Exported {len(dataset.images)} image(s) ({per_split}), {boxes} box(es) as {format_name} "
                f"to {out}"
            )
            skipped = report.failures + outcome.skipped
            if skipped:
                text += "; skipped: " + ", ".join(p for p, _ in skipped)
            if outcome.warnings:
                text += "; " + "; ".join(outcome.warnings)
            self.finished_export.emit(text)

        self.task = run_with_progress(self.parentWidget(), "Exporting", total, job, done, self.failed.emit)


class ImportDialog(QDialog):
    """Format, source file or folder, and the status imported boxes get."""

    finished_import = Signal(str)
    failed = Signal(str)

    def __init__(self, project: ReviewProject, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.project = project
        self.setWindowTitle("Import annotations")
        self.format = _format_combo("coco")
        self.source = QLineEdit()
        self.status = QComboBox()
        self.status.addItem("Scored predictions pending, labelled boxes accepted", None)
        self.status.addItem("All pending (to review)", "pending")
        self.status.addItem("All accepted", "accepted")
        form = QFormLayout(self)
        form.addRow(QLabel("The whole file is checked first: one bad entry stops the import and nothing "
                           "is written. An import cannot be undone."))  # fmt: skip
        form.addRow("Format", self.format)
        form.addRow("File or folder", _path_row(self.source, self._browse))
        form.addRow("Boxes", self.status)
        form.addRow(_ok_cancel(self, "Import"))
        self.task = None

    def _browse(self) -> None:
        if self.format.currentData() in ("coco", "labelstudio"):
            path, _ = QFileDialog.getOpenFileName(self, "Import file", "", "JSON (*.json);;All files (*)")
        else:
            path = QFileDialog.getExistingDirectory(self, "Import folder")
        if path:
            self.source.setText(path)

    def accept(self) -> None:
        if not self.source.text().strip():
            self.failed.emit("Choose the file or folder to import")
            return
        super().accept()
        status = self.status.currentData()  # a plain str: Qt does not keep the enum type
        source = Path(self.source.text().strip()).expanduser()
        self.start(self.format.currentData(), source, BoxStatus(status) if status else None)

    def start(self, format_name: str, source: Path, status: BoxStatus | None = None) -> None:
        from groundlabel.formats.registry import get_format
        from groundlabel.project.exchange import import_dataset

        project = self.project

        def job(tick: Callable[[], None]) -> ImportReport:
            dataset = get_format(format_name).read(source, None)
            return import_dataset(project, dataset, status, progress=tick)

        def done(report: ImportReport) -> None:
            text = f"Imported {report.images} image(s), {report.boxes} box(es) from {source}"
            if report.duplicates:
                text += f", {report.duplicates} already there"
            if report.classes_added:
                text += f"; new classes: {', '.join(report.classes_added)}"
            self.finished_import.emit(text)

        self.task = run_with_progress(self.parentWidget(), "Importing", 0, job, done, self.failed.emit)


def run_export_dialog(window: MainWindow, project: ReviewProject) -> ExportDialog:
    """Open the export dialog window-modal (not blocking); the result goes to the status bar."""
    dialog = ExportDialog(project, window)
    dialog.finished_export.connect(window.report_done)
    dialog.failed.connect(window.report_error)
    dialog.open()
    return dialog


def run_import_dialog(window: MainWindow, session: ProjectSession) -> ImportDialog:
    dialog = ImportDialog(session.project, window)
    dialog.finished_import.connect(window.report_done)
    dialog.failed.connect(window.report_error)
    dialog.open()
    return dialog
