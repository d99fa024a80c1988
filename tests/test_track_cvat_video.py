"""CVAT for video 1.1 XML from `groundlabel track`, read back by Datumaro's ``cvat`` reader (not
ours): every box we tracked is a keyframe of its track on its frame, with its class and
coordinates, and each track is closed by an ``outside`` box where it leaves before the end."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from groundlabel.cli import main
from groundlabel.devtools.synthetic_video import noisy_detections, standard_clip, write_clip


@pytest.fixture(scope="module")
def clip_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("cvat-video")
    clip = standard_clip(seed=2)
    video = write_clip(clip, folder / "clip2.mp4")
    detections = folder / "det2.txt"
    detections.write_text("\n".join(noisy_detections(clip, seed=2)) + "\n")
    return video, detections


def _track(video: Path, detections: Path, output: Path) -> None:
    argv = ["track", str(video), "--detections", str(detections), "-l", "square, disc", "-o", str(output)]
    assert main(argv) == 0


def test_datumaro_reads_our_tracks_as_cvat_video(clip_files, tmp_path):
    import datumaro as dm
    from pycocotools.coco import COCO

    video, detections = clip_files
    _track(video, detections, tmp_path / "tracks.xml")
    _track(video, detections, tmp_path / "tracks.json")
    dataset = dm.Dataset.import_from(str(tmp_path / "tracks.xml"), "cvat")
    names = [c.name for c in dataset.categories()[dm.AnnotationType.label]]
    assert names == ["square", "disc"]
    shown, closed = [], []
    for item in dataset:
        frame = int(item.attributes.get("frame", item.id.rsplit("_", 1)[-1]))
        for a in item.annotations:
            row = (frame, a.attributes["track_id"], names[a.label], *np.round(a.get_bbox(), 1))
            (closed if a.attributes.get("outside") else shown).append(row)
    coco = COCO(str(tmp_path / "tracks.json"))
    frame_of = {img["id"]: img["frame_id"] for img in coco.dataset["images"]}
    order = {tid: n for n, tid in enumerate(sorted({a["track_id"] for a in coco.dataset["annotations"]}))}
    ours = sorted(
        (
            frame_of[a["image_id"]],
            order[a["track_id"]],
            coco.cats[a["category_id"]]["name"],
            *np.round(a["bbox"], 1),
        )
        for a in coco.dataset["annotations"]
    )
    shown.sort()
    assert len(shown) == len(ours) > 100
    assert [s[:3] for s in shown] == [o[:3] for o in ours]  # frame, track, class
    assert np.allclose([s[3:] for s in shown], [o[3:] for o in ours], atol=0.11)
    # The clip has an object that leaves: its track is closed on the frame after its last box.
    last_frame = max(frame_of.values())
    ends = {}
    for frame, track, *_ in shown:
        ends[track] = max(ends.get(track, -1), frame)
    leaving = {t for t, end in ends.items() if end < last_frame}
    assert leaving and {(c[0], c[1]) for c in closed} >= {(ends[t] + 1, t) for t in leaving}


def test_several_videos_need_a_folder_and_get_one_xml_each(tmp_path):
    from groundlabel.errors import GroundlabelError
    from groundlabel.formats.tracks_cvat import write_cvat_video
    from groundlabel.trackers.base import TrackedBox
    from groundlabel.tracks import TrackSet, VideoTracks

    tracks = TrackSet(["car"])
    for name in ("a/left.mp4", "right.mp4"):
        video = VideoTracks(name, 64, 48, 25.0, frame_count=3, frames=[(0, 0.0), (1, 0.04), (2, 0.08)])
        video.add([TrackedBox(0, 7, "car", (1.0, 2.0, 10.0, 12.0), 0.9)])
        tracks.videos.append(video)
    with pytest.raises(GroundlabelError, match=r"one \.xml holds one"):
        write_cvat_video(tracks, tmp_path / "two.xml")
    written = write_cvat_video(tracks, tmp_path / "cvat")
    assert sorted(p.name for p in written) == ["a__left.xml", "right.xml"]
    text = written[0].read_text()
    assert (
        '<box frame="0" keyframe="1" outside="0"' in text
        and '<box frame="1" keyframe="1" outside="1"' in text
    )
