"""Label Studio tasks in, one prediction entry per task out.

The detector runs one image at a time on one owner thread (``inference_owner``: one
model, one device, one malloc arena); downloads happen on the callers' threads, with at
most a few decoded images held at once. A task that cannot be predicted (unreadable
config, missing image) gets an empty entry and a logged reason, never an exception that
would make Label Studio store nothing for the whole batch.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from functools import partial
from typing import TYPE_CHECKING, Any

from groundlabel.backend.inference_owner import InferenceOwner
from groundlabel.backend.interactive import InteractiveContext, MaskPrompt
from groundlabel.backend.interactive_examples import detect_from_drawn_boxes
from groundlabel.backend.interactive_video import answer_video_prompts, video_prompts
from groundlabel.backend.label_config import BoxTarget, LabelConfigError, parse_targets
from groundlabel.backend.label_video import VideoTarget
from groundlabel.backend.metrics import BackendMetrics
from groundlabel.backend.model_version import model_version
from groundlabel.backend.predictions import Box, mask_region_id, mask_regions, prediction, region
from groundlabel.backend.task_claims import HOLD_AFTER_ANSWER_S, TaskClaims
from groundlabel.backend.task_images import TaskImageFetcher
from groundlabel.backend.task_masks import TaskMasks
from groundlabel.backend.task_video import open_task_video
from groundlabel.backend.video_predictions import FrameProgress, TaskStopped, no_progress, track_target
from PIL import Image

from groundlabel import masks
from groundlabel.class_thresholds import ClassThresholds
from groundlabel.detector import DetectionResult, DetectionSettings, Detector
from groundlabel.errors import GroundlabelError
from groundlabel.labels import LabelSet
from groundlabel.segmenters import Segmenter

if TYPE_CHECKING:
    from groundlabel.video import Video

log = logging.getLogger(__name__)

# Label Studio reads a list entry as "these predictions for this task": an empty one stores
# nothing, so a task that failed is retried once its image is fixed instead of being marked
# as predicted by this model version.
NO_PREDICTION: list[Any] = []


@dataclass
class BatchOutcome:
    """One /predict answer: an entry per task, and the ids left undone when time ran out."""

    results: list[Any] = field(default_factory=list)
    unfinished: list[int] = field(default_factory=list)


class TaskPredictionError(GroundlabelError):
    """One task could not be predicted; the reason is the message."""


class Predictor:
    """The shared detector, the backend's thresholds and the image fetcher, for Label Studio tasks."""

    def __init__(
        self,
        detector: Detector,
        settings: DetectionSettings,
        fetcher: TaskImageFetcher,
        class_thresholds: ClassThresholds | None = None,
        metrics: BackendMetrics | None = None,
        segmenter: Segmenter | None = None,
        video_tracker: Any = None,
        track_max_frames: int = 30,
    ) -> None:
        self.detector = detector
        # ``--tracker``: video tasks' detections are followed by it (not linked by ByteTrack), and a
        # drawn VideoRectangle becomes a track through the clip (interactive).
        self.video_tracker = video_tracker
        self.track_max_frames = track_max_frames
        self.settings = settings
        self.fetcher = fetcher
        self.class_thresholds = class_thresholds or ClassThresholds()
        self.metrics = metrics or BackendMetrics()
        self.inference = InferenceOwner(detector, on_inference=self.metrics.inference_seconds.observe)
        # The optional mask model (``serve --masks``): masks for boxes, SAM answers to clicks.
        self.masks = TaskMasks(segmenter, self.inference)
        self.model_version = model_version(
            detector.model_record,
            settings,
            self.class_thresholds.fingerprint(),
            self.masks.model_record,
            getattr(video_tracker, "model_record", ""),
        )
        self._told_no_masks: set[str] = set()
        self.claims = TaskClaims()
        # Set at shutdown: batches stop between tasks and hand the rest to the queue.
        self.stopping = threading.Event()

    def close(self) -> None:
        """Finish the forward pass in progress, then release the owner thread and the fetcher."""
        self.stopping.set()
        self.inference.close()
        self.fetcher.close()

    def predict_tasks(
        self,
        tasks: list[dict[str, Any]],
        label_config: str,
        context: InteractiveContext | None = None,
        deadline: float | None = None,
    ) -> BatchOutcome:
        """Exactly one entry per task, in order: a prediction dict, or an empty list.

        Past ``deadline`` (``time.monotonic()``), the remaining tasks get empty entries and
        are listed in ``unfinished``: Label Studio stores nothing once its /predict timeout
        passes, so answering in time with part of the batch keeps the part that is done.
        """
        outcome = BatchOutcome()
        try:
            targets = parse_targets(label_config)
        except LabelConfigError as exc:
            log.warning("no predictions for %d task(s): %s", len(tasks), exc)
            outcome.results = [self.empty() if context else NO_PREDICTION for _ in tasks]
            return outcome
        ids = [t.get("id") if isinstance(t, dict) else None for t in tasks]
        # Interactive requests are a person waiting on one task: never skipped for a claim.
        mine = (
            self.claims.claim((i for i in ids if isinstance(i, int)), "predict") if context is None else set()
        )
        done: list[int] = []
        try:
            for index, (task, task_id) in enumerate(zip(tasks, ids, strict=True)):
                if context is None and isinstance(task_id, int) and task_id not in mine:
                    log.info("task %d: being pre-labelled in the background right now; left to it", task_id)
                    outcome.results.append(NO_PREDICTION)
                    continue
                out_of_time = deadline is not None and index > 0 and time.monotonic() > deadline
                if context is None and (out_of_time or self.stopping.is_set()):
                    outcome.results.append(NO_PREDICTION)
                    if isinstance(task_id, int):
                        outcome.unfinished.append(task_id)
                        self.metrics.predictions.labels("deferred").inc()
                    continue
                try:
                    outcome.results.append(
                        self.predict_task(task, targets, context, stopped=self._out_of(deadline))
                    )
                    if isinstance(task_id, int):
                        done.append(task_id)
                except TaskStopped as exc:  # a video past the budget: the background queue tracks it
                    log.info("task %s: %s; left for later", task_id, exc)
                    outcome.results.append(NO_PREDICTION)
                    if isinstance(task_id, int):
                        outcome.unfinished.append(task_id)
                        self.metrics.predictions.labels("deferred").inc()
                except GroundlabelError as exc:
                    log.warning("task %s: no prediction: %s", task_id if task_id is not None else "?", exc)
                    outcome.results.append(self.empty() if context else NO_PREDICTION)
        finally:
            self.claims.release(set(done) & mine, hold_s=HOLD_AFTER_ANSWER_S)
            self.claims.release(mine - set(done))
        return outcome

    def empty(self) -> dict[str, Any]:
        return prediction([], self.model_version)

    def _out_of(self, deadline: float | None) -> Callable[[], bool]:
        """Whether a video in progress must stop: shutdown, or past the /predict budget."""
        return lambda: self.stopping.is_set() or (deadline is not None and time.monotonic() > deadline)

    def predict_task(
        self,
        task: dict[str, Any],
        targets: list[BoxTarget | VideoTarget],
        context: InteractiveContext | None = None,
        *,
        stopped: Callable[[], bool] | None = None,
        frames: FrameProgress = no_progress,
    ) -> dict[str, Any]:
        """Regions for every target of one task; raises ``GroundlabelError`` naming the problem.

        The task's images are fetched and held within one of the owner's image slots, so
        any number of concurrent requests keeps only a few decoded images in memory (a
        video holds one frame at a time). A video target is tracked frame by frame with a
        ``frames`` progress bar; it raises ``TaskStopped`` once ``stopped()`` (or shutdown) says so.
        """
        try:
            with self.inference.image_slot():
                result = self._predict_task(task, targets, context, stopped or self._out_of(None), frames)
        except TaskStopped:
            raise
        except Exception as exc:
            self.metrics.failed(exc)
            raise
        self.metrics.predictions.labels("predicted").inc()
        return result

    def _predict_task(
        self,
        task: dict[str, Any],
        targets: list[BoxTarget | VideoTarget],
        context: InteractiveContext | None,
        stopped: Callable[[], bool],
        frames: FrameProgress,
    ) -> dict[str, Any]:
        if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
            raise TaskPredictionError("the task has no data")
        task_id = task.get("id")
        images: dict[str, Image.Image] = {}
        regions: list[dict[str, Any]] = []
        prompted: set[str] = set()

        def image_of(target: BoxTarget) -> Image.Image:
            if target.data_key not in images:
                images[target.data_key] = self.fetcher.fetch(
                    self._reference(task, target), task_id if isinstance(task_id, int) else None
                )
            return images[target.data_key]

        for target in targets:
            if isinstance(target, VideoTarget):
                if context is None:
                    regions.extend(self._track(task, target, stopped, frames))
                else:  # a person drew a rectangle on a frame: follow it through the clip
                    regions.extend(self._track_drawn(task, target, context, stopped))
                continue
            labels = target.labels
            if context is not None:
                prompt = context.mask_prompt_for(target.to_name) if self._answers_clicks(target) else None
                if prompt is not None:  # SAM: the clicks and the rectangle make one mask
                    if target.to_name not in prompted:
                        prompted.add(target.to_name)
                        regions.extend(self._prompted_mask(task, target, prompt, image_of))
                    continue
                labels = context.labels_for(target)
                if labels is None:
                    continue
            image = image_of(target)
            result = self._detect(image, target, labels, context)
            if target.masks:
                result = self.masks.add_masks(self._image_key(task, target), image, result)
                if not result.masks and result.boxes:
                    self._tell_no_masks(target)
            regions.extend(self._regions(task_id, target, result, len(regions)))
        return prediction(regions, self.model_version)

    def _detect(
        self, image: Image.Image, target: BoxTarget, labels: LabelSet, context: InteractiveContext | None
    ) -> DetectionResult:
        settings = self.settings
        if target.score_threshold is not None:
            settings = replace(settings, box_threshold=target.score_threshold)
        examples = context.examples_for(target) if context is not None else []
        if examples and self.detector.adapter.supports_exemplars:
            return self.inference.run(
                partial(detect_from_drawn_boxes, self.detector, image, examples, settings)
            )
        cut = self.class_thresholds.for_labels(labels)
        if cut.active:  # run at the lowest threshold a class needs, then cut per class
            run = replace(
                settings,
                box_threshold=cut.detection_floor(settings.box_threshold),
                max_detections=None,
            )
        else:
            run = settings
        result = self.inference.detect(image, labels, run)
        if cut.active:
            result = cut.apply(result, settings.box_threshold, settings.max_detections)
        return result

    def _regions(
        self, task_id: Any, target: BoxTarget, result: DetectionResult, first: int
    ) -> list[dict[str, Any]]:
        """Rectangles (when the config has them) and each box's mask for every mask control that has its label."""
        regions: list[dict[str, Any]] = []
        for index, (box, score, label) in enumerate(
            zip(result.boxes, result.scores, result.labels, strict=True)
        ):
            region_id = f"gl-{task_id}-{first + len(regions)}"
            if target.draw_boxes:
                regions.append(
                    region(
                        Box(*box, score=score, label=label),
                        target.from_name,
                        target.to_name,
                        result.image_size,
                        region_id=region_id,
                    )
                )
            mask = result.masks[index] if index < len(result.masks) else None
            if mask is None:
                continue
            for control, mask_target in enumerate(target.masks):
                value = mask_target.label_for(label)
                if value is not None:
                    regions += mask_regions(
                        mask,
                        value,
                        mask_target.from_name,
                        mask_target.result_type,
                        target.to_name,
                        mask_region_id(region_id, control, mask_target.from_name),
                        score,
                        parent_id=region_id if target.draw_boxes else None,
                    )
        return regions

    def _answers_clicks(self, target: BoxTarget) -> bool:
        return self.masks.segmenter is not None and bool(target.masks)

    def _prompted_mask(
        self,
        task: dict[str, Any],
        target: BoxTarget,
        prompt: MaskPrompt,
        image_of: Callable[[BoxTarget], Image.Image],
    ) -> list[dict[str, Any]]:
        """SAM's mask for the annotator's points and rectangle, on every mask control of the image."""
        key = self._image_key(task, target)
        size = self.masks.image_size(key) or image_of(target).size
        box, points, point_labels = prompt.in_pixels(size)
        proposal, _ = self.masks.mask_for_prompt(key, lambda: image_of(target), box, points, point_labels)
        mask = masks.encode(proposal.mask)
        regions: list[dict[str, Any]] = []
        for mask_target in target.masks:
            value = mask_target.label_for(prompt.label, lone_fallback=True)
            if value is None:
                log.info(
                    "interactive label %r is not one of %s's labels", prompt.label, mask_target.from_name
                )
                continue
            regions += mask_regions(
                mask,
                value,
                mask_target.from_name,
                mask_target.result_type,
                target.to_name,
                f"gl-{task.get('id')}-click-{mask_target.from_name}",
                proposal.score,
            )
        return regions

    def _track(
        self, task: dict[str, Any], target: VideoTarget, stopped: Callable[[], bool], frames: FrameProgress
    ) -> list[dict[str, Any]]:
        """The task's clip tracked for one VideoRectangle: one region per track."""
        task_id = task.get("id")
        with self._open_video(task, target) as video:
            log.info("task %s: tracking %s for %s", task_id, video.name, target.from_name)
            return track_target(
                video,
                target,
                self.inference,
                self.settings,
                region_prefix=f"gl-{task_id}-{target.from_name}-",
                video_trackers=self.video_tracker,
                frames=frames,
                stopped=stopped,
            )

    def _track_drawn(
        self,
        task: dict[str, Any],
        target: VideoTarget,
        context: InteractiveContext,
        stopped: Callable[[], bool],
    ) -> list[dict[str, Any]]:
        """The rectangles drawn on this Video, each followed by the video tracker (``--tracker``)."""
        prompts = [
            p
            for p in video_prompts(context.raw)
            if p.to_name == target.to_name and p.from_name == target.from_name
        ]
        if not prompts:
            return []
        if self.video_tracker is None:
            raise TaskPredictionError(
                "a rectangle drawn on a video becomes a track only with a video tracker: start the backend with "
                "--tracker MODEL (a SAM 2.1, SAM 3 tracker or EdgeTAM checkpoint, e.g. facebook/sam2.1-hiera-tiny)"
            )
        task_id = task.get("id")
        with self._open_video(task, target) as video:
            log.info("task %s: following %d drawn rectangle(s) in %s", task_id, len(prompts), video.name)
            return self.inference.run(
                lambda: answer_video_prompts(
                    video, prompts, self.video_tracker, self.track_max_frames, stopped
                )
            )

    def _open_video(self, task: dict[str, Any], target: VideoTarget) -> AbstractContextManager[Video]:
        """The task's clip for a Video tag, opened (a downloaded copy is removed on exit)."""
        task_id = task.get("id")
        reference = task["data"].get(target.data_key)
        if reference is None:
            raise TaskPredictionError(f"task data has no {target.data_key!r} (the Video {target.to_name!r})")
        return open_task_video(self.fetcher, reference, task_id if isinstance(task_id, int) else None)

    @staticmethod
    def _reference(task: dict[str, Any], target: BoxTarget) -> Any:
        reference = task["data"].get(target.data_key)
        if reference is None:
            raise TaskPredictionError(f"task data has no {target.data_key!r} (the Image {target.to_name!r})")
        return reference

    def _image_key(self, task: dict[str, Any], target: BoxTarget) -> tuple[Any, str]:
        """What identifies a task image for the embedding cache: the task and the image's URL."""
        return task.get("id"), str(self._reference(task, target))

    def _tell_no_masks(self, target: BoxTarget) -> None:
        names = ", ".join(m.from_name for m in target.masks)
        if names in self._told_no_masks:
            return
        self._told_no_masks.add(names)
        log.warning(
            "the labeling config asks for masks (%s) but this backend has no mask model and %s makes none: "
            "start it with --masks MODEL (e.g. facebook/sam-vit-base); %s",
            names,
            self.detector.model_name,
            "boxes only" if target.draw_boxes else "nothing is predicted for it",
        )
