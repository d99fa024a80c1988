"""Video pre-labels followed by the backend's video tracker (``serve``/``ls-prelabel --tracker``).

With ``--tracker`` the detector's boxes on each frame seed a SAM 2.1 video tracker instead of
being linked by ByteTrack. The backend calls the same core loop as ``groundlabel track
--tracker CHECKPOINT``, so its regions must equal that command's Label Studio output, keyframe
for keyframe; and the model version must name the tracker, or Label Studio would skip the
tasks a ByteTrack backend already predicted.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from groundlabel.backend.predictor import Predictor
from groundlabel.backend.settings import BackendSettings
from groundlabel.backend.task_images import TaskImageFetcher
from test_backend_video import CONFIG  # the module's <Video> + <VideoRectangle> config

from groundlabel.cli import main
from groundlabel.detector import DetectionSettings
from groundlabel.devtools.random_trackers import save_random_video_tracker
from groundlabel.devtools.synthetic_video import standard_clip, write_clip
from groundlabel.trackers.sam2_video import Sam2VideoTrackers

LENGTH = 6  # frames: a SAM 2.1 session per clip is the slow part on 2 cores
THRESHOLD = "0.05"  # the tiny random detector's few strongest boxes, so the tracker has a handful


@pytest.fixture(scope="module")
def clip_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("video-root")
    write_clip(standard_clip(length=LENGTH, seed=3), root / "clips" / "clip.mp4")
    return root


@pytest.fixture(scope="module")
def tracker_dir(tmp_path_factory) -> Path:
    return save_random_video_tracker(tmp_path_factory.mktemp("sam2-video"))


def predictor(detector, root: Path, video_tracker=None) -> Predictor:
    settings = BackendSettings(local_files_root=root.resolve())
    detection = DetectionSettings(float(THRESHOLD), 0.0)
    return Predictor(detector, detection, TaskImageFetcher(settings), video_tracker=video_tracker)


def test_video_tasks_are_followed_by_the_tracker_as_groundlabel_track_does(
    tiny_detector, tiny_model_dir, clip_root, tracker_dir, tmp_path
):
    tracked = predictor(tiny_detector, clip_root, Sam2VideoTrackers(str(tracker_dir), "cpu"))
    task = {"id": 4, "data": {"video": "/data/local-files/?d=clips/clip.mp4"}}
    (entry,) = tracked.predict_tasks([task], CONFIG).results
    regions = entry["result"]
    assert regions, "the detector's boxes at this threshold start tracks"

    out = tmp_path / "tasks.json"
    command = ["track", str(clip_root / "clips" / "clip.mp4"), "--model", str(tiny_model_dir)]
    command += ["-l", "square, disc", "--box-threshold", THRESHOLD, "--text-threshold", "0"]
    command += ["--tracker", str(tracker_dir), "--device", "cpu"]
    assert main([*command, "-o", str(out), "--format", "label-studio"]) == 0
    (expected_task,) = json.loads(out.read_text())
    expected = expected_task["predictions"][0]["result"]
    assert [r["value"] for r in regions] == [r["value"] for r in expected]
    assert [r["score"] for r in regions] == [r["score"] for r in expected]

    # ByteTrack on the same boxes links them differently: the tracker really took part.
    (plain,) = predictor(tiny_detector, clip_root).predict_tasks([task], CONFIG).results
    assert [r["value"] for r in plain["result"]] != [r["value"] for r in regions]
    # The model version names the tracker, so a ByteTrack backend's predictions are not "done".
    assert tracked.model_version != plain["model_version"]
    assert entry["model_version"] == tracked.model_version
