"""Tracks as the window sees them: the track list, the timeline, track edits and propagation.

When the current image is a video's frame, the track panel lists the video's tracks and the
timeline shows where each one is; a selected track is selected on the canvas on every frame.
Every edit is one of the core's track commands (``groundlabel.project.track_edits``) run
through the controller, so the window's undo takes it back. "Propagate from here" builds
``propagate_track``'s command on a background thread (progress, Cancel) and executes it on the
GUI thread when it is done; it needs a video tracker checkpoint, a per-user setting.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from groundlabel.desktop.frame_files import decode_frames_locked
from groundlabel.desktop.tasks import BackgroundTask, run_with_progress
from groundlabel.desktop.timeline import Timeline
from groundlabel.desktop.track_model import (
    TrackStrip,
    VideoPosition,
    keyframe_step,
    track_rows,
    track_strips,
)
from groundlabel.desktop.track_panel import TrackPanel, ask_choice
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog, QWidget

from groundlabel.project import ProjectChange, ProjectError
from groundlabel.project.track_edits import (
    AcceptTrack,
    DeleteTrack,
    MergeTracks,
    RejectTrack,
    RelabelTrack,
    SplitTrack,
)

if TYPE_CHECKING:
    from groundlabel.desktop.app_settings import AppSettings
    from groundlabel.desktop.controller import ReviewController
    from groundlabel.desktop.session import ProjectSession
    from PySide6.QtWidgets import QDockWidget

    from groundlabel.project import ReviewProject
    from groundlabel.project.commands import Command

log = logging.getLogger(__name__)

TRACKER_KEY = "video/tracker"  # a SAM 2.1, SAM 3 tracker or EdgeTAM video checkpoint (hub id or folder)
DEVICE_KEY = "video/device"
NO_TRACKER = (
    "Propagation needs a video tracker checkpoint (SAM 2.1, SAM 3 tracker or EdgeTAM): choose one "
    "with Propagate from here ▾ → Video tracker checkpoint…"
)


def choose_tracker_folder(parent: QWidget) -> str:
    """A video tracker checkpoint folder ("" if cancelled); module-level so tests can answer."""
    return QFileDialog.getExistingDirectory(
        parent, "Choose a video tracker checkpoint (SAM 2.1, SAM 3, EdgeTAM)"
    )


class _Trackers:
    """Video tracker checkpoints loaded once each, on whichever worker first needs them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loaded: dict[tuple[str, str], Callable[..., Any]] = {}

    def get(self, checkpoint: str, device: str) -> Callable[..., Any]:
        from groundlabel.trackers import tracker_factory

        with self._lock:
            key = (checkpoint, device)
            if key not in self._loaded:
                self._loaded[key] = tracker_factory(checkpoint, device)
            return self._loaded[key]


