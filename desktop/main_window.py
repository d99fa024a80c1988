"""The main window: layout, menus and actions; the work happens in the controller.

Actions come from ``desktop.shortcuts.SHORTCUTS`` (the help overlay reads the same
table). Each action calls one controller or detection-control method.
"""

from __future__ import annotations

from pathlib import Path

from groundlabel.desktop.app_settings import AppSettings
from groundlabel.desktop.canvas import ImageCanvas
from groundlabel.desktop.class_thresholds_editor import ClassThresholdsEditor
from groundlabel.desktop.classes_panel import ClassesPanel
from groundlabel.desktop.controller import ReviewController
from groundlabel.desktop.detection_control import DetectionControl, DetectionProgress
from groundlabel.desktop.file_list import FileListPanel
from groundlabel.desktop.help_overlay import HelpOverlay
from groundlabel.desktop.mask_control import MaskControl
from groundlabel.desktop.model_banner import ModelBanner
from groundlabel.desktop.session import ProjectSession
from groundlabel.desktop.settings_dialog import SettingsDialog
from groundlabel.desktop.shortcuts import SHORTCUTS
from groundlabel.desktop.tasks import cancel_running
from groundlabel.desktop.track_control import TrackControl
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence, QShowEvent
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QSlider,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from groundlabel.project.thresholds import auto_accept_precision, load_thresholds

QUIT_WAIT_MS = 500  # the detection thread gets this long to finish its image when the window closes


def choose_from_menu(menu: QMenu, pos: QPoint) -> QAction | None:
    """Run a popup menu; module-level so tests can pick an entry instead."""
    return menu.exec(pos)


def choose_directory(parent: QWidget, title: str) -> str:
    """A folder from the user ("" if cancelled); module-level so tests can answer."""
    return QFileDialog.getExistingDirectory(parent, title)


def show_error(parent: QWidget, text: str) -> None:
    """A user error as a dialog; module-level so tests can collect messages instead."""
    QMessageBox.warning(parent, "groundlabel", text)


