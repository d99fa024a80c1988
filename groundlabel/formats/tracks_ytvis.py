"""Tracks as YouTube-VIS JSON: one annotation per track, with a box (or null) for every frame of the video.

YouTube-VIS (and OVIS, and the VIS tools built on them) index a track's ``bboxes``,
``areas`` and ``segmentations`` by the position of the frame in the video's
``file_names``. Only the processed frames are listed, so ``--every 5`` gives a video of a
fifth of the frames, as the data set itself samples. ``segmentations`` hold each frame's
compressed RLE when the tracker followed masks (SAM 2.1), else null.
"""

from __future__ import annotations

from typing import Any

from groundlabel import masks
from groundlabel.tracks import TrackSet


def build_ytvis(tracks: TrackSet) -> dict[str, Any]:
    videos, annotations = [], []
    for video_id, video in enumerate(tracks.videos, start=1):
        position = {index: i for i, (index, _) in enumerate(video.frames)}
        videos.append(
            {
                "id": video_id,
                "name": video.name,
                "width": video.width,
                "height": video.height,
                "length": len(video.frames),
                "file_names": [video.frame_file(index) for index, _ in video.frames],
            }
        )
        for boxes in video.tracks().values():
            bboxes: list[list[float] | None] = [None] * len(video.frames)
            areas: list[float | None] = [None] * len(video.frames)
            segmentations: list[dict | None] = [None] * len(video.frames)
            for box in boxes:
                x0, y0, x1, y1 = box.xyxy
                i = position[box.frame_index]
                bboxes[i] = [round(x0, 2), round(y0, 2), round(x1 - x0, 2), round(y1 - y0, 2)]
                areas[i] = round((x1 - x0) * (y1 - y0), 2)
                if box.mask is not None:
                    segmentations[i] = box.mask
                    areas[i] = float(masks.area(box.mask))
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "video_id": video_id,
                    "category_id": tracks.category_id(boxes[0].label),
                    "iscrowd": 0,
                    "width": video.width,
                    "height": video.height,
                    "length": 1,
                    "bboxes": bboxes,
                    "areas": areas,
                    "segmentations": segmentations,
                    "score": round(sum(b.score for b in boxes) / len(boxes), 5),
                }
            )
    return {
        "info": tracks.info,
        "videos": videos,
        "annotations": annotations,
        "categories": [{"id": i, "name": name} for i, name in enumerate(tracks.labels, start=1)],
    }
