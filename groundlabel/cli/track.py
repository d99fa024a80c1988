"""``groundlabel track``: videos in, tracks out (COCO-VID, YouTube-VIS or MOT).

Each selected frame is decoded (``groundlabel.video``), given boxes (a detector of any family
on the class names, or ``--detections`` read from a file) and handed to a tracker
(``groundlabel.trackers``): ByteTrack links the boxes, SAM 2.1 follows each object with its
mask. Frames stream: memory does not grow with clip length.

The output is rewritten atomically after every video, and once more with the video under
way when Ctrl+C (or SIGTERM) stops the run, so an interruption keeps everything tracked so
far; ``--resume`` reads that file back and tracks only the videos not yet complete.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from groundlabel.cli.options import add_model_options, positive_int, probability
from groundlabel.errors import GroundlabelError

if TYPE_CHECKING:
    from groundlabel.trackers.base import Tracker
    from groundlabel.tracking import TrackJob
    from groundlabel.tracks import TrackSet, VideoTracks
    from groundlabel.video import FrameSelection, Video


def register(subparsers: argparse._SubParsersAction) -> None:
    from groundlabel.formats.names import TRACK_FORMATS
    from groundlabel.trackers import TRACKERS

    parser = subparsers.add_parser(
        "track",
        help="track every instance of the given classes through videos",
        description="Detect the classes on every selected frame of each video (a file or a folder of frames) "
        "and link the boxes into tracks with ByteTrack, or follow each object with its mask through SAM 2.1 "
        "(--tracker CHECKPOINT); or track ready boxes (--detections). Writes COCO-VID "
        "JSON (-o tracks.json), YouTube-VIS JSON (--format youtube-vis), Label Studio video tasks (--format "
        "label-studio), CVAT for video 1.1 XML (-o tracks.xml) or MOTChallenge (-o seq.txt or DIR/).",
    )
    parser.add_argument(
        "paths",
        nargs="+",
        metavar="VIDEO",
        help="video files (mp4, mov, mkv, avi, webm) or folders of frames",
    )
    parser.add_argument("--labels", "-l", help='classes, comma-separated: "car, person"')
    parser.add_argument(
        "-o", "--output", required=True, help="tracks.json, tracks.xml, seq.txt or DIR/ (see --format)"
    )
    parser.add_argument("--format", choices=TRACK_FORMATS, help="default: by the suffix of -o")
    parser.add_argument(
        "--url-prefix",
        default="",
        metavar="PREFIX",
        help="label-studio: put before each video's name in the task's data.video, e.g. "
        "'/data/local-files/?d=videos/' (default: the name alone)",
    )
    parser.add_argument(
        "--tracker",
        default="bytetrack",
        metavar="T",
        help=f"{' or '.join(TRACKERS)} (association of the boxes; the default), or a video tracker checkpoint "
        "that follows each detected object with its mask from frame to frame: SAM 2.1 (e.g. "
        "facebook/sam2.1-hiera-tiny), SAM 3 (its tracker half; facebook/sam3) or EdgeTAM "
        "(yonigozlan/EdgeTAM-hf; needs timm), as a hub id or a folder",
    )
    parser.add_argument(
        "--detect-every",
        type=positive_int,
        default=1,
        metavar="N",
        help="detect (or read --detections) on every Nth selected frame only; the SAM 2.1 tracker carries "
        "the objects in between (default: 1, every frame; ByteTrack needs every frame)",
    )
    parser.add_argument(
        "--detections",
        metavar="FILE",
        help="MOT det.txt/gt.txt boxes for the (one) video instead of a detector; column 8, when set, "
        "is the class number in --labels",
    )
    parser.add_argument("--every", type=positive_int, default=1, help="use every Nth frame (default: 1)")
    parser.add_argument("--frames", metavar="A:B", help="only frames A (included) to B (excluded)")
    parser.add_argument(
        "--fps", type=float, default=None, help="frame rate of a folder of frames (default: 30)"
    )
    parser.add_argument("--resume", action="store_true", help="keep the videos -o already holds complete")
    add_model_options(parser)
    _add_ray_options(parser)
    group = parser.add_argument_group("thresholds")
    group.add_argument(
        "--box-threshold",
        type=probability,
        default=0.35,
        help="a box above this is sure: it continues tracks and starts new ones (default: %(default)s)",
    )
    group.add_argument(
        "--low-threshold",
        type=probability,
        default=0.1,
        help="boxes between this and --box-threshold only continue tracks (ByteTrack's second "
        "association; default: %(default)s)",
    )
    group.add_argument("--text-threshold", type=probability, default=0.25, help="default: %(default)s")
    group.add_argument("--nms-iou", type=probability, default=None, help="class-wise NMS (default: off)")
    group.add_argument("--max-detections", type=positive_int, default=None, help="at most N boxes a frame")
    group.add_argument(
        "--max-lost",
        type=positive_int,
        default=30,
        help="frames a lost track waits to be found again (default: %(default)s)",
    )
    parser.set_defaults(handler=run)


class _Boxes:
    """Where a frame's boxes come from: the core's source for these options (a seam tests replace)."""

    def __init__(self, args: argparse.Namespace, labels: list[str]) -> None:
        from groundlabel.tracking import boxes_source

        self.source = boxes_source(_job(args, labels))

    def of(self, frame: object) -> tuple[object, object, list[str]]:
        return self.source.of(frame)  # type: ignore[arg-type]


def _job(args: argparse.Namespace, labels: list[str]) -> TrackJob:
    """The options as the core's ``TrackJob``: the local run and every Ray worker build from it."""
    from groundlabel.tracking import TrackJob

    return TrackJob(
        tuple(labels),
        tracker=args.tracker,
        model=None if args.detections else args.model,
        device=args.device,
        dtype=args.dtype,
        detections=args.detections,
        box_threshold=args.box_threshold,
        low_threshold=args.low_threshold,
        text_threshold=args.text_threshold,
        nms_iou=args.nms_iou,
        max_detections=args.max_detections,
        max_lost=args.max_lost,
        detect_every=args.detect_every,
    )


