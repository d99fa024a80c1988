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
        help=f"{' or '.join(TRACKERS)} (association of the boxes; the default), or a SAM 2.1 video checkpoint "
        "(hub id such as facebook/sam2.1-hiera-tiny, or a folder) that follows each detected object with "
        "its mask from frame to frame",
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
    """Where a frame's boxes come from: a detector, or a detections file."""

    def __init__(self, args: argparse.Namespace, labels: list[str]) -> None:
        self.labels = labels
        self.detector = None
        self.file = None
        if args.detections:
            from groundlabel.formats.tracks_mot import read_mot_detections

            self.file = read_mot_detections(args.detections, labels)
            return
        from groundlabel.detector import DetectionSettings, Detector
        from groundlabel.labels import LabelSet

        self.label_set = LabelSet.parse(", ".join(labels)) if labels else None
        self.detector = Detector.load(args.model, device=args.device, dtype=args.dtype)
        # ByteTrack wants the low boxes too: the detector runs at the low threshold.
        self.settings = DetectionSettings(
            min(args.low_threshold, args.box_threshold),
            args.text_threshold,
            args.nms_iou,
            args.max_detections,
        )

    def of(self, frame: object) -> tuple[object, object, list[str]]:
        import numpy as np

        if self.file is not None:
            return self.file.get(frame.index, (np.zeros((0, 4)), np.zeros(0), []))  # type: ignore[attr-defined]
        result = self.detector.detect_image(frame.image, self.label_set, self.settings)  # type: ignore[union-attr, attr-defined]
        return np.array(result.boxes).reshape(-1, 4), np.array(result.scores), list(result.labels)


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
    if args.detect_every > 1 and args.tracker == "bytetrack":
        raise GroundlabelError(
            "--detect-every needs a tracker that propagates (--tracker a SAM 2.1 video checkpoint): "
            "ByteTrack only links detections, and there are none between keyframes"
        )
    selection = FrameSelection.parse(args.frames, args.every)
    labels = _labels(args)
    tracks = TrackSet(
        labels,
        info={
            "description": "groundlabel track",
            "tracker": args.tracker,
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
    boxes = _Boxes(args, labels)
    from groundlabel.trackers import tracker_factory

    new_tracker = tracker_factory(args.tracker, args.device)
    interrupts.set_kept(f"the tracks written so far are in {args.output}")
    for name, video in videos:
        if name in done:
            tracks.videos.append(done[name])
            continue
        current = _new_video(name, video)
        tracks.videos.append(current)
        try:
            _track_one(args, video, selection, boxes, new_tracker(**_tracker_options(args)), current)
        except VideoError as exc:  # a damaged stream: keep the frames read, go on with the rest
            current.error = str(exc)
            failures.append(str(exc))
            print(f"groundlabel: error: {exc}", file=sys.stderr)
        except KeyboardInterrupt:
            write_tracks(tracks, args.output, fmt, args.url_prefix)
            raise
        write_tracks(tracks, args.output, fmt, args.url_prefix)
    count = sum(len(v.tracks()) for v in tracks.videos)
    print(
        f"{len(tracks.videos)} video(s), {count} track(s), {len(failures)} failed -> {args.output}",
        file=sys.stderr,
    )
    return 1 if failures else 0


def _new_video(name: str, video: Video) -> VideoTracks:
    from groundlabel.tracks import VideoTracks

    info = video.info
    return VideoTracks(name, info.width, info.height, info.fps, info.frame_count)


def _tracker_options(args: argparse.Namespace) -> dict[str, object]:
    low = min(args.low_threshold, args.box_threshold)
    options: dict[str, object] = {
        "low_score": low,
        "new_track_score": min(1.0, args.box_threshold + 0.1),
        "max_lost": args.max_lost,
    }
    if args.tracker == "bytetrack":
        options["high_score"] = args.box_threshold
    return options


def _track_one(
    args: argparse.Namespace,
    video: Video,
    selection: FrameSelection,
    boxes: _Boxes,
    tracker: Tracker,
    out: VideoTracks,
) -> None:
    import numpy as np

    from groundlabel.progress import progress_bar

    total = _selected_count(video.info.frame_count, selection)
    nothing = (np.zeros((0, 4)), np.zeros(0), [])
    with progress_bar(total, video.name, unit="frame") as bar:
        for position, frame in enumerate(video.frames(selection)):
            frame_boxes, scores, labels = boxes.of(frame) if position % args.detect_every == 0 else nothing
            out.add_frame(frame.index, frame.timestamp)
            image = frame.image if tracker.needs_frames else None
            out.add(tracker.update(frame.index, frame_boxes, scores, labels, image=image))
            bar.update(1)
    out.add(tracker.finish())
    out.complete = True


def _selected_count(frame_count: int | None, selection: FrameSelection) -> int | None:
    if frame_count is None:
        return None
    stop = min(frame_count, selection.stop or frame_count)
    return max(0, -(-(stop - selection.start) // selection.every))


def _resumed(args: argparse.Namespace, fmt: str) -> dict[str, VideoTracks]:
    """The complete videos of the earlier run's output, by name (incomplete ones are redone)."""
    if not args.resume or not Path(args.output).exists():
        return {}
    from groundlabel.formats.tracks_cocovid import read_cocovid

    earlier: TrackSet = read_cocovid(args.output)
    return {video.name: video for video in earlier.videos if video.complete}
