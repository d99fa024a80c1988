"""Review → Report: the plots of ``groundlabel report`` in a scrollable dialog.

Reading the project and drawing the plots runs on a thread (``tasks.run_with_progress``);
the dialog only shows the finished PNGs."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QScrollArea, QVBoxLayout, QWidget

from groundlabel.project import ReviewProject


class ReportDialog(QDialog):
    def __init__(self, plots: list[tuple[str, bytes]], summary: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Review report")
        self.resize(780, 720)
        body = QWidget()
        column = QVBoxLayout(body)
        column.addWidget(QLabel(summary))
        self.pixmaps: list[tuple[str, QPixmap]] = []
        for title, png in plots:
            pixmap = QPixmap()
            pixmap.loadFromData(png, "PNG")
            self.pixmaps.append((title, pixmap))
            heading = QLabel(f"<b>{title}</b>")
            picture = QLabel()
            picture.setPixmap(pixmap)
            column.addWidget(heading)
            column.addWidget(picture)
        scroll = QScrollArea()
        scroll.setWidget(body)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(scroll)
        layout.addWidget(buttons)


def report_job(project: ReviewProject) -> Callable[[Callable[[], None]], tuple[list[tuple[str, bytes]], str]]:
    def job(tick: Callable[[], None]) -> tuple[list[tuple[str, bytes]], str]:
        from groundlabel.report.data import gather
        from groundlabel.report.plots import report_plots

        data = gather(project)
        tick()
        plots = report_plots(data)
        tick()
        summary = f"{data.reviewed} of {data.total_images} image(s) reviewed in {data.folder}"
        return plots, summary

    return job


def run_report_dialog(parent: QWidget, project: ReviewProject, on_error: Callable[[str], None]) -> object:
    """Start drawing; the dialog opens when the plots are ready. Returns the background task."""
    from groundlabel.desktop.tasks import run_with_progress

    def show(result: tuple[list[tuple[str, bytes]], str]) -> None:
        parent.report_dialog = ReportDialog(*result, parent=parent)
        parent.report_dialog.show()

    return run_with_progress(parent, "Drawing the review report", 2, report_job(project), show, on_error)