def _labels(args: argparse.Namespace) -> list[str]:
    from groundlabel.cli.options import require_labels
    from groundlabel.labels import LabelSet

    if args.detections and not args.labels:
        return []
    return list(LabelSet.parse(require_labels(args.labels, args.model)).names)


def run(args: argparse.Namespace) -> int:
    from groundlabel import interrupts
    from groundlabel.cli.detect import relative_name
    from groundlabel.formats.tracks_out import track_format, write_tracks
    from groundlabel.tracks import TrackSet
    from groundlabel.video import DEFAULT_FOLDER_FPS, FrameSelection, Video, VideoError

    fmt = track_format(args.output, args.format)
    if args.detections and len(args.paths) != 1:
        raise GroundlabelError("--detections holds one video's boxes: give exactly one VIDEO with it")
    if args.resume and fmt != "coco-vid":
        raise GroundlabelError("--resume reads back COCO-VID: use -o FILE.json (convert at the end)")
    sam3_video = _sam3_video(args)  # a SAM 3 video --model detects and tracks by itself
    if args.detect_every > 1 and args.tracker == "bytetrack":
        raise GroundlabelError(
            "--detect-every needs a tracker that propagates (--tracker a SAM 2.1 video checkpoint): "
            "ByteTrack only links detections, and there are none between keyframes"
        )
    _check_ray_options(args)
    selection = FrameSelection.parse(args.frames, args.every)
    labels = _labels(args)
    tracks = TrackSet(
        labels,
        info={
            "description": "groundlabel track",
            "tracker": args.model if sam3_video else args.tracker,
            "detect_every": args.detect_every,
            "model": None if args.detections else args.model,
            "detections": args.detections,
            "every": args.every,
            "frames": args.frames,
        },
    )
    done = _resumed(args, fmt)
    # Names relative to the folder holding the clips: "clip.mp4", "frames" (a folder is named, not ".").
    root = Path(os.path.commonpath([str(Path(p).resolve().parent) for p in args.paths]))
    failures: list[str] = []
    videos: list[tuple[str, Video]] = []
    for path in args.paths:  # probe every clip first: a bad one is reported before any work
        try:
            videos.append((relative_name(path, root), Video.open(path, args.fps or DEFAULT_FOLDER_FPS)))
        except VideoError as exc:
            failures.append(str(exc))
            print(f"groundlabel: error: {exc}", file=sys.stderr)
    if not videos:
        raise GroundlabelError(f"no video could be opened among {len(args.paths)} given")
    if args.ray:
        _track_on_ray(args, _job(args, labels), selection, videos, done, tracks, fmt, failures)
        return _summary(tracks, failures, args.output)
    if sam3_video:
        from groundlabel.trackers.sam3_video import track_parts

        boxes, new_tracker = track_parts(args)
    else:
        boxes = _Boxes(args, labels)
        from groundlabel.tracking import trackers

        new_tracker = trackers(_job(args, labels))
    interrupts.set_kept(f"the tracks written so far are in {args.output}")
    for name, video in videos:
        if name in done:
            tracks.videos.append(done[name])
            continue
        current = _new_video(name, video)
        tracks.videos.append(current)
        try:
            _track_one(args, video, selection, boxes, new_tracker(), current)
        except VideoError as exc:  # a damaged stream: keep the frames read, go on with the rest
            current.error = str(exc)
            failures.append(str(exc))
            print(f"groundlabel: error: {exc}", file=sys.stderr)
        except KeyboardInterrupt:
            write_tracks(tracks, args.output, fmt, args.url_prefix)
            raise
        write_tracks(tracks, args.output, fmt, args.url_prefix)
    return _summary(tracks, failures, args.output)


