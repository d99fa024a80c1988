"""``track --ray``: one Ray task per video, or per chunk of a long video, on a pool of actors.

Each actor builds the run's box source (the detector, or the ``--detections`` file) and its
tracker factory (a SAM 2.1 checkpoint) once, from the same ``TrackJob`` as the local run, and
tracks each task with the local run's own ``groundlabel.tracking.track_video``: a video's
``VideoTracks`` come back equal to the local run's, to the last bit of every box. The driver
keeps every actor busy with one task at a time (tasks go out in input order, results come
back as they finish), and a video cut into chunks (``--chunk-frames``) is stitched on the
driver once its last chunk is in (``groundlabel.track_chunks``).

Workers open the clips themselves: local paths every node can read (a shared mount).
"""

from __future__ import annotations

import warnings
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from groundlabel.errors import GroundlabelError
from groundlabel.tracking import TrackJob
from groundlabel.tracks import VideoTracks
from groundlabel.video import FrameSelection

WAIT_S = 0.5  # ray.wait in short steps: Ctrl+C is handled between two of them


@dataclass(frozen=True)
class TrackTask:
    """One video, or one chunk of it: what a worker opens and which of its frames it tracks."""

    position: int  # the video's place in the input
    chunk: int  # 0, 1, ... within the video; its chunks' count is ``chunks``
    chunks: int
    name: str
    path: str
    folder_fps: float
    selection: FrameSelection


class TrackActor:
    """One worker: the box source and the tracker factory built once, used for every task it gets."""

    def __init__(self, job: TrackJob, threads: int) -> None:
        import torch

        from groundlabel.cli import _quiet_libraries
        from groundlabel.tracking import boxes_source, trackers

        _quiet_libraries()
        torch.set_num_threads(threads)
        self.job = job
        self.failure: str | None = None
        try:
            self.boxes = boxes_source(job)
            self.new_tracker = trackers(job)
        except GroundlabelError as exc:  # a model that does not load: said once per task, as one line
            self.failure = str(exc)

    def run(self, task: TrackTask) -> VideoTracks | str:
        """The task's tracks (``error`` set when the stream broke), or why the clip could not be opened."""
        from groundlabel.tracking import new_video_tracks, track_video
        from groundlabel.video import Video, VideoError

        if self.failure is not None:
            raise GroundlabelError(self.failure)
        try:
            video = Video.open(task.path, task.folder_fps)
        except VideoError as exc:
            return str(exc)
        out = new_video_tracks(task.name, video)
        try:
            track_video(video, task.selection, self.boxes, self.new_tracker(), out, self.job.detect_every)
        except VideoError as exc:  # a damaged stream: the frames read are kept, as locally
            out.error = str(exc)
        return out


def plan_tasks(
    videos: list[tuple[int, str, str, int | None]],
    selection: FrameSelection,
    folder_fps: float,
    chunk_frames: int | None = None,
    overlap: int = 0,
) -> list[TrackTask]:
    """Tasks for ``(position, name, path, frame_count)`` in input order, each video cut into chunks when asked."""
    from groundlabel.track_chunks import chunk_selections

    tasks = []
    for position, name, path, frame_count in videos:
        parts = (
            chunk_selections(selection, frame_count, chunk_frames, overlap) if chunk_frames else [selection]
        )
        tasks += [TrackTask(position, i, len(parts), name, path, folder_fps, s) for i, s in enumerate(parts)]
    return tasks


def track_on_ray(
    tasks: list[TrackTask], job: TrackJob, workers: int, threads: int = 1, gpus_per_worker: float = 0.0
) -> Iterator[tuple[int, VideoTracks | str]]:
    """``(position, tracks or error line)`` per video as each finishes (its chunks stitched), in any order.

    Closing the iterator (Ctrl+C in the caller) stops the actors, so no task runs on after it.
    """
    import ray

    from groundlabel.track_chunks import stitch

    if not tasks:
        return
    options: dict[str, Any] = {"num_cpus": threads, "max_restarts": 0}
    if gpus_per_worker > 0:
        options["num_gpus"] = gpus_per_worker
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # max_restarts, as in detect_pipeline
        remote = ray.remote(TrackActor).options(**options)
    actors = [remote.remote(job, threads) for _ in range(max(1, min(workers, len(tasks))))]
    queue = deque(tasks)
    running: dict[Any, tuple[Any, TrackTask]] = {}
    parts: dict[int, dict[int, VideoTracks | str]] = {}

    def submit(actor: Any) -> None:
        if queue:
            task = queue.popleft()
            running[actor.run.remote(task)] = (actor, task)

    try:
        for actor in actors:
            submit(actor)
        while running:
            ready, _ = ray.wait(list(running), num_returns=1, timeout=WAIT_S)
            for ref in ready:
                actor, task = running.pop(ref)
                result = _result(ref)
                submit(actor)
                done = parts.setdefault(task.position, {})
                done[task.chunk] = result
                if len(done) < task.chunks:
                    continue
                del parts[task.position]
                chunks = [done[i] for i in range(task.chunks)]
                failed = next((c for c in chunks if isinstance(c, str)), None)
                yield task.position, failed if failed is not None else stitch(chunks)  # type: ignore[arg-type]
    finally:
        for actor in actors:
            ray.kill(actor)


def _result(ref: Any) -> VideoTracks | str:
    """The task's result; a user error raised on the worker (a model that does not load) as that error."""
    import ray
    from ray.exceptions import RayTaskError

    try:
        return ray.get(ref)
    except RayTaskError as exc:
        if isinstance(exc.cause, GroundlabelError):
            raise exc.cause from None
        raise
