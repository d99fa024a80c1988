"""Label Studio video tasks from `groundlabel track`, imported into a real Label Studio 1.23.2 (the
run's one server): it takes our ``videorectangle`` predictions against a ``<Video>`` config,
serves the video from local files, and gives back, from its own store, one region per track with
every keyframe we wrote (frames from 1, percentages of the frame, the class)."""

from __future__ import annotations

import json

import httpx
import pytest
from labelstudio_server import LabelStudio

from groundlabel.cli import main
from groundlabel.devtools.synthetic_video import noisy_detections, standard_clip, write_clip
from groundlabel.formats.tracks_labelstudio import label_config
from groundlabel.tracks import TrackSet

pytestmark = pytest.mark.labelstudio


def test_label_studio_imports_and_exports_our_video_tracks(label_studio: LabelStudio, tmp_path):
    folder = label_studio.files_root / "videos-track"
    folder.mkdir()
    clip = standard_clip(seed=3)
    video = write_clip(clip, folder / "clip3.mp4")
    detections = tmp_path / "det3.txt"
    detections.write_text("\n".join(noisy_detections(clip, seed=3)) + "\n")
    tasks_file, coco_file = tmp_path / "tasks.json", tmp_path / "tracks.json"
    base = ["track", str(video), "--detections", str(detections), "-l", "square, disc"]
    assert main([*base, "-o", str(tasks_file), "--format", "label-studio",
                 "--url-prefix", "/data/local-files/?d=videos-track/"]) == 0  # fmt: skip
    assert main([*base, "-o", str(coco_file)]) == 0

    project_id = label_studio.create_project("video tracks", label_config(TrackSet(["square", "disc"])))
    # Label Studio serves a local file only under a Local Files storage of the project (never synced here).
    storage = {"project": project_id, "path": str(folder), "regex_filter": "^$", "use_blob_urls": True}
    label_studio.api("POST", "/api/storages/localfiles/", json=storage)
    label_studio.api("POST", f"/api/projects/{project_id}/import", json=json.loads(tasks_file.read_text()))
    (task,) = label_studio.tasks(project_id)
    served = httpx.get(
        label_studio.url + task["data"]["video"], headers=label_studio.access_header(), timeout=30
    )
    assert served.status_code == 200 and served.content == video.read_bytes()

    (regions,) = [p["result"] for p in label_studio.predictions(task["id"])]
    coco = json.loads(coco_file.read_text())
    frame_of = {image["id"]: image["frame_id"] for image in coco["images"]}
    names = {c["id"]: c["name"] for c in coco["categories"]}
    ours: dict[int, list] = {}
    for a in coco["annotations"]:
        ours.setdefault(a["track_id"], []).append(
            (frame_of[a["image_id"]] + 1, names[a["category_id"]], a["bbox"])
        )
    assert len(regions) == len(ours) > 2
    width, height = coco["videos"][0]["width"], coco["videos"][0]["height"]
    for region in regions:
        assert (
            region["type"] == "videorectangle"
            and region["from_name"] == "box"
            and region["to_name"] == "video"
        )
        track = sorted(ours[int(region["id"].removeprefix("track-"))])
        keyframes = region["value"]["sequence"]
        assert [k["frame"] for k in keyframes] == [frame for frame, _, _ in track]
        assert region["value"]["labels"] == [track[0][1]]
        for keyframe, (_, _, (x, y, w, h)) in zip(keyframes, track, strict=True):
            expected = (100 * x / width, 100 * y / height, 100 * w / width, 100 * h / height)
            got = (keyframe["x"], keyframe["y"], keyframe["width"], keyframe["height"])
            assert got == pytest.approx(expected, abs=0.01)
        assert keyframes[-1]["enabled"] is False  # the track stops at its last box
