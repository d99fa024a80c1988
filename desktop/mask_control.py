"""Masks as the window sees them: the mask model, refine, point corrections, brush strokes.

One worker thread runs everything that touches the mask model (loading it, embedding the
opened image, the mask for a click), in order, so a click made while the image is still
being embedded simply waits for it. Results come back to the GUI thread as a Qt signal
and become one undoable project command each: ``SetMasks`` for a refine or a stroke,
``PointEdit`` for a click. The computing is in ``mask_jobs`` (plain Python); this class
only decides when and on which thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from groundlabel.desktop import mask_jobs
from groundlabel.desktop.embedding_cache import EmbeddingCache
from groundlabel.desktop.frame_files import PathSource, file_source, resolve
from groundlabel.desktop.mask_edits import (
    BRUSH_MODEL,
    PointEdit,
    PromptPoint,
    PromptPoints,
    apply_stroke,
    stroke_mask,
)
from groundlabel.desktop.tasks import run_with_progress
from PySide6.QtCore import QObject, Signal

from groundlabel import masks as mask_codec
from groundlabel.errors import GroundlabelError
from groundlabel.project import BoxRecord, BoxStatus
from groundlabel.project.commands import SetMasks
from groundlabel.project.models import MaskValue

if TYPE_CHECKING:
    from groundlabel.desktop.app_settings import AppSettings
    from groundlabel.desktop.controller import ReviewController
    from groundlabel.desktop.model_banner import ModelBanner
    from PySide6.QtWidgets import QWidget

    from groundlabel.segmenters.base import Segmenter

log = logging.getLogger(__name__)

NO_MODEL = "no mask model is chosen: pick one in Settings (Ctrl+,) → Mask model, e.g. facebook/sam-vit-base"


def described(command: SetMasks, description: str) -> SetMasks:
    """The command with the text the Edit menu shows for it."""
    command.description = description
    return command


class _Relay(QObject):
    """Carries a worker result to the GUI thread (signals cross threads queued)."""

    done = Signal(object, object, object)  # callback pair, result, error text


class MaskControl(QObject):
    message = Signal(str)
    model_ready_changed = Signal(bool)
    busy_changed = Signal(bool)

    def __init__(
        self, controller: ReviewController, banner: ModelBanner, settings: AppSettings, parent: QWidget
    ) -> None:
        super().__init__(parent)
        self.controller, self.canvas, self.banner, self.settings = (
            controller,
            controller.canvas,
            banner,
            settings,
        )
        self.window = parent
        self.segmenter: Segmenter | None = None
        self.model_error: str | None = None
        self.loading = False
        self.cache: EmbeddingCache = EmbeddingCache()
        self.prompts = PromptPoints()
        self.pending = 0  # worker jobs not yet back
        self._latest: dict[int, tuple[PromptPoint, ...]] = {}  # points of clicks still computing
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="groundlabel-masks")
        self._relay = _Relay(self)
        self._relay.done.connect(self._deliver)
        self._refine_task = None
        controller.image_shown.connect(self._on_image_shown)
        controller.project_opened.connect(self._on_project_opened)
        controller.canvas.selection_changed.connect(lambda _: self.show_points())
        controller.canvas.point_clicked.connect(self.add_point)
        controller.canvas.stroke_drawn.connect(self.paint_stroke)

    # -- the worker ---------------------------------------------------------------------------
    def _submit(
        self,
        job: Callable[[], Any],
        on_done: Callable[[Any], None],
        on_fail: Callable[[str], None] | None = None,
    ) -> None:
        self.pending += 1
        self.busy_changed.emit(True)

        def finished(future: Future) -> None:
            try:
                result, error = future.result(), None
            except GroundlabelError as exc:
                result, error = None, str(exc)
            except Exception as exc:  # a bug: say so instead of losing the window
                log.exception("mask job failed")
                result, error = None, f"{type(exc).__name__}: {exc}"
            self._relay.done.emit((on_done, on_fail), result, error)

        self._executor.submit(job).add_done_callback(finished)

    def _deliver(self, callbacks: tuple, result: Any, error: str | None) -> None:
        self.pending -= 1
        on_done, on_fail = callbacks
        if error is None:
            on_done(result)
        elif on_fail is not None:
            on_fail(error)
        else:
            self.message.emit(f"Mask: {error}")
        if not self.pending:
            self.busy_changed.emit(False)

    @property
    def idle(self) -> bool:
        return not self.pending and not self.loading and self._refine_task is None

    # -- the model ----------------------------------------------------------------------------
    def load_model(self) -> None:
        """Load the mask model chosen in Settings in the background; none chosen is not an error."""
        model, device = self.settings.mask_model(), self.settings.mask_device()
        self.segmenter, self.model_error = None, None
        self.cache.clear()
        self.model_ready_changed.emit(False)
        if not model:
            self.model_error = NO_MODEL
            return
        self.loading = True
        self.banner.hide()

        def load() -> Segmenter:
            from groundlabel.model_loading import FROM_PRETRAINED_LOCK
            from groundlabel.segmenters.base import load_segmenter

            with FROM_PRETRAINED_LOCK:  # the detector may be loading on its own thread
                return load_segmenter(model, device=device)

        self._submit(load, self._on_loaded, self._on_load_failed)

    def _on_loaded(self, segmenter: Segmenter) -> None:
        self.loading = False
        self.segmenter, self.model_error = segmenter, None
        self.banner.hide()
        log.info("mask model loaded: %s", segmenter.model_record)
        self.message.emit(f"Mask model loaded: {segmenter.model_record}")
        self.model_ready_changed.emit(True)
        self._prefetch()

    def _on_load_failed(self, reason: str) -> None:
        self.loading = False
        self.model_error = f"mask model not loaded: {reason}"
        log.warning("%s", self.model_error)
        self.banner.show_problem(self.model_error)

    def _need_model(self) -> bool:
        """True when a mask can be computed; else the banner says why (review goes on)."""
        if self.segmenter is not None or self.loading:
            return True
        self.banner.show_problem(self.model_error or NO_MODEL)
        self.message.emit("No mask model: boxes can still be reviewed; choose one in Settings")
        return False

    # -- images ----------------------------------------------------------------------------------
    def _on_project_opened(self, session: Any) -> None:
        self.prompts.clear()
        self._latest.clear()
        session.changed.connect(lambda _: self.show_points())

    def _on_image_shown(self, image_id: int) -> None:
        self._prefetch()

    def _image_path(self) -> PathSource | None:
        """The current image's file, or for a video's frame a function the worker calls to decode it."""
        c = self.controller
        if c.project is None or c.current_id is None:
            return None
        return file_source(c.project, c.project.image(c.current_id))

    def _prefetch(self) -> None:
        """Embed the opened image now, so the first click on it is fast."""
        source, segmenter = self._image_path(), self.segmenter
        if source is None or segmenter is None:
            return

        def embed() -> object:
            path = resolve(source)
            return mask_jobs.image_embedding(
                segmenter, self.cache, mask_jobs.embedding_key(segmenter, path), path
            )

        self._submit(
            embed,
            lambda _: None,
            lambda reason: self.message.emit(f"Cannot embed the image for masks: {reason}"),
        )

    # -- refine ----------------------------------------------------------------------------------
    def refine_selected(self) -> None:
        """Masks for the selected boxes of the current image, from their boxes (one undo step)."""
        ids = set(self.canvas.selected_ids())
        boxes = [b for b in self.controller.boxes if b.id in ids]
        if not boxes:
            self.message.emit("Select the boxes to refine (or Ctrl+Shift+M: every accepted box)")
            return
        if not self._need_model():
            return
        path, session = self._image_path(), self.controller.session
        work = [(b.id, b.xyxy) for b in boxes]

        def job() -> dict[int, MaskValue]:
            segmenter, file = self.segmenter, resolve(path)
            key = mask_jobs.embedding_key(segmenter, file)
            embedding = mask_jobs.image_embedding(segmenter, self.cache, key, file)
            return mask_jobs.box_masks(segmenter, embedding, work)

        self._submit(
            job, lambda values: self._store(session, values, f"refine {len(values)} box(es) to masks")
        )

    def refine_accepted(self) -> None:
        """Masks for every accepted box of the project that has none yet, with progress and Cancel."""
        project = self.controller.project
        if project is None or not self._need_model():
            return
        if self.segmenter is None:
            self.message.emit("The mask model is still loading; try again in a moment")
            return
        work: dict = {}
        segmenter = self.segmenter
        for image in project.images():
            if not image.accepted_count:
                continue
            boxes = [
                (b.id, b.xyxy)
                for b in project.boxes(image.id)
                if b.status == BoxStatus.ACCEPTED and b.mask is None
            ]
            if boxes:
                path = resolve(file_source(project, image))  # a frame: decoded here, under the frame lock
                work[mask_jobs.embedding_key(segmenter, path)] = (path, boxes)
        if not work:
            self.message.emit("Every accepted box already has a mask")
            return
        session = self.controller.session

        def done(values: dict[int, MaskValue]) -> None:
            self._refine_task = None
            self._store(session, values, f"refine {len(values)} accepted box(es) to masks")

        def failed(reason: str) -> None:
            self._refine_task = None
            self.message.emit(reason)

        self._refine_task = run_with_progress(
            self.window, "Refining accepted boxes to masks", len(work),
            lambda tick: mask_jobs.refine_images(segmenter, self.cache, work, tick), done, failed,
        )  # fmt: skip

    def _store(self, session: Any, values: dict[int, MaskValue], description: str) -> None:
        if session is not self.controller.session or not values:
            return  # the project was closed meanwhile
        if self.controller.execute(described(SetMasks(values), description)):
            self.message.emit(
                f"{len(values)} mask(s) from {self.segmenter.model_record if self.segmenter else 'the mask model'}"
            )

    # -- point corrections -------------------------------------------------------------------
    def target_box(self, x: float, y: float) -> BoxRecord | None:
        """The box a click corrects: the one selected, else the smallest box under the click."""
        selected = set(self.canvas.selected_ids())
        boxes = self.controller.boxes
        chosen = [b for b in boxes if b.id in selected]
        if len(chosen) == 1:
            return chosen[0]
        under = [b for b in boxes if b.xyxy[0] <= x <= b.xyxy[2] and b.xyxy[1] <= y <= b.xyxy[3]]
        if not under:
            return None
        return min(under, key=lambda b: (b.xyxy[2] - b.xyxy[0]) * (b.xyxy[3] - b.xyxy[1]))

    def points_of(self, box_id: int) -> tuple[PromptPoint, ...]:
        """The box's points including clicks still being computed (the next click builds on them)."""
        return self._latest.get(box_id, self.prompts.get(box_id))

    def add_point(self, x: float, y: float, positive: bool) -> None:
        box = self.target_box(x, y)
        if box is None:
            self.message.emit("Click inside a box (or select one) to correct its mask")
            return
        if not self._need_model():
            return
        self.canvas.select_ids([box.id])
        before = self.points_of(box.id)
        after = (*before, PromptPoint(x, y, positive))
        self._latest[box.id] = after
        path, session, xyxy = self._image_path(), self.controller.session, box.xyxy

        def job() -> MaskValue:
            segmenter, file = self.segmenter, resolve(path)
            key = mask_jobs.embedding_key(segmenter, file)
            embedding = mask_jobs.image_embedding(segmenter, self.cache, key, file)
            return mask_jobs.prompt_mask(segmenter, embedding, xyxy, after)

        def done(value: MaskValue) -> None:
            if self._latest.get(box.id) == after:
                del self._latest[box.id]
            if session is self.controller.session:
                # The points in the log: the only place they outlive the session (not in the project).
                log.info("mask points of box %s: %s", box.id, [(p.x, p.y, p.label) for p in after])
                self.controller.execute(PointEdit(box.id, value, self.prompts, before, after))
            self.show_points()

        def failed(reason: str) -> None:
            self._latest.pop(box.id, None)
            self.message.emit(f"Mask: {reason}")

        self._submit(job, done, failed)

    def show_points(self) -> None:
        """Markers for the selected box's points (they change with its undo/redo too)."""
        selected = self.canvas.selected_ids()
        points = self.points_of(selected[0]) if len(selected) == 1 else ()
        self.canvas.set_points([(p.x, p.y, p.positive) for p in points])

    # -- brush and eraser -------------------------------------------------------------------
    def paint_stroke(self, points: list[tuple[float, float]], erase: bool) -> None:
        """A brush or eraser stroke on the target box's mask: one ``SetMasks`` (undoable)."""
        if not points:
            return
        box = self.target_box(*points[0])
        if box is None:
            self.message.emit("Select a box (or start the stroke inside one) to paint its mask")
            return
        bounds = self.canvas.image_bounds()
        shape = (int(bounds.height()), int(bounds.width()))
        old = mask_codec.decode(box.mask) if box.mask is not None else None
        stroke = stroke_mask(shape, points, self.canvas.brush_radius)
        new = apply_stroke(old, stroke, erase)
        model = box.mask_model or BRUSH_MODEL
        verb = "erase" if erase else "brush"
        self.canvas.select_ids([box.id])
        value = MaskValue(mask_codec.encode(new), None, model) if new.any() else None
        self.controller.execute(described(SetMasks({box.id: value}), f"{verb} the mask"))

    def set_brush_radius(self, factor: float) -> None:
        self.canvas.brush_radius = min(max(self.canvas.brush_radius * factor, 1.0), 200.0)
        self.message.emit(f"Brush radius {self.canvas.brush_radius:.0f} px")

    def shutdown(self, wait_ms: int = 500) -> bool:
        """Cancel queued mask work and wait at most ``wait_ms`` for the running call.

        A mask-model load or a vision pass cannot be cut short, so quitting does not wait for it
        (issue 18: the window closes within 2 s); its result only touched memory, never the
        project, which every finished edit already is in. Returns whether nothing is left running.
        """
        finished = True
        if self._refine_task is not None:
            self._refine_task.cancel()
            finished = bool(self._refine_task.wait(wait_ms))
        self._executor.shutdown(wait=False, cancel_futures=True)
        return finished and not self.pending and not self.loading
