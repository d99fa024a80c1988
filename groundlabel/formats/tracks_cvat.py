"""Tracks as CVAT for video 1.1 XML: one ``<track>`` per object, a keyframe box where it was
seen and an ``outside`` box where it left, so CVAT (and Datumaro's ``cvat`` reader) show each
object as one track to fix, interpolating the frames in between.

CVAT keeps one video per task, so one XML holds one video; several videos go to a folder with
``SEQUENCE.xml`` each. Frame numbers are the video's own (from 0, as CVAT decodes the same
file). Every box groundlabel wrote is a keyframe: with ``--every N`` CVAT interpolates the
frames that were not looked at. A track that is missing on a processed frame gets an
``outside="1"`` box there (hidden from that frame until its next keyframe), and one on the
processed frame after its last box when it ends before the video does. Tracker-filled boxes
(between two sightings) are written as keyframes too, with ``source="semi-auto"`` on the track
when it has any, ``auto`` otherwise; the score goes into a ``score`` attribute.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

from groundlabel.atomic import write_text_atomic
from groundlabel.errors import GroundlabelError
from groundlabel.trackers.base import TrackedBox
from groundlabel.tracks import TrackSet, VideoTracks

_PALETTE = ("#e6194b", "#3cb44b", "#ffe119", "#4363d8", "#f58231", "#911eb4", "#46f0f0", "#f032e6")


def _text(parent: ET.Element, tag: str, value: object) -> ET.Element:
    element = ET.SubElement(parent, tag)
    element.text = str(value)
    return element


def _meta(root: ET.Element, tracks: TrackSet, video: VideoTracks, size: int) -> None:
    meta = ET.SubElement(root, "meta")
    task = ET.SubElement(meta, "task")
    for tag, value in (("id", 1), ("name", video.sequence), ("size", size), ("mode", "interpolation"),
                       ("overlap", 0), ("start_frame", 0), ("stop_frame", max(0, size - 1)),
                       ("frame_filter", "")):  # fmt: skip
        _text(task, tag, value)
    labels = ET.SubElement(task, "labels")
    for number, name in enumerate(tracks.labels):
        label = ET.SubElement(labels, "label")
        _text(label, "name", name)
        _text(label, "color", _PALETTE[number % len(_PALETTE)])
        _text(label, "type", "rectangle")
        attributes = ET.SubElement(label, "attributes")
        attribute = ET.SubElement(attributes, "attribute")
        for tag, value in (("name", "score"), ("mutable", "True"), ("input_type", "number"),
                           ("default_value", "0"), ("values", "0;1;0.00001")):  # fmt: skip
            _text(attribute, tag, value)
    original = ET.SubElement(task, "original_size")
    _text(original, "width", video.width)
    _text(original, "height", video.height)
    _text(meta, "dumped", datetime.now(UTC).isoformat(timespec="seconds"))


def _box(track: ET.Element, frame: int, xyxy: tuple[float, ...], *, outside: bool, score: float) -> None:
    x0, y0, x1, y1 = xyxy
    element = ET.SubElement(
        track, "box", frame=str(frame), keyframe="1", outside="1" if outside else "0", occluded="0",
        xtl=f"{x0:.2f}", ytl=f"{y0:.2f}", xbr=f"{x1:.2f}", ybr=f"{y1:.2f}", z_order="0",
    )  # fmt: skip
    attribute = ET.SubElement(element, "attribute", name="score")
    attribute.text = f"{score:.5f}"


def _track_boxes(track: ET.Element, boxes: list[TrackedBox], processed: list[int]) -> None:
    """Keyframes where seen; ``outside`` on the first processed frame of each absence."""
    seen = {box.frame_index: box for box in boxes}
    last = boxes[0]
    inside = False
    for frame in (f for f in processed if f >= boxes[0].frame_index):
        box = seen.get(frame)
        if box is not None:
            _box(track, frame, box.xyxy, outside=False, score=box.score)
            last, inside = box, True
        elif inside:
            _box(track, frame, last.xyxy, outside=True, score=last.score)
            inside = False


def cvat_video_xml(tracks: TrackSet, video: VideoTracks) -> str:
    """One video's tracks as CVAT for video 1.1 XML text."""
    processed = sorted(index for index, _ in video.frames)
    size = video.frame_count or (processed[-1] + 1 if processed else 0)
    root = ET.Element("annotations")
    _text(root, "version", "1.1")
    by_track = video.tracks()
    for boxes in by_track.values():
        tracks.category_id(boxes[0].label)  # a closed-set class the prompt did not name joins the labels
    _meta(root, tracks, video, size)
    for number, boxes in enumerate(by_track.values()):  # CVAT numbers tracks from 0, in order
        source = "semi-auto" if any(b.interpolated for b in boxes) else "auto"
        track = ET.SubElement(
            root, "track", id=str(number), label=boxes[0].label, source=source, group_id="0"
        )
        _track_boxes(track, boxes, processed)
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_cvat_video(tracks: TrackSet, out: Path) -> list[Path]:
    """``out.xml``: one video; a folder: ``SEQUENCE.xml`` per video."""
    if out.suffix.lower() == ".xml":
        if len(tracks.videos) != 1:
            raise GroundlabelError(
                f"-o {out}: CVAT keeps one video per task and one .xml holds one; give a folder "
                f"(-o OUT/ --format cvat-video) for {len(tracks.videos)} videos"
            )
        write_text_atomic(out, cvat_video_xml(tracks, tracks.videos[0]))
        return [out]
    written = []
    for video in tracks.videos:
        path = out / f"{video.sequence}.xml"
        write_text_atomic(path, cvat_video_xml(tracks, video))
        written.append(path)
    return written
