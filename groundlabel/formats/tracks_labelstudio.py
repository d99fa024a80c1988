"""Tracks as Label Studio video tasks: one task per video, one ``videorectangle`` region per track.

Label Studio's ``<Video>`` with ``<VideoRectangle>`` (and ``<Labels>`` for the class) stores a
track as a ``sequence`` of keyframes: ``frame`` counts from 1, ``time`` is the 0-based frame
index over the frame rate, ``x``/``y``/``width``/``height`` are percentages of the frame, and
``enabled: false`` on a keyframe stops the interpolation after it (the object is gone until the
next keyframe). So each box groundlabel tracked is a keyframe, and the last box before an
absence, or at the end of a track, is not enabled. ``framesCount`` and ``duration`` describe the
video as Label Studio's player counts it. The tasks go into a project with
``groundlabel track ... -o tasks.json --format label-studio`` and Label Studio's import, as
predictions (``model_version`` names the run), for a person to fix track by track.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from groundlabel.trackers.base import TrackedBox
from groundlabel.tracks import TrackSet, VideoTracks

#: the labelling config these tasks fit (the names are the defaults of the options below).
LABEL_CONFIG = """<View>
  <Labels name="videoLabels" toName="video" allowEmpty="true">
{labels}  </Labels>
  <Video name="video" value="$video" framerate="{fps:g}"/>
  <VideoRectangle name="box" toName="video"/>
</View>
"""


def label_config(tracks: TrackSet, fps: float = 25.0) -> str:
    """A ``<Video>`` labelling config with a label per class, for a new project."""
    labels = "".join(f'    <Label value="{name}"/>\n' for name in tracks.labels)
    return LABEL_CONFIG.format(labels=labels, fps=fps)


def _keyframe(box: TrackedBox, video: VideoTracks, enabled: bool) -> dict[str, Any]:
    x0, y0, x1, y1 = box.xyxy
    return {
        "frame": box.frame_index + 1,
        "enabled": enabled,
        "rotation": 0,
        "x": round(100 * x0 / video.width, 4),
        "y": round(100 * y0 / video.height, 4),
        "width": round(100 * (x1 - x0) / video.width, 4),
        "height": round(100 * (y1 - y0) / video.height, 4),
        "time": round(box.frame_index / video.fps, 6) if video.fps else 0.0,
    }


def sequence(boxes: list[TrackedBox], video: VideoTracks) -> list[dict[str, Any]]:
    """A track's keyframes; the last one before each absence (a processed frame without it) is off."""
    processed = sorted(index for index, _ in video.frames)
    seen = {box.frame_index for box in boxes}
    following = dict(pairwise(processed))
    return [_keyframe(box, video, following.get(box.frame_index) in seen) for box in boxes]


def track_regions(
    video: VideoTracks, *, from_name: str = "box", to_name: str = "video", id_prefix: str = "track-"
) -> list[dict[str, Any]]:
    """One ``videorectangle`` region per track of ``video`` (the ML backend's predictions are these too)."""
    frames = video.frame_count or (max(i for i, _ in video.frames) + 1 if video.frames else 0)
    duration = round(frames / video.fps, 6) if video.fps else 0.0
    results = []
    for track_id, boxes in video.tracks().items():
        results.append(
            {
                "id": f"{id_prefix}{track_id}",
                "from_name": from_name,
                "to_name": to_name,
                "type": "videorectangle",
                "origin": "prediction",
                "value": {
                    "framesCount": frames,
                    "duration": duration,
                    "sequence": sequence(boxes, video),
                    "labels": [boxes[0].label],
                },
                "score": round(sum(b.score for b in boxes) / len(boxes), 5),
            }
        )
    return results


def video_task(
    tracks: TrackSet, video: VideoTracks, url: str, *, model_version: str,
    from_name: str = "box", to_name: str = "video", data_key: str = "video",
) -> dict[str, Any]:  # fmt: skip
    """One video's task: its URL under ``data_key`` and its tracks as one prediction."""
    for boxes in video.tracks().values():
        tracks.category_id(boxes[0].label)
    results = track_regions(video, from_name=from_name, to_name=to_name)
    scores = [r["score"] for r in results]
    prediction = {
        "model_version": model_version,
        "score": round(sum(scores) / len(scores), 5) if scores else 0.0,
        "result": results,
    }
    return {"data": {data_key: url}, "predictions": [prediction]}


def build_ls_video_tasks(
    tracks: TrackSet, url_prefix: str = "", model_version: str = "groundlabel-track"
) -> list:
    """Every video as a task; its ``data`` URL is ``url_prefix`` followed by the video's name."""
    return [
        video_task(tracks, video, f"{url_prefix}{video.name}", model_version=model_version)
        for video in tracks.videos
    ]