class TrackControl(QObject):
    message = Signal(str)
    error = Signal(str)

    def __init__(self, controller: ReviewController, settings: AppSettings, window: QWidget) -> None:
        super().__init__(window)
        self.controller, self.settings, self.window = controller, settings, window
        self.panel = TrackPanel()
        self.timeline = Timeline()
        self.timeline.hide()
        self.dock: QDockWidget | None = None
        self.position: VideoPosition | None = None
        self.strips: list[TrackStrip] = []
        self.task: BackgroundTask | None = None  # the running propagation
        self._trackers = _Trackers()
        # The detector Track… runs: the window's choice, (model, device); set by the main window.
        self.model_choice: Callable[[], tuple[str | None, str]] = lambda: (None, "auto")
        from groundlabel.desktop.playback import Player

        self.player = Player(self)
        controller.image_shown.connect(self._on_image_shown)
        controller.loader.loaded.connect(lambda *_: self._select_box())  # after the controller drew the boxes
        controller.project_opened.connect(self._on_project_opened)
        controller.canvas.selection_changed.connect(self._on_canvas_selection)
        self.panel.track_selected.connect(self.select_track)
        self.panel.action_requested.connect(self._on_action)
        self.panel.propagate_requested.connect(self.propagate)
        self.panel.tracker_requested.connect(self.choose_tracker)
        self.timeline.frame_clicked.connect(self.jump)
        self.timeline.track_clicked.connect(self._on_timeline_track)

    def attach_dock(self, dock: QDockWidget) -> None:
        self.dock = dock
        dock.hide()

    @property
    def project(self) -> ReviewProject | None:
        return self.controller.project

    def current_track(self) -> int | None:
        return self.panel.current_id() if self.position is not None else None

    # -- following the current frame ---------------------------------------------------------
    def _on_project_opened(self, session: ProjectSession) -> None:
        self.position = None
        self.player.stop()
        session.changed.connect(self._on_change)  # after the controller's own handler
        session.undo_stack.indexChanged.connect(lambda _: self.player.stop())  # any edit stops playing

    def _on_image_shown(self, image_id: int | None) -> None:
        project = self.project
        record = project.image(image_id) if project is not None and image_id is not None else None
        old = self.position
        if record is None or not record.is_frame:
            self.position = None
        elif old is not None and old.video == record.video:
            self.position = dataclasses.replace(old, frame=int(record.frame or 0))
        else:
            self.position = VideoPosition.of(project, record)
        on = self.position is not None
        self.timeline.setVisible(on)
        if self.dock is not None:
            self.dock.setVisible(on)
        if on and (old is None or old.video != self.position.video):
            self.refresh()
        else:
            self._show()

    def refresh(self) -> None:
        """Re-read the video's tracks (after an edit or on opening another video)."""
        if self.position is None or self.project is None:
            return
        rows = track_rows(self.project, self.position.video, self.controller.classes.classes())
        self.strips = track_strips(self.project, rows)
        self.panel.set_rows(rows, self.position.frame)
        self.timeline.set_content(self.position, self.strips, self.panel.current_id())

    def _show(self) -> None:
        if self.position is None:
            return
        self.panel.set_rows(self.panel.rows(), self.position.frame)
        self.timeline.set_content(self.position, self.strips, self.panel.current_id())

    def _on_change(self, change: ProjectChange) -> None:
        if self.position is not None and change.kinds & {"boxes", "classes"}:
            self.refresh()
            self._select_box()

    # -- selection -----------------------------------------------------------------------------
    def select_track(self, track_id: int | None) -> None:
        self.panel.select_track(track_id)
        self.timeline.set_selected(track_id)
        self._select_box()

    def _select_box(self) -> None:
        """The selected track's box on this frame becomes the canvas selection."""
        track = self.current_track()
        if track is None:
            return
        ids = [b.id for b in self.controller.boxes if b.track_id == track]
        if ids and self.controller.canvas.selected_ids() != ids:
            self.controller.canvas.select_ids(ids)

    def _on_canvas_selection(self, ids: list) -> None:
        if self.position is None or not ids:
            return
        tracks = {b.track_id for b in self.controller.boxes if b.id in ids}
        if len(tracks) == 1 and None not in tracks:
            (track,) = tracks
            if track != self.panel.current_id():
                self.panel.select_track(track)
                self.timeline.set_selected(track)

    def _on_timeline_track(self, track_id: int | None) -> None:
        if track_id is not None:
            self.select_track(track_id)

    def _owns_selection(self) -> bool:
        """A/R act on the track when nothing else is selected on the canvas."""
        track = self.current_track()
        if track is None:
            return False
        selected = set(self.controller.canvas.selected_ids())
        return all(b.track_id == track for b in self.controller.boxes if b.id in selected)

    # -- navigation ------------------------------------------------------------------------------
    def _go(self, image_id: int | None) -> None:
        if image_id is not None:
            self.controller.files.select_id(image_id)

    def step(self, step: int) -> None:
        if self.position is not None:
            self._go(self.position.step(step))

    def jump(self, frame: int) -> None:
        if self.position is not None and frame != self.position.frame:
            self._go(self.position.nearest(frame))

    def step_keyframe(self, step: int) -> None:
        strip = next((s for s in self.strips if s.track_id == self.current_track()), None)
        if strip is None or self.position is None:
            return
        target = keyframe_step(strip, self.position.frame, step)
        if target is None:
            self.message.emit(
                f"Track #{strip.track_id} has no keyframe {'after' if step > 0 else 'before'} this frame"
            )
        else:
            self.jump(target)

    def next_unreviewed(self) -> None:
        """The next track (after the selected one) with undecided boxes: selected, at its first frame."""
        rows = self.panel.rows()
        ids = [r.track_id for r in rows]
        start = ids.index(self.current_track()) + 1 if self.current_track() in ids else 0
        for row in rows[start:] + rows[:start]:
            if not row.summary.reviewed:
                self.select_track(row.track_id)
                self.jump(row.summary.first_frame)
                return
        if self.position is not None:
            self.message.emit("Every track of this video is reviewed")

    # -- edits -------------------------------------------------------------------------------------
    def _edit(self, build: Callable[[], Command]) -> bool:
        try:
            command = build()
        except ProjectError as exc:
            self.error.emit(str(exc))
            return False
        return self.controller.execute(command)

    def accept(self) -> bool:
        """A: accept the selected track; False (the boxes' own accept runs) when no track is meant."""
        if not self._owns_selection():
            return False
        self._edit(lambda: AcceptTrack(self.project, self.current_track()))
        return True

    def reject(self) -> bool:
        if not self._owns_selection():
            return False
        self._edit(lambda: RejectTrack(self.project, self.current_track()))
        return True

    def _on_action(self, name: str) -> None:
        track = self.current_track()
        if track is None:
            self.message.emit("Select a track first (in the track list, on the timeline or on the canvas)")
            return
        if name == "accept":
            self._edit(lambda: AcceptTrack(self.project, track))
        elif name == "reject":
            self._edit(lambda: RejectTrack(self.project, track))
        elif name == "delete":
            self._edit(lambda: DeleteTrack(self.project, track))
        elif name == "split":
            self.split()
        elif name == "relabel":
            classes = self.controller.classes.classes()
            index = ask_choice(
                self.window, "Relabel track", f"Class for track #{track}:", [c.name for c in classes]
            )
            if index is not None:
                self._edit(lambda: RelabelTrack(self.project, track, classes[index].id))
        elif name == "merge":
            others = [r for r in self.panel.rows() if r.track_id != track]
            if not others:
                self.message.emit("This video has no other track to merge")
                return
            index = ask_choice(
                self.window, "Merge tracks", f"Track to join #{track}:", [r.text() for r in others]
            )
            if index is not None:
                self._edit(lambda: MergeTracks(self.project, track, others[index].track_id))

    def split(self) -> None:
        track = self.current_track()
        if track is None or self.position is None:
            self.message.emit("Select a track first, then split it at the current frame (S)")
            return
        frame = self.position.frame
        self._edit(lambda: SplitTrack(self.project, track, frame))

    # -- propagation -------------------------------------------------------------------------------
    def choose_tracker(self) -> None:
        folder = choose_tracker_folder(self.window)
        if folder:
            self.settings.set_value(TRACKER_KEY, folder)
            self.message.emit(f"Video tracker for propagation: {folder}")

    @property
    def busy(self) -> bool:
        return self.task is not None

    def propagate(self, direction: str = "both") -> None:
        """Redo the selected track from its box on this frame, up to its next keyframe(s)."""
        from groundlabel.project.track_propagation import propagate_track, propagation_span

        checkpoint = str(self.settings.value(TRACKER_KEY, "") or "")
        track, project, position = self.current_track(), self.project, self.position
        if not checkpoint:
            self.error.emit(NO_TRACKER)
            return
        if track is None or project is None or position is None:
            self.message.emit("Select a track on a video frame first")
            return
        if self.task is not None:
            self.message.emit("A propagation is running; wait for it or cancel it")
            return
        frame = position.frame
        if frame not in {f for f, _ in project.track_boxes(track)}:
            self.error.emit(f"Track #{track} has no box on frame {frame}: draw or move it here first")
            return
        runs = propagation_span(project, track, frame, direction)
        records = [project.image(position.frame_ids[f]) for run in runs for f in run]
        device = str(self.settings.value(DEVICE_KEY, "auto") or "auto")
        trackers = self._trackers

        def job(tick: Callable[[], None]) -> Command:
            factory = trackers.get(checkpoint, device)
            decode_frames_locked(project, records)  # the frame cache is filled under the desktop's lock
            return propagate_track(project, track, frame, factory, direction, model=checkpoint, progress=tick)

        title = f"Propagating track #{track} {direction}"
        self.task = run_with_progress(
            self.window, title, len(records), job, self._propagated, self._propagation_failed
        )

    def _propagated(self, command: Command) -> None:
        self.task = None
        if self.controller.execute(command):
            self.message.emit(
                f"{command.description}: {len(command.boxes)} box(es) from the tracker (Ctrl+Z undoes)"
            )

    def _propagation_failed(self, reason: str) -> None:
        self.task = None
        if reason.endswith(": cancelled"):
            self.message.emit(f"{reason}; the track is as it was")
        else:
            self.error.emit(f"Propagation failed: {reason}")

    # -- tracking the whole video ----------------------------------------------------------------
    def track_video(self) -> None:
        """Ctrl+T: the project's detector and ByteTrack over the video shown, in the background;
        the result is pending tracks as one undoable edit (``project.video_tracking``)."""
        from groundlabel.errors import GroundlabelError
        from groundlabel.project.video_tracking import RetrackVideo, track_project_video, tracking_job

        project, position = self.project, self.position
        if project is None or position is None:
            self.message.emit("Show a video's frame first: Track video runs on the video shown")
            return
        if self.task is not None:
            self.message.emit("A tracking run or propagation is running; wait for it or cancel it")
            return
        self.player.stop()
        model, device = self.model_choice()
        try:
            job = tracking_job(project, model, device)
        except GroundlabelError as exc:
            self.error.emit(f"Cannot track {position.video}: {exc}")
            return
        video = position.video

        def run(tick: Callable[[], None]) -> Command:
            tracks = track_project_video(project, video, job, progress=lambda done, total: tick())
            return RetrackVideo(tracks, model=job.model, description=f"track {video}")

        self.task = run_with_progress(
            self.window, f"Tracking {video}", position.frame_count, run, self._tracked, self._tracking_failed
        )

    def _tracked(self, command: Command) -> None:
        self.task = None
        if self.controller.execute(command):
            boxes = command.tracks.boxes()
            tracks = len({b.track_id for b in boxes})
            self.message.emit(
                f"{command.description}: {len(boxes)} pending box(es) in {tracks} track(s) (Ctrl+Z undoes)"
            )
            self.refresh()

    def _tracking_failed(self, reason: str) -> None:
        self.task = None
        if reason.endswith(": cancelled"):
            self.message.emit(f"{reason}; the video's tracks are as they were")
        else:
            self.error.emit(f"Tracking failed: {reason}")

    def cancel(self) -> None:
        self.player.stop()
        if self.task is not None:
            self.task.cancel()
