"""Tracks (``groundlabel track`` output) into a review project: frames, boxes and track ids.

The video must sit inside the project folder under the name the tracks file gives it
(``track`` names clips relative to the folder holding them), because review, export and
training decode its frames from there. Every frame the run processed becomes an image of
the project, so frames where nothing was found can be reviewed as negatives. Track ids of
the file are per video; in the project they are unique, so each video's tracks get fresh
ids. Like a dataset import, the whole file is checked before anything is written, and a
second import of the same file adds nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from groundlabel.errors import GroundlabelError
from groundlabel.project.database import ProjectError
from groundlabel.project.models import BoxSource, BoxStatus, ImageState
from groundlabel.project.store import ReviewProject
from groundlabel.project.video_frames import add_video_frames
from groundlabel.tracks import TrackSet, VideoTracks


@dataclass
class TrackImportReport:
    videos: int = 0
    frames: int = 0
    tracks: int = 0
    boxes: int = 0
    duplicates: int = 0  # boxes already in the project (a second import), skipped
    classes_added: list[str] = field(default_factory=list)


def _check_video(project: ReviewProject, video: VideoTracks) -> None:
    from groundlabel.video import Video, VideoError

    path = project.root / video.name
    if not path.exists():
        raise ProjectError(
            f"{video.name}: the tracks file names this video but the project folder {project.root} does "
            "not hold it; put the clip there under that name (track names clips relative to their folder)"
        )
    try:
        info = Video.open(path).info
    except VideoError as exc:
        raise ProjectError(str(exc)) from None
    if (info.width, info.height) != (video.width, video.height):
        raise ProjectError(
            f"{video.name}: the tracks were made on {video.width}x{video.height} frames but the clip in "
            f"the project is {info.width}x{info.height}; is it another clip under the same name?"
        )


def import_tracks(
    project: ReviewProject, tracks: TrackSet, status: BoxStatus | None = None
) -> TrackImportReport:
    """Add ``tracks``' videos, frames and boxes to ``project`` in one transaction.

    Scored boxes arrive pending (proposals to review) unless ``status`` says otherwise.
    """
    for video in tracks.videos:
        _check_video(project, video)
    report = TrackImportReport()
    known = {c.name for c in project.classes()}
    with project.batch():
        class_ids = project.ensure_classes(tracks.labels)
        report.classes_added = [name for name in tracks.labels if name not in known]
        for video in tracks.videos:
            _import_video(project, video, class_ids, status, report)
    return report


def _import_video(
    project: ReviewProject,
    video: VideoTracks,
    class_ids: dict[str, int],
    status: BoxStatus | None,
    report: TrackImportReport,
) -> None:
    frame_ids = add_video_frames(
        project, video.name, video.width, video.height, video.frames, video.fps, video.frame_count
    )
    existing: set[tuple[int, int, tuple[float, ...]]] = set()
    for image_id in frame_ids.values():
        existing.update((image_id, b.class_id, tuple(b.xyxy)) for b in project.boxes(image_id))
    first_new = project.next_track_id()
    new_ids: dict[int, int] = {}
    by_frame: dict[int, list[dict]] = {}
    for box in video.boxes():
        if box.frame_index not in frame_ids:
            raise GroundlabelError(
                f"{video.name}: a box on frame {box.frame_index}, which the file does not list"
            )
        image_id = frame_ids[box.frame_index]
        xyxy = tuple(float(v) for v in box.xyxy)
        class_id = class_ids[box.label]
        if (image_id, class_id, xyxy) in existing:
            report.duplicates += 1
            continue
        track_id = new_ids.setdefault(box.track_id, first_new + len(new_ids))
        by_frame.setdefault(image_id, []).append(
            {
                "class_id": class_id,
                "xyxy": xyxy,
                "score": box.score,
                "source": BoxSource.IMPORT,
                "status": status or BoxStatus.PENDING,
                "model": None,
                "mask": box.mask,
                "track_id": track_id,
            }
        )
    for image_id, boxes in by_frame.items():
        report.boxes += project.insert_boxes(image_id, boxes)
        if project.image(image_id).state is ImageState.NEW:
            project.set_image_state(image_id, ImageState.PREDICTED)
    report.videos += 1
    report.frames += len(frame_ids)
    report.tracks += len(new_ids)


def read_tracks_file(path: Path) -> TrackSet:
    """A COCO-VID tracks file (``track -o tracks.json``)."""
    from groundlabel.formats.tracks_cocovid import read_cocovid

    return read_cocovid(path)
