"""Interactive tracks on a video: a drawn ``VideoRectangle`` followed through the clip.

Why: in interactive mode on a ``<Video>`` task, Label Studio sends the region the annotator drew
in ``params.context.result``: a ``videorectangle`` whose ``value.sequence`` holds its keyframes
(``frame`` counted from 1, ``x``/``y``/``width``/``height`` in percent). The latest keyframe is the
prompt of a one-object video tracker (``SingleObjectTrack``: SAM 2.1, SAM 3 tracker or EdgeTAM),
and the answer is the same region as a track: one keyframe per frame tracked after the prompt,
at most ``max_frames`` of them, so one request stays bounded on a CPU.

This module is the parsing, tracking and sequence building; it is not yet wired into the
predictor (see the report of issue 27).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from PIL import Image

from groundlabel.errors import GroundlabelError
from groundlabel.trackers.base import TrackedBox

#: Frames tracked after the prompt when nothing else is configured (Label Studio's example tracks 10).
DEFAULT_MAX_FRAMES = 30


class VideoPromptError(GroundlabelError):
    """A video region in the context that cannot prompt a tracker."""


@dataclass(frozen=True)
class VideoPrompt:
    """One drawn video rectangle: where it was drawn (0-based frame index) and its percent box."""

    region_id: str | None
    from_name: str
    to_name: str
    labels: list[str]
    frame_index: int
    box: tuple[float, float, float, float]  # x, y, width, height in percent


def video_prompts(context: object) -> list[VideoPrompt]:
    """Every ``videorectangle`` of the context, each prompted by its latest keyframe."""
    if not isinstance(context, dict) or not isinstance(context.get("result"), list):
        return []
    prompts = []
    for item in context["result"]:
        if not isinstance(item, dict) or item.get("type") != "videorectangle":
            continue
        value = item.get("value")
        sequence = value.get("sequence") if isinstance(value, dict) else None
        if not isinstance(sequence, list) or not sequence:
            raise VideoPromptError("the video rectangle in the context has no keyframes (value.sequence)")
        keyframe = _latest(sequence)
        labels = value.get("labels") or []
        prompts.append(
            VideoPrompt(
                region_id=item.get("id"),
                from_name=str(item.get("from_name") or ""),
                to_name=str(item.get("to_name") or ""),
                labels=[label for label in labels if isinstance(label, str)],
                frame_index=int(keyframe["frame"]) - 1,
                box=tuple(float(keyframe[key]) for key in ("x", "y", "width", "height")),  # type: ignore[arg-type]
            )
        )
    return prompts


def _latest(sequence: list[Any]) -> dict[str, Any]:
    keys = ("frame", "x", "y", "width", "height")
    frames = [k for k in sequence if isinstance(k, dict) and all(_number(k.get(key)) for key in keys)]
    if not frames:
        raise VideoPromptError("no keyframe of the video rectangle has frame, x, y, width and height numbers")
    latest = max(frames, key=lambda k: k["frame"])
    if latest["frame"] < 1 or latest["width"] <= 0 or latest["height"] <= 0:
        raise VideoPromptError(f"keyframe {latest['frame']}: frames count from 1 and a box needs a size")
    return latest


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def pixel_box(
    box: tuple[float, float, float, float], size: tuple[int, int]
) -> tuple[float, float, float, float]:
    """A percent ``(x, y, width, height)`` as xyxy pixels of a ``size`` frame."""
    x, y, w, h = box
    width, height = size
    return (x * width / 100, y * height / 100, (x + w) * width / 100, (y + h) * height / 100)


def track_prompt(
    start: Callable[[Image.Image, tuple[float, float, float, float]], Any],
    frames: Iterable[tuple[int, Image.Image]],
    prompt: VideoPrompt,
    max_frames: int,
    out_of_time: Callable[[], bool] = lambda: False,
) -> list[tuple[int, TrackedBox | None]]:
    """The object on the prompt's frame and on up to ``max_frames`` frames after it.

    ``start(image, xyxy)`` makes the one-object track (``SingleObjectTrack``); ``frames`` are
    ``(index, image)`` in order from the clip's start or later. Stops early when time is out.
    """
    track = None
    found: list[tuple[int, TrackedBox | None]] = []
    for index, image in frames:
        if index < prompt.frame_index:
            continue
        if track is None:
            if index != prompt.frame_index:
                raise VideoPromptError(f"the clip has no frame {prompt.frame_index + 1}")
            track = start(image, pixel_box(prompt.box, image.size))
            found.append((index, track.first))
            continue
        if len(found) > max_frames or out_of_time():
            break
        found.append((index, track.step(image)))
    if track is None:
        raise VideoPromptError(f"the clip has no frame {prompt.frame_index + 1}")
    return found


def keyframes(
    found: list[tuple[int, TrackedBox | None]], size: tuple[int, int], fps: float
) -> list[dict[str, Any]]:
    """Label Studio keyframes for each frame the object was seen; the last before a loss is off."""
    width, height = size
    sequence = []
    for position, (index, box) in enumerate(found):
        if box is None:
            continue
        following = found[position + 1][1] if position + 1 < len(found) else None
        x0, y0, x1, y1 = box.xyxy
        sequence.append(
            {
                "frame": index + 1,
                "enabled": following is not None,
                "rotation": 0,
                "x": round(100 * x0 / width, 4),
                "y": round(100 * y0 / height, 4),
                "width": round(100 * (x1 - x0) / width, 4),
                "height": round(100 * (y1 - y0) / height, 4),
                "time": round(index / fps, 6) if fps else 0.0,
            }
        )
    return sequence


def track_region(
    prompt: VideoPrompt, sequence: list[dict[str, Any]], frames_count: int, fps: float
) -> dict[str, Any]:
    """The drawn region answered as a track: same id, names and labels, the tracked keyframes."""
    value: dict[str, Any] = {
        "framesCount": frames_count,
        "duration": round(frames_count / fps, 6) if fps else 0.0,
        "sequence": sequence,
        "labels": prompt.labels,
    }
    region = {
        "from_name": prompt.from_name,
        "to_name": prompt.to_name,
        "type": "videorectangle",
        "origin": "prediction",
        "value": value,
    }
    if prompt.region_id:
        region["id"] = prompt.region_id
    return region


def answer_video_prompts(
    video: Any,
    prompts: list[VideoPrompt],
    trackers: Any,
    max_frames: int,
    out_of_time: Callable[[], bool] = lambda: False,
) -> list[dict[str, Any]]:
    """Each drawn rectangle of one VideoRectangle control, tracked through ``video`` (a
    ``groundlabel.video.Video``) with ``trackers`` (``Sam2VideoTrackers``), as its region.

    Only the prompt's frame and the ``max_frames`` after it are decoded."""
    from groundlabel.trackers.single_object import SingleObjectTrack
    from groundlabel.video import FrameSelection

    info = video.info
    regions = []
    for prompt in prompts:
        selection = FrameSelection(start=prompt.frame_index, stop=prompt.frame_index + max_frames + 1)
        frames = ((frame.index, frame.image) for frame in video.frames(selection))
        found = track_prompt(
            lambda image, box, label=(prompt.labels or ["object"])[0]: SingleObjectTrack(
                trackers, image, box=box, label=label
            ),
            frames,
            prompt,
            max_frames,
            out_of_time,
        )
        count = info.frame_count or (found[-1][0] + 1 if found else 0)
        region = track_region(prompt, keyframes(found, (info.width, info.height), info.fps), count, info.fps)
        seen = [box.score for _, box in found if box is not None]
        region["score"] = float(sum(seen) / len(seen)) if seen else 0.0  # the tracker's mean object score
        regions.append(region)
    return regions