class MainWindow(QMainWindow):
    def __init__(
        self,
        settings: AppSettings | None = None,
        model: str | None = None,
        device: str | None = None,
        mask_model: str | None = None,
    ):
        super().__init__()
        self.setWindowTitle("groundlabel review")
        self.setAcceptDrops(True)
        self.app_settings = settings or AppSettings()
        self._cli_model, self._cli_device = model, device
        self._model_in_use: tuple[str, str] | None = None
        self.errors: list[str] = []  # every message shown, newest last (tests read it)
        self.done_messages: list[str] = []
        self.dialog: QWidget | None = None  # the open export/import dialog
        self.background_running = False  # set on close: work left running that quitting must not join

        self.canvas = ImageCanvas()
        self.files = FileListPanel()
        self.classes = ClassesPanel()
        self.model_banner = ModelBanner()  # a missing model: never a modal box
        central = QWidget()
        column = QVBoxLayout(central)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.model_banner)
        self.mask_banner = ModelBanner(heading=ModelBanner.MASKS, name="maskBanner")
        column.addWidget(self.mask_banner)
        column.addWidget(self.canvas, 1)
        self.setCentralWidget(central)
        self._docks = [
            self._dock("Images", self.files, Qt.DockWidgetArea.LeftDockWidgetArea),
            self._dock("Classes", self.classes, Qt.DockWidgetArea.RightDockWidgetArea),
        ]

        self.controller = ReviewController(self.canvas, self.files, self.classes)
        self.progress = DetectionProgress()
        self.detection = DetectionControl(self.progress, self)
        self.model_label = QLabel("No model loaded")
        self.statusBar().addPermanentWidget(self.progress)
        self.statusBar().addPermanentWidget(self.model_label)
        self.help = HelpOverlay(self)
        self.masks = MaskControl(self.controller, self.mask_banner, self.app_settings, self)
        self.tracks = TrackControl(self.controller, self.app_settings, self)  # a video's frames
        column.addWidget(self.tracks.timeline)  # under the canvas
        self.tracks.attach_dock(
            self._dock("Tracks", self.tracks.panel, Qt.DockWidgetArea.RightDockWidgetArea)
        )

        self.actions_by_name: dict[str, QAction] = {}
        self._build_actions()
        self._build_menus_and_toolbar()

        self.controller.message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        self.controller.error.connect(self.report_error)
        self.controller.project_opened.connect(self._on_project_opened)
        self.controller.image_shown.connect(self._on_image_shown)
        self.detection.model_status.connect(self.model_label.setText)
        self.detection.model_problem.connect(self._on_model_problem)
        self.model_banner.choose_requested.connect(self.edit_settings)
        self.model_banner.folder_requested.connect(self.choose_model_folder)
        self.model_banner.retry_requested.connect(self.detection.load_model)
        self.detection.message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        self.detection.error.connect(self.report_error)
        self.detection.image_failed.connect(self._on_image_failed)
        self.masks.message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        self.tracks.message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        self.tracks.error.connect(self.report_error)
        self.tracks.model_choice = self.detection.model_choice
        self.mask_banner.choose_requested.connect(self.edit_settings)
        self.mask_banner.folder_requested.connect(self.choose_mask_folder)
        self.mask_banner.retry_requested.connect(self.masks.load_model)
        self._restore_window()
        if mask_model is not None:
            self.app_settings.set_mask_model(mask_model)
        self.masks.load_model()

    # -- building ----------------------------------------------------------------------------
    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock_{title.lower()}")
        dock.setWidget(widget)
        dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
        )
        self.addDockWidget(area, dock)
        return dock

    def _build_actions(self) -> None:
        c, d, t = self.controller, self.detection, self.tracks
        handlers = {
            "open": self.choose_folder,
            "export": self.export_dataset,
            "import": self.import_annotations,
            "settings": self.edit_settings,
            "add_classes": self.add_classes,
            "quit": self.close,
            "detect_current": lambda: d.detect([c.current_id] if c.current_id is not None else []),
            "detect_selection": lambda: d.detect(self.files.selected_ids()),
            "detect_remaining": lambda: d.detect(d.remaining_ids()),
            "find_similar": lambda: d.find_similar(self.canvas.selected_ids()),
            "next_image": lambda: c.go_step(1),
            "prev_image": lambda: c.go_step(-1),
            "next_unreviewed": c.go_next_unreviewed,
            "next_box": lambda: self.canvas.select_step(1),
            "prev_box": lambda: self.canvas.select_step(-1),
            "search": self._focus_search,
            "zoom_in": self.canvas.zoom_in,
            "zoom_out": self.canvas.zoom_out,
            "zoom_fit": self.canvas.fit,
            "zoom_actual": self.canvas.zoom_actual,
            "toggle_rejected": self.toggle_rejected,
            "toggle_masks": self.toggle_masks,
            "refine_selected": self.masks.refine_selected,
            "refine_accepted": self.masks.refine_accepted,
            "points_tool": lambda: self.set_tool("points"),
            "brush_tool": lambda: self.set_tool("brush"),
            "eraser_tool": lambda: self.set_tool("eraser"),
            "box_tool": lambda: self.set_tool("box"),
            "brush_bigger": lambda: self.masks.set_brush_radius(1.25),
            "brush_smaller": lambda: self.masks.set_brush_radius(0.8),
            "help": self.help.toggle,
            "accept": lambda: t.accept() or c.accept(),  # a video's selected track, else the boxes
            "reject": lambda: t.reject() or c.reject(),
            "prev_frame": lambda: t.step(-1),
            "next_frame": lambda: t.step(1),
            "prev_keyframe": lambda: t.step_keyframe(-1),
            "next_keyframe": lambda: t.step_keyframe(1),
            "next_unreviewed_track": t.next_unreviewed,
            "split_track": t.split,
            "propagate": lambda: t.propagate("both"),
            "track_video": t.track_video,
            "play_pause": t.player.toggle,
            "delete": lambda: c.delete(),
            "accept_all": c.accept_all_above,
            "reject_all": c.reject_all,
            "mark_reviewed": c.mark_reviewed_and_next,
            "mark_empty": c.mark_empty,
            "pick_class": self.pick_class,
            "undo": self.undo,
            "redo": self.redo,
        }
        for name, shortcut in SHORTCUTS.items():
            action = QAction(shortcut.description, self)
            action.setShortcuts([QKeySequence(k) for k in shortcut.keys])
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            action.triggered.connect(handlers[name])
            self.addAction(action)
            self.actions_by_name[name] = action
        for number in range(1, 10):
            action = QAction(f"Class {number}", self)
            action.setShortcut(QKeySequence(str(number)))
            action.triggered.connect(lambda checked=False, i=number - 1: c.set_class(i))
            self.addAction(action)
            self.actions_by_name[f"class_{number}"] = action
        import_classes = QAction("Import &classes…", self)
        import_classes.setStatusTip("Classes from a Label Studio config, a COCO file or a text file")
        import_classes.triggered.connect(self.import_classes)
        self.actions_by_name["import_classes"] = import_classes

    def _build_menus_and_toolbar(self) -> None:
        a = self.actions_by_name
        menu = self.menuBar()
        file_menu = menu.addMenu("&File")
        file_menu.addAction(a["open"])
        self.recent_menu = file_menu.addMenu("Open &recent")
        self._fill_recent()
        for name in ("import", "export", "add_classes", "import_classes", "settings", "quit"):
            file_menu.addAction(a[name])
        edit_menu = menu.addMenu("&Edit")
        for name in ("undo", "redo", "accept", "reject", "delete", "accept_all", "reject_all", "pick_class"):
            edit_menu.addAction(a[name])
        detect_menu = menu.addMenu("&Detect")
        for name in ("detect_current", "detect_selection", "detect_remaining", "find_similar"):
            detect_menu.addAction(a[name])
        review_menu = menu.addMenu("&Review")
        for name in ("mark_reviewed", "mark_empty", "next_unreviewed", "next_image", "prev_image"):
            review_menu.addAction(a[name])
        video_menu = review_menu.addMenu("&Video")
        for name in ("prev_frame", "next_frame", "prev_keyframe", "next_keyframe", "next_unreviewed_track"):
            video_menu.addAction(a[name])
        for name in ("split_track", "propagate", "track_video", "play_pause"):
            video_menu.addAction(a[name])
        review_menu.addSeparator()
        self.report_action = review_menu.addAction("Re&port…", self.show_report)
        self.train_action = review_menu.addAction("&Train…", self.train_detector)
        masks_menu = menu.addMenu("&Masks")
        for name in ("refine_selected", "refine_accepted", "points_tool", "brush_tool", "eraser_tool"):
            masks_menu.addAction(a[name])
        for name in ("box_tool", "brush_bigger", "brush_smaller"):
            masks_menu.addAction(a[name])
        view_menu = menu.addMenu("&View")
        for name in (
            "zoom_in",
            "zoom_out",
            "zoom_fit",
            "zoom_actual",
            "toggle_rejected",
            "toggle_masks",
            "help",
        ):
            view_menu.addAction(a[name])

        toolbar = QToolBar("Review", self)
        toolbar.setObjectName("reviewToolbar")
        self.addToolBar(toolbar)
        labels = {
            "open": "Open",
            "detect_current": "Detect",
            "detect_remaining": "Detect all",
            "accept_all": "Accept all ≥",
            "mark_reviewed": "Reviewed ▶",
            "mark_empty": "Empty",
            "undo": "Undo",
            "redo": "Redo",
            "help": "Help",
        }
        for name, text in labels.items():
            a[name].setIconText(text)
            toolbar.addAction(a[name])
            if name == "detect_remaining":
                toolbar.addSeparator()
                toolbar.addWidget(QLabel(" Min score "))
                self.score_slider = QSlider(Qt.Orientation.Horizontal)
                self.score_slider.setObjectName("scoreSlider")
                self.score_slider.setRange(0, 100)
                self.score_slider.setMaximumWidth(160)
                self.score_label = QLabel("0.00")
                self.score_slider.valueChanged.connect(self._on_score_slider)
                toolbar.addWidget(self.score_slider)
                toolbar.addWidget(self.score_label)
        self._update_undo_actions()

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        folders = self.app_settings.recent_folders()
        for folder in folders:
            action = self.recent_menu.addAction(folder)
            action.triggered.connect(lambda checked=False, f=folder: self.open_folder(f))
        self.recent_menu.setEnabled(bool(folders))

    # -- project -------------------------------------------------------------------------------
    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a folder of images")
        if folder:
            self.open_folder(folder)

    def open_folder(self, folder: str | Path, video: str | Path | None = None) -> bool:
        """Open ``folder``'s project (its videos registered); with ``video``, show that clip."""
        if self.detection.busy:
            self.detection.cancel()
        if not self.controller.open_folder(folder, video):
            return False
        self.app_settings.add_recent_folder(folder)
        self._fill_recent()
        return True

    def _on_project_opened(self, session: ProjectSession) -> None:
        self.setWindowTitle(f"groundlabel review — {session.project.root}")
        session.undo_stack.canUndoChanged.connect(lambda _: self._update_undo_actions())
        session.undo_stack.canRedoChanged.connect(lambda _: self._update_undo_actions())
        self._update_undo_actions()
        self.score_slider.blockSignals(True)
        self.score_slider.setValue(round(self.controller.min_score * 100))
        self.score_label.setText(f"{self.controller.min_score:.2f}")
        self.score_slider.blockSignals(False)
        self.canvas.set_min_score(self.controller.min_score)
        # The command line's model (or, for a folder without a remembered model, the one in use)
        # becomes this project's choice; a project that remembers its own keeps it.
        model, device = self._cli_model, self._cli_device
        if model is None and session.project.model is None and self._model_in_use is not None:
            model, device = self._model_in_use
        self.detection.attach(session.project, model, device)
        self._cli_model = self._cli_device = None
        self._model_in_use = self.detection.model_choice()

    def _on_model_problem(self, reason: str | None) -> None:
        if reason is None:
            self.model_banner.hide()
        else:
            self.model_banner.show_problem(reason)

    def _on_image_shown(self, image_id: int) -> None:
        project = self.controller.project
        if project is not None:
            self.statusBar().showMessage(project.image(image_id).path)

    def _on_image_failed(self, image_id: int, reason: str) -> None:
        self.files.model.set_error(image_id, reason)
        self.statusBar().showMessage(f"Skipped an unreadable image: {reason}", 8000)

    def report_error(self, text: str) -> None:
        self.errors.append(text)
        show_error(self, text)

    def report_done(self, text: str) -> None:
        """A finished export or import: the summary stays in the status bar."""
        self.done_messages.append(text)
        self.statusBar().showMessage(text, 20000)

    # -- actions -------------------------------------------------------------------------------
    def undo(self) -> None:
        if self.controller.session is not None:
            self.controller.session.undo_stack.undo()

    def redo(self) -> None:
        if self.controller.session is not None:
            self.controller.session.undo_stack.redo()

    def _update_undo_actions(self) -> None:
        session = self.controller.session
        stack = session.undo_stack if session is not None else None
        self.actions_by_name["undo"].setEnabled(bool(stack and stack.canUndo()))
        self.actions_by_name["redo"].setEnabled(bool(stack and stack.canRedo()))

    def _on_score_slider(self, value: int) -> None:
        self.score_label.setText(f"{value / 100:.2f}")
        self.controller.set_min_score(value / 100)

    def toggle_rejected(self) -> None:
        mode = "hide" if self.canvas.rejected_mode() == "dim" else "dim"
        self.canvas.set_rejected_mode(mode)
        self.statusBar().showMessage(f"Rejected boxes: {'hidden' if mode == 'hide' else 'dimmed'}", 4000)

    def toggle_masks(self) -> None:
        on = not self.canvas.masks_visible()
        self.canvas.set_masks_visible(on)
        self.statusBar().showMessage(f"Masks: {'shown' if on else 'hidden'} (M)", 4000)

    def set_tool(self, tool: str) -> None:
        self.canvas.set_tool(tool)
        hints = {
            "box": "Box tool: drag to draw, click to select",
            "points": "Point tool: click inside the object (+), Shift+click outside it (−); Escape: box tool",
            "brush": "Brush: drag to paint the box's mask ([ ] size); Escape: box tool",
            "eraser": "Eraser: drag to erase from the box's mask ([ ] size); Escape: box tool",
        }
        self.statusBar().showMessage(hints[tool], 8000)

    def choose_mask_folder(self) -> None:
        """The mask banner's "Model folder…": a SAM folder saved with ``save_pretrained``."""
        folder = choose_directory(self, "Choose a mask model folder (SAM, SAM-HQ, SAM 2.1)")
        if folder:
            self.app_settings.set_mask_model(folder)
            self.masks.load_model()

    def pick_class(self) -> None:
        """A quick menu of classes at the cursor: relabels the selection, or sets the class for new boxes."""
        records = self.classes.classes()
        if not records:
            self.report_error("There are no classes yet: add one in the Classes panel.")
            return
        menu = QMenu(self)
        for index, record in enumerate(records):
            action = menu.addAction(f"&{index + 1}  {record.name}" if index < 9 else record.name)
            action.setData(index)
        chosen = choose_from_menu(menu, self.cursor().pos())
        if chosen is not None:
            self.controller.set_class(int(chosen.data()))

    def _focus_search(self) -> None:
        self.files.search.setFocus()
        self.files.search.selectAll()

    def edit_settings(self) -> None:
        if self.controller.project is None:
            self.report_error("Open a folder first: settings are kept per project.")
            return
        model, device = self.detection.model_choice()
        current = self.detection.settings()
        project = self.controller.project
        editor = ClassThresholdsEditor(
            [c.name for c in project.classes()], load_thresholds(project), auto_accept_precision(project),
            current.box_threshold,
        )  # fmt: skip
        mask_model = self.app_settings.mask_model()
        dialog = SettingsDialog(
            model, device, current.box_threshold, current.text_threshold, self, editor, mask_model
        )
        if dialog.exec():
            chosen = dialog.mask_model_value()
            if chosen is not None and chosen != mask_model:
                self.app_settings.set_mask_model(chosen)
                self.masks.load_model()
            self.detection.apply_settings(*dialog.values())
            self.detection.apply_class_thresholds(editor.thresholds(), editor.auto_accept_value())
            self._model_in_use = self.detection.model_choice()

    def choose_model_folder(self) -> None:
        """The banner's "Model folder…": a folder written by ``save_pretrained`` becomes the model."""
        if self.controller.project is None:
            self.report_error("Open a folder first: the model is kept per project.")
            return
        folder = choose_directory(self, "Choose a model folder (saved with save_pretrained)")
        if folder:
            current, device = self.detection.settings(), self.detection.model_choice()[1]
            self.detection.apply_settings(folder, device, current.box_threshold, current.text_threshold)
            self._model_in_use = self.detection.model_choice()

    def add_classes(self) -> None:
        if self.controller.project is None:
            self.report_error("Open a folder first: classes are kept per project.")
            return
        self.classes.request_add()

    def import_classes(self) -> None:
        if self.controller.project is None:
            self.report_error("Open a folder first: classes are kept per project.")
            return
        self.classes.request_import()

    def show_report(self) -> None:
        """Review → Report: the plots of ``groundlabel report``, drawn off the GUI thread."""
        from groundlabel.desktop.report_dialog import run_report_dialog

        if self.controller.project is None:
            self.report_error("Open a folder first.")
            return
        self.dialog = run_report_dialog(self, self.controller.project, self.report_error)

    def train_detector(self) -> None:
        """Review → Train…: a detector from the reviewed images, then pre-label the rest with it."""
        from groundlabel.desktop.train_dialog import TrainDialog

        if self.controller.project is None:
            self.report_error("Open a folder first.")
            return
        self.train_dialog = TrainDialog(self.controller.project.root, self)
        self.train_dialog.finished_training.connect(self._on_trained)
        self.train_dialog.show()

    def _on_trained(self, result: object) -> None:
        from groundlabel.desktop.train_dialog import offer_prelabel

        from groundlabel.project import ImageState

        project = self.controller.project
        if project is None:
            return
        unreviewed = len(project.images(state=[ImageState.NEW, ImageState.PREDICTED]))
        offer_prelabel(self, result, unreviewed, self.detection.prelabel_with)

    def export_dataset(self) -> None:
        from groundlabel.desktop.dataset_dialogs import run_export_dialog

        if self.controller.project is None:
            self.report_error("Open a folder first.")
            return
        self.dialog = run_export_dialog(self, self.controller.project)

    def import_annotations(self) -> None:
        from groundlabel.desktop.dataset_dialogs import run_import_dialog

        if self.controller.session is None:
            self.report_error("Open a folder first.")
            return
        self.dialog = run_import_dialog(self, self.controller.session)

    # -- window events -------------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        for url in event.mimeData().urls():
            if url.isLocalFile():
                path = Path(url.toLocalFile())
                self.open_folder(path if path.is_dir() else path.parent)
                event.acceptProposedAction()
                return

    def _restore_window(self) -> None:
        geometry, state = self.app_settings.geometry(), self.app_settings.window_state()
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1280, 800)
        if state is not None:
            self.restoreState(state)
        self._sized_docks = state is not None

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._sized_docks:  # first start: narrow side panels, the image gets the room
            self._sized_docks = True
            self.resizeDocks(self._docks, [250, 230], Qt.Orientation.Horizontal)

    def closeEvent(self, event: QCloseEvent) -> None:
        # Quit within 2 s whatever runs in the background (issue 18): every edit is already
        # committed, and a model load or kernel build cannot be cut short, so it is not waited for;
        # ``app.run_app`` then ends the process without joining it.
        self.app_settings.save_window(self.saveGeometry(), self.saveState())
        detection_ended = self.detection.shutdown(QUIT_WAIT_MS)
        jobs_running = cancel_running(self)
        masks_ended = self.masks.shutdown()
        self.controller.shutdown()
        self.background_running = not detection_ended or jobs_running or not masks_ended
        super().closeEvent(event)