def _sam3_video(args: argparse.Namespace) -> bool:
    """Whether ``--model`` is a SAM 3 video checkpoint (then the options it cannot honour are refused)."""
    if args.detections:
        return False
    from groundlabel.trackers.sam3_video import check_track_options, is_sam3_video

    if not is_sam3_video(args.model):
        return False
    check_track_options(args.tracker, args.detect_every, args.ray)
    return True


def _summary(tracks: TrackSet, failures: list[str], output: str) -> int:
    count = sum(len(v.tracks()) for v in tracks.videos)
    print(
        f"{len(tracks.videos)} video(s), {count} track(s), {len(failures)} failed -> {output}",
        file=sys.stderr,
    )
    return 1 if failures else 0


def _new_video(name: str, video: Video) -> VideoTracks:
    from groundlabel.tracking import new_video_tracks

    return new_video_tracks(name, video)


def _track_one(
    args: argparse.Namespace,
    video: Video,
    selection: FrameSelection,
    boxes: _Boxes,
    tracker: Tracker,
    out: VideoTracks,
) -> None:
    from groundlabel.progress import progress_bar
    from groundlabel.tracking import selected_count, track_video

    with progress_bar(selected_count(video.info.frame_count, selection), video.name, unit="frame") as bar:
        track_video(video, selection, boxes, tracker, out, args.detect_every, bar.update)


def _resumed(args: argparse.Namespace, fmt: str) -> dict[str, VideoTracks]:
    """The complete videos of the earlier run's output, by name (incomplete ones are redone)."""
    if not args.resume or not Path(args.output).exists():
        return {}
    from groundlabel.formats.tracks_cocovid import read_cocovid

    earlier: TrackSet = read_cocovid(args.output)
    return {video.name: video for video in earlier.videos if video.complete}


