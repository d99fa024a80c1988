"""Tracks as COCO-VID / TAO JSON: ``videos``, one ``images`` entry per processed frame, annotations with ``track_id``.

Why this is the default for ``-o tracks.json``: it is plain COCO plus video keys, so COCO
tools (pycocotools) open it as a detection set, and video tools (mmtracking's ``CocoVID``,
TAO) read ``video_id``, ``frame_id`` and ``track_id`` (also written as ``instance_id``, the
name mmtracking uses). Track ids are unique across the file: video 2's tracks continue after
video 1's. It is also the file ``--resume`` reads back, so it keeps each video's
``complete`` flag and the run's frame timestamps. A tracker that follows masks (SAM 2.1)
adds each box's ``segmentation`` as compressed RLE, which pycocotools decodes as it is.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from groundlabel.errors import GroundlabelError
from groundlabel.trackers.base import TrackedBox
from groundlabel.tracks import TrackSet, VideoTracks


def build_cocovid(tracks: TrackSet) -> dict[str, Any]:
    videos, images, annotations = [], [], []
    id_offset = 0
    for video_id, video in enumerate(tracks.videos, start=1):
        videos.append(
            {
                "id": video_id,
                "name": video.name,
                "width": video.width,
                "height": video.height,
                "fps": video.fps,
                "frame_count": video.frame_count,
                "complete": video.complete,
                **({"error": video.error} if video.error else {}),
            }
        )
        image_ids = {}
        for index, timestamp in video.frames:
            image_ids[index] = len(images) + 1
            images.append(
                {
                    "id": image_ids[index],
                    "video_id": video_id,
                    "frame_id": index,
                    "file_name": video.frame_file(index),
                    "width": video.width,
                    "height": video.height,
                    "timestamp": round(timestamp, 6),
                }
            )
        top = 0
        for box in video.boxes():
            x0, y0, x1, y1 = box.xyxy
            track_id = id_offset + box.track_id
            top = max(top, box.track_id)
            # Area from the rounded bbox, so a file read back (--resume) and written again is unchanged.
            bbox = [round(x0, 2), round(y0, 2), round(x1 - x0, 2), round(y1 - y0, 2)]
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_ids[box.frame_index],
                    "video_id": video_id,
                    "category_id": tracks.category_id(box.label),
                    "track_id": track_id,
                    "instance_id": track_id,
                    "bbox": bbox,
                    "area": round(bbox[2] * bbox[3], 2),
                    "score": round(box.score, 5),
                    "iscrowd": 0,
                    "interpolated": box.interpolated,
                    **({"segmentation": box.mask} if box.mask is not None else {}),
                }
            )
        id_offset += top
    return {
        "info": tracks.info,
        "videos": videos,
        "images": images,
        "annotations": annotations,
        "categories": [{"id": i, "name": name} for i, name in enumerate(tracks.labels, start=1)],
    }


def read_cocovid(path: str | Path) -> TrackSet:
    """Our COCO-VID back into tracks (``--resume``); track ids are per video again."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
        names = {c["id"]: c["name"] for c in document["categories"]}
        tracks = TrackSet([names[k] for k in sorted(names)], info=document.get("info", {}))
        by_video: dict[int, VideoTracks] = {}
        frame_of: dict[int, tuple[int, int]] = {}
        for entry in document["videos"]:
            by_video[entry["id"]] = VideoTracks(
                entry["name"],
                entry["width"],
                entry["height"],
                entry["fps"],
                entry.get("frame_count"),
                complete=bool(entry.get("complete")),
                error=entry.get("error"),
            )
        for image in document["images"]:
            by_video[image["video_id"]].add_frame(image["frame_id"], image.get("timestamp", 0.0))
            frame_of[image["id"]] = (image["video_id"], image["frame_id"])
        first_id: dict[int, int] = {}
        for ann in document["annotations"]:
            first_id[ann["video_id"]] = min(first_id.get(ann["video_id"], ann["track_id"]), ann["track_id"])
        for ann in document["annotations"]:
            video_id, index = frame_of[ann["image_id"]]
            x, y, w, h = ann["bbox"]
            by_video[video_id].add(
                [
                    TrackedBox(
                        index,
                        ann["track_id"] - first_id[video_id] + 1,
                        names[ann["category_id"]],
                        (x, y, x + w, y + h),
                        float(ann.get("score", 1.0)),
                        bool(ann.get("interpolated", False)),
                        _mask(ann.get("segmentation"), by_video[video_id]),
                    )
                ]
            )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise GroundlabelError(f"{path}: not a COCO-VID tracks file groundlabel wrote ({exc})") from None
    tracks.videos = list(by_video.values())
    return tracks


def _mask(segmentation: object, video: VideoTracks) -> dict | None:
    """A box's RLE read back through the one mask door (sizes and counts checked), or None."""
    if segmentation is None:
        return None
    from groundlabel import masks

    return masks.check(segmentation, video.width, video.height)
