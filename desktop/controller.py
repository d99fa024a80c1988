"""What the reviewer's keys and clicks mean: edits as project commands, navigation.

The controller sits between the widgets and the ``ProjectSession``. Widgets report user
intents (a box drawn, "accept", a class renamed); the controller turns each into one
undoable ``groundlabel.project`` command; the project's change notification then
refreshes exactly the views that show the changed data. Nothing here paints.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from groundlabel.desktop.box_item import BoxView
from groundlabel.desktop.canvas import ImageCanvas
from groundlabel.desktop.classes_panel import ClassesPanel
from groundlabel.desktop.file_list import AUTO_ACCEPTED_FILTER, MASKS_FILTER, REVIEWED_STATES, FileListPanel
from groundlabel.desktop.frame_files import file_source
from groundlabel.desktop.image_loader import ImageLoader
from groundlabel.desktop.session import ProjectSession
from PySide6.QtCore import QObject, Signal

from groundlabel.class_lists import plan_additions
from groundlabel.errors import GroundlabelError
from groundlabel.labels import LabelClass
from groundlabel.project import (
    AcceptBoxes,
    AddBox,
    AddClass,
    BoxRecord,
    BoxStatus,
    DeleteBoxes,
    DeleteClass,
    ImageRecord,
    ImageState,
    MacroCommand,
    ProjectChange,
    ProjectError,
    RecolourClass,
    RejectBoxes,
    RelabelBoxes,
    RenameClass,
    ReviewProject,
    SetBoxGeometry,
    SetBoxStatus,
    SetClassAliases,
    SetImageState,
)

if TYPE_CHECKING:
    from PySide6.QtGui import QImage

    from groundlabel.project.commands import Command

log = logging.getLogger(__name__)


class ReviewController(QObject):
    """Holds the open project and the current image; every edit goes through ``execute``."""

    message = Signal(str)  # status-bar text
    error = Signal(str)  # a problem the user should read (shown in a dialog)
    project_opened = Signal(object)  # ProjectSession
    image_shown = Signal(object)  # image id or None
    selection_changed = Signal(list)

    def __init__(self, canvas: ImageCanvas, files: FileListPanel, classes: ClassesPanel) -> None:
        super().__init__()
        self.canvas, self.files, self.classes = canvas, files, classes
        self.session: ProjectSession | None = None
        self.current_id: int | None = None
        self.boxes: list[BoxRecord] = []
        self.min_score = 0.0
        self.class_min_scores: dict[str, float] = {}  # per-class thresholds, by class name
        self.loader = ImageLoader(parent=self)
        self.loader.loaded.connect(self._on_image_loaded)
        canvas.box_drawn.connect(self.add_box)
        canvas.box_edited.connect(self.move_box)
        canvas.space_tapped.connect(self.mark_reviewed_and_next)
        canvas.selection_changed.connect(self.selection_changed)
        files.current_image_changed.connect(self.show_image)
        files.filters_changed.connect(self.refresh_filters)
        classes.classes_requested.connect(self.add_classes)
        classes.error.connect(self.error)
        classes.rename_requested.connect(lambda cid, name: self.execute(RenameClass(cid, name)))
        classes.aliases_requested.connect(lambda cid, aliases: self.execute(SetClassAliases(cid, aliases)))
        classes.colour_requested.connect(lambda cid, colour: self.execute(RecolourClass(cid, colour)))
        classes.delete_requested.connect(lambda cid: self.execute(DeleteClass(cid)))
        classes.box_count = self._class_box_count

    # -- project lifecycle ---------------------------------------------------------------
    @property
    def project(self) -> ReviewProject | None:
        return self.session.project if self.session is not None else None

    def open_folder(self, folder: str | Path, video: str | Path | None = None) -> bool:
        """Open (or create) the folder's project; a bad folder is a message, not a crash.

        The folder's video files become rows (``video_scan.add_videos``, once per clip); with
        ``video`` (a clip in the folder) the window starts on its first frame."""
        from groundlabel.project.video_scan import add_videos

        try:
            project = ReviewProject.open(folder)
        except ProjectError as exc:
            self.error.emit(str(exc))
            return False
        try:
            scan = add_videos(project)
        except GroundlabelError as exc:  # the project is usable without its videos
            scan = None
            self.error.emit(str(exc))
        self.close_project()
        self.session = ProjectSession(project, self)
        self.session.changed.connect(self._on_change)
        self.session.error.connect(self.error)
        self.min_score = float(project.get_setting("min_score", 0.0))
        self._load_class_thresholds()
        self.files.set_root(project.root)
        self.files.model.file_of = lambda record, p=project: file_source(p, record)
        self._reload_classes()
        self._reload_files()
        self.project_opened.emit(self.session)
        images = self.files.model.records()
        if not images:
            self.canvas.set_image(None, f"No images found in {project.root}")
            self.message.emit(f"{project.root}: no images (jpg, png, bmp, gif, tif, webp) in this folder")
            return True
        if scan is not None and scan.problems:
            self.error.emit(scan.summary())
        elif scan is not None and scan.added:
            self.message.emit(scan.summary())
        first_frame = self._first_frame_of(project, video) if video is not None else None
        if first_frame is not None and self.files.select_id(first_frame):
            return True
        last = project.get_setting("last_image")
        if not (isinstance(last, int) and self.files.select_id(last)):
            self.files.select_id(images[0].id)
        return True

    @staticmethod
    def _first_frame_of(project: ReviewProject, video: str | Path) -> int | None:
        """The image id of the clip's first frame, None when the project does not list it."""
        from groundlabel.project.video_frames import frame_key

        try:
            name = Path(video).resolve().relative_to(project.root).as_posix()
        except ValueError:
            return None
        for record in project.images():
            if record.path == frame_key(name, 0):
                return record.id
        return None

    def close_project(self) -> None:
        if self.session is None:
            return
        self.loader.wait(30000)  # no pool thread may still use the project's connections
        if self.current_id is not None:
            self._remember("last_image", self.current_id)
        self.session.close()
        self.session.deleteLater()
        self.session = None
        self.current_id = None
        self.boxes = []

    def _remember(self, key: str, value: object) -> None:
        try:
            self.project.set_setting(key, value)
        except ProjectError as exc:
            log.warning("cannot store %s: %s", key, exc)

    # -- edits -----------------------------------------------------------------------------
    def execute(self, command: Command) -> bool:
        if self.session is None:
            return False
        return self.session.execute(command)

    def _ids(self, ids: list | None) -> list[int]:
        return list(self.canvas.selected_ids() if ids is None else ids)

    def accept(self, ids: list | None = None) -> None:
        ids = self._ids(ids)
        if ids:
            self.execute(AcceptBoxes(ids))
        else:
            self.message.emit("Select a box first (click it, or Tab), or Shift+A to accept all")

    def reject(self, ids: list | None = None) -> None:
        ids = self._ids(ids)
        if ids:
            self.execute(RejectBoxes(ids))
        else:
            self.message.emit("Select a box first (click it, or Tab), or Shift+R to reject all")

    def delete(self, ids: list | None = None) -> None:
        ids = self._ids(ids)
        if ids:
            self.execute(DeleteBoxes(ids))

    def _load_class_thresholds(self) -> None:
        """The project's per-class thresholds take the slider's place for their classes."""
        from groundlabel.project.thresholds import load_thresholds

        try:
            self.class_min_scores = load_thresholds(self.project).set()
        except GroundlabelError as exc:
            self.class_min_scores = {}
            self.error.emit(f"The project's per-class thresholds are ignored: {exc}")
        self.canvas.set_class_min_scores(self.class_min_scores)

    def min_score_for(self, class_id: int) -> float:
        """The class's own threshold when per-class thresholds are on, else the slider."""
        record = next((c for c in self.classes.classes() if c.id == class_id), None)
        return self.class_min_scores.get(record.name, self.min_score) if record else self.min_score

    def accept_all_above(self) -> None:
        """Accept pending boxes at or above the score slider (or their class's threshold) and reject
        those below: one undo step."""
        pending = [b for b in self.boxes if b.status == BoxStatus.PENDING]
        above = [b.id for b in pending if b.score is None or b.score >= self.min_score_for(b.class_id)]
        below = [b.id for b in pending if b.score is not None and b.score < self.min_score_for(b.class_id)]
        commands = []
        if above:
            commands.append(SetBoxStatus(above, BoxStatus.ACCEPTED))
        if below:
            commands.append(SetBoxStatus(below, BoxStatus.REJECTED))
        if commands:
            self.execute(MacroCommand(commands, f"accept {len(above)}, reject {len(below)} below the slider"))
        cut = f"{self.min_score:.2f}" + (" or their class threshold" if self.class_min_scores else "")
        self.message.emit(f"Accepted {len(above)} box(es), rejected {len(below)} below {cut}")

    def reject_all(self) -> None:
        pending = [b.id for b in self.boxes if b.status == BoxStatus.PENDING]
        if pending:
            self.execute(SetBoxStatus(pending, BoxStatus.REJECTED, description="reject all"))

    def add_box(self, xyxy: tuple[float, float, float, float]) -> None:
        if self.current_id is None:
            return
        class_id = self.classes.current_id()
        if class_id is None:
            self.error.emit("Add a class first (Classes panel → Add); a new box needs a class.")
            return
        command = AddBox(self.current_id, class_id, xyxy)
        if self.execute(command) and command.box_id is not None:
            self.canvas.select_ids([command.box_id])

    def move_box(self, box_id: int, xyxy: tuple[float, float, float, float]) -> None:
        box = next((b for b in self.boxes if b.id == box_id), None)
        if box is not None and box.track_id is not None and self.project is not None:
            # A tracked box a person moves is set there: a keyframe of its track, which
            # propagation starts from and stops at (the core's ``SetKeyframe``).
            from groundlabel.project.track_edits import SetKeyframe

            try:
                command = SetKeyframe(self.project, box.track_id, box.image_id, xyxy)
            except ProjectError as exc:
                self.error.emit(str(exc))
                return
            self.execute(command)
            return
        self.execute(SetBoxGeometry(box_id, xyxy))

    def set_class(self, index: int) -> None:
        """Number key: relabel the selected boxes, or choose the class for new boxes."""
        records = self.classes.classes()
        if not 0 <= index < len(records):
            self.message.emit(f"There is no class {index + 1}")
            return
        self.classes.set_current_index(index)
        self.relabel(records[index].id)

    def relabel(self, class_id: int, ids: list | None = None) -> None:
        ids = self._ids(ids)
        if ids:
            self.execute(RelabelBoxes(ids, class_id))

    def add_class(self, name: str, aliases: list[str]) -> None:
        if name:
            self.add_classes([LabelClass(name, tuple(aliases))])

    def add_classes(self, classes: list[LabelClass]) -> bool:
        """Add a list as one undo step; a duplicate is refused with the class that holds it."""
        if self.project is None:
            self.error.emit("Open a folder first: classes are kept per project.")
            return False
        existing = [LabelClass(c.name, tuple(c.aliases)) for c in self.project.classes()]
        plan = plan_additions(existing, classes)
        refused = [f"“{p.cls.name}”: {p.refused}" for p in plan if not p.added]
        commands = [AddClass(p.cls.name, list(p.cls.aliases)) for p in plan if p.added]
        if refused:
            self.error.emit("Not added: " + "; ".join(refused))
        if not commands:
            return False
        names = ", ".join(c.name for c in commands)
        command = commands[0] if len(commands) == 1 else MacroCommand(commands, f"add classes {names}")
        if self.execute(command):
            self.message.emit(f"Added {len(commands)} class(es): {names}")
            return True
        return False

    def mark_reviewed_and_next(self) -> None:
        """Space: reviewed (reviewed-empty when nothing would be exported), then the next unreviewed."""
        if self.current_id is None:
            return
        exported = [b for b in self.boxes if b.exported]
        state = ImageState.REVIEWED if exported else ImageState.REVIEWED_EMPTY
        self.execute(SetImageState(self.current_id, state, description=f"mark {state}"))
        undecided = sum(1 for b in self.boxes if b.status == BoxStatus.PENDING)
        if undecided:
            self.message.emit(f"Marked {state}; {undecided} pending box(es) left undecided are not exported")
        self.go_next_unreviewed()

    def mark_empty(self) -> None:
        """E: nothing to find here. Pending proposals are rejected with it (one undo step)."""
        if self.current_id is None:
            return
        if any(b.exported for b in self.boxes):
            self.error.emit("This image has accepted boxes; reject them first to mark it reviewed-empty.")
            return
        pending = [b.id for b in self.boxes if b.status == BoxStatus.PENDING]
        commands = [SetBoxStatus(pending, BoxStatus.REJECTED)] if pending else []
        commands.append(SetImageState(self.current_id, ImageState.REVIEWED_EMPTY))
        self.execute(MacroCommand(commands, "mark reviewed-empty"))
        self.go_next_unreviewed()

    # -- navigation ------------------------------------------------------------------------
    def go_next_unreviewed(self) -> None:
        model = self.files.model
        for image_id in self.files.ids_after(self.current_id):
            record = model.record(model.row_of(image_id))
            if record.state not in REVIEWED_STATES and image_id != self.current_id:
                self.files.select_id(image_id)
                return
        self.message.emit("Every image in the list is reviewed. Export with Ctrl+E.")

    def go_step(self, step: int) -> None:
        target = self.files.neighbour_id(self.current_id, step)
        if target is not None:
            self.files.select_id(target)

    def show_image(self, image_id: int | None) -> None:
        if self.project is None or image_id is None or image_id == self.current_id:
            return
        self.current_id = image_id
        self.boxes = []
        record = self._record(image_id)
        self.canvas.set_image(None, f"Loading {Path(record.path).name} …")
        source = file_source(self.project, record)  # a frame decodes on the loader's thread
        self.loader.request(image_id, source, before=self._image_info_filler(image_id))
        self.image_shown.emit(image_id)
        next_id = self.files.neighbour_id(image_id, 1)
        if next_id is not None and next_id != image_id:
            self.loader.prefetch(next_id, file_source(self.project, self._record(next_id)))

    def _record(self, image_id: int) -> ImageRecord:
        """The file list's snapshot of the image (no query), else the project's row."""
        row = self.files.model.row_of(image_id)
        return self.files.model.record(row) if row is not None else self.project.image(image_id)

    def _image_info_filler(self, image_id: int):
        """Size as shown and content hash, filled lazily on the loader thread (reads the whole file)."""
        project = self.project

        def fill() -> None:
            try:
                project.ensure_image_info(image_id)
            except (GroundlabelError, OSError) as exc:  # the decode reports it to the user
                log.info("image info for #%s: %s", image_id, exc)
            except Exception:  # a bug; the image still shows
                log.exception("image info for #%s failed", image_id)

        return fill

    def _on_image_loaded(self, image_id: int, image: QImage | None, error: str | None) -> None:
        if image_id != self.current_id or self.project is None:
            return
        self.files.model.set_error(image_id, error)
        if error:
            name = self.project.image(image_id).path
            self.canvas.set_image(None, f"⚠ Cannot show {name}\n\n{error}")
            self.message.emit(f"{name}: {error}")
        else:
            self.canvas.set_image(image)
        self.refresh_boxes()
        self.canvas.setFocus()
        # for a terminal (and the real-window tests): which image the keys now act on
        log.debug("shown %s with %d box(es)", self._record(image_id).path, len(self.boxes))

    def refresh_boxes(self) -> None:
        if self.project is None or self.current_id is None:
            return
        try:
            self.boxes = self.project.boxes(self.current_id)
        except ProjectError as exc:
            self.error.emit(str(exc))
            return
        colours = {c.id: c for c in self.classes.classes()}
        views = []
        for box in self.boxes:
            record = colours.get(box.class_id)
            name, colour = (record.name, record.colour) if record else (f"class {box.class_id}", "#ffffff")
            views.append(
                BoxView(
                    box.id,
                    box.xyxy,
                    name,
                    colour,
                    box.score,
                    str(box.status),
                    str(box.source),
                    box.auto_accepted,
                    box.mask,
                )
            )
        views.sort(key=lambda v: (v.score is None, -(v.score or 0)))
        self.canvas.set_boxes(views)

    def set_min_score(self, score: float) -> None:
        self.min_score = score
        self.canvas.set_min_score(score)
        if self.project is not None:
            self._remember("min_score", score)

    # -- project changes -> views ----------------------------------------------------------
    def _on_change(self, change: ProjectChange) -> None:
        if self.project is None:
            return
        if "settings" in change.kinds:
            self._load_class_thresholds()
        if "classes" in change.kinds:
            self._reload_classes()
        if change.kinds & {"images", "boxes"}:
            if change.image_ids and len(change.image_ids) < 200:
                for image_id in change.image_ids:
                    try:
                        self.files.model.update_record(self.project.image(image_id))
                    except ProjectError:
                        self._reload_files()
                        break
            else:
                self._reload_files()
            self._update_counts()
        touches_current = self.current_id in change.image_ids or not change.image_ids
        if ("classes" in change.kinds or touches_current) and change.kinds & {"classes", "boxes"}:
            self.refresh_boxes()

    def _reload_classes(self) -> None:
        records = self.project.classes()
        self.classes.set_classes(records)
        self.files.set_classes([(c.id, c.name) for c in records])

    def _reload_files(self) -> None:
        self.files.model.set_records(self.project.images())
        self.refresh_filters()
        self._update_counts()

    def refresh_filters(self) -> None:
        class_id = self.files.class_filter.currentData()
        allowed = (
            {r.id for r in self.project.images(class_id=class_id)} if class_id and self.project else None
        )
        if self.files.state_filter.currentData() == AUTO_ACCEPTED_FILTER and self.project is not None:
            auto = {r.id for r in self.project.images(auto_accepted=True)}
            allowed = auto if allowed is None else allowed & auto
        if self.files.state_filter.currentData() == MASKS_FILTER:
            with_masks = {r.id for r in self.files.model.records() if r.mask_count}
            allowed = with_masks if allowed is None else allowed & with_masks
        self.files.apply_filters(allowed)

    def _update_counts(self) -> None:
        counts = self.project.state_counts()
        reviewed = sum(counts[s] for s in REVIEWED_STATES)
        self.files.set_counts(reviewed, sum(counts.values()))

    def _class_box_count(self, class_id: int) -> int:
        return len(self.project.boxes_of_class(class_id)) if self.project else 0

    def shutdown(self) -> None:
        self.close_project()