def _add_ray_options(parser: argparse.ArgumentParser) -> None:
    from groundlabel.cli.bulk_options import add_ray_options

    group = add_ray_options(parser)
    group.add_argument(
        "--chunk-frames",
        type=positive_int,
        default=None,
        metavar="N",
        help="with --ray: cut each video longer than N selected frames into chunks of N, one Ray task each, "
        "and stitch their tracks on the overlap (default: one task per video; tracks may then differ "
        "from the local run where an object is unsure inside an overlap, see docs/video.md)",
    )
    group.add_argument(
        "--chunk-overlap",
        type=positive_int,
        default=10,
        metavar="K",
        help="selected frames consecutive chunks share, where their tracks are matched (default: %(default)s)",
    )


def _check_ray_options(args: argparse.Namespace) -> None:
    from groundlabel.cli.bulk_options import check_ray_options

    check_ray_options(args)
    if args.chunk_frames is None:
        return
    if not args.ray:
        raise GroundlabelError("--chunk-frames only works with --ray: add --ray, or leave it out")
    if args.chunk_overlap >= args.chunk_frames:
        raise GroundlabelError(
            f"--chunk-overlap {args.chunk_overlap} must be below --chunk-frames {args.chunk_frames}"
        )
    if (args.chunk_frames - args.chunk_overlap) % args.detect_every:
        raise GroundlabelError(
            f"--chunk-frames minus --chunk-overlap ({args.chunk_frames - args.chunk_overlap}) must be a "
            f"multiple of --detect-every {args.detect_every}, so every chunk detects on the same keyframes"
        )


def _track_on_ray(
    args: argparse.Namespace,
    job: TrackJob,
    selection: FrameSelection,
    videos: list[tuple[str, Video]],
    done: dict[str, VideoTracks],
    tracks: TrackSet,
    fmt: str,
    failures: list[str],
) -> None:
    """One Ray task per video (or chunk); each video is written, in input order, as soon as it is in."""
    from groundlabel import interrupts
    from groundlabel.distributed import require_ray

    require_ray("groundlabel track")
    from groundlabel.distributed.detect_pipeline import default_workers
    from groundlabel.distributed.session import ray_session
    from groundlabel.distributed.track_pipeline import plan_tasks, track_on_ray
    from groundlabel.formats.tracks_out import write_tracks
    from groundlabel.progress import progress_bar
    from groundlabel.tracking import new_video_tracks, selected_count
    from groundlabel.video import DEFAULT_FOLDER_FPS

    slots: list[VideoTracks | None] = [done.get(name) for name, _ in videos]
    todo = [
        (i, name, str(v.path), v.info.frame_count) for i, (name, v) in enumerate(videos) if name not in done
    ]
    tasks = plan_tasks(todo, selection, args.fps or DEFAULT_FOLDER_FPS, args.chunk_frames, args.chunk_overlap)
    frames: dict[int, int] = {}  # each video's planned frames, its chunks' overlaps counted twice
    for task in tasks:
        count = selected_count(videos[task.position][1].info.frame_count, task.selection)
        frames[task.position] = frames.get(task.position, 0) + (count or 0)
    total = sum(frames.values()) if all(v.info.frame_count for _, v in videos) else None
    gpus = args.gpus_per_worker or 0.0
    interrupts.set_kept(f"the videos finished so far are in {args.output}")
    with ray_session(args.address), progress_bar(total, "track", unit="frame") as bar:
        workers = args.workers or default_workers(args.threads_per_worker, gpus)
        for position, result in track_on_ray(tasks, job, workers, args.threads_per_worker, gpus):
            if isinstance(result, str):  # the worker could not open the clip
                reason, result = result, new_video_tracks(*videos[position])
                result.error = reason
            if result.error:
                failures.append(result.error)
                print(f"groundlabel: error: {result.error}", file=sys.stderr)
            slots[position] = result
            tracks.videos = [v for v in slots if v is not None]
            write_tracks(tracks, args.output, fmt, args.url_prefix)
            bar.update(frames[position])
    tracks.videos = [v for v in slots if v is not None]
