"""A reviewed video project back into tracks, for the track formats (MOT, YouTube-VIS, CVAT video...).

The same selection as a dataset export: the frames a person reviewed (or all, with
``include="all"``), and on them the boxes an export takes (accepted, or drawn by hand and
not rejected). Track ids are the project's, renumbered per video from 1 in order of first
appearance, as the formats number them. A box on a frame with no track (drawn by hand
without extending one) is a track of its own.
"""

from __future__ import annotations

from groundlabel.project.exchange import REVIEWED_STATES
from groundlabel.project.store import ReviewProject
from groundlabel.project.video_frames import videos
from groundlabel.trackers.base import TrackedBox
from groundlabel.tracks import TrackSet, VideoTracks


def project_tracks(project: ReviewProject, include: str = "reviewed") -> TrackSet:
    """Every video of the project as ``VideoTracks`` with its selected frames and exported boxes."""
    names = {c.id: c.name for c in project.classes()}
    tracks = TrackSet(
        [c.name for c in project.classes()],
        info={"description": "groundlabel export", "source": str(project.root), "include": include},
    )
    states = None if include == "all" else REVIEWED_STATES
    selected = [r for r in project.images(state=states) if r.video is not None]
    for video in videos(project):
        out = VideoTracks(video.path, video.width, video.height, video.fps, video.frame_count, complete=True)
        frames = sorted((r for r in selected if r.video == video.path), key=lambda r: int(r.frame or 0))
        numbers: dict[int, int] = {}
        loose = -1  # boxes without a track: each its own (negative keys cannot clash)
        for record in frames:
            out.add_frame(int(record.frame or 0), float(record.timestamp or 0.0))
            for box in project.boxes(record.id):
                if not box.exported:
                    continue
                key = box.track_id if box.track_id is not None else loose
                if box.track_id is None:
                    loose -= 1
                number = numbers.setdefault(key, len(numbers) + 1)
                score = 1.0 if box.score is None else float(box.score)
                out.add(
                    [
                        TrackedBox(
                            int(record.frame or 0),
                            number,
                            names[box.class_id],
                            box.xyxy,
                            score,
                            mask=box.mask,
                        )
                    ]
                )
        tracks.videos.append(out)
    return tracks
