"""Video tasks in the Label Studio backend: a <Video> + <VideoRectangle> config is read, the
task's clip is fetched (local file or download, size-bounded) and tracked with the backend's
detector and ByteTrack, and the prediction holds one ``videorectangle`` region per track.

The tracks must be exactly those of ``groundlabel track`` with the same model and thresholds
(the backend calls the same core loop), so the test compares against the command's Label
Studio output. The tiny random model runs with thresholds at 0 so its boxes come through.
"""

from __future__ import annotations

import json
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from groundlabel.backend.label_config import BoxTarget, LabelConfigError, parse_targets
from groundlabel.backend.label_video import VideoTarget, parse_video_targets
from groundlabel.backend.predictor import Predictor
from groundlabel.backend.settings import BackendSettings
from groundlabel.backend.task_images import TaskImageFetcher
from groundlabel.backend.task_video import open_task_video, video_name
from groundlabel.backend.video_predictions import TaskStopped
from test_backend_images import FakeServer

from groundlabel.cli import main
from groundlabel.detector import DetectionSettings
from groundlabel.devtools.synthetic_video import standard_clip, write_clip
from groundlabel.errors import ImageLoadError

CONFIG = """
<View>
  <Labels name="videoLabels" toName="video" allowEmpty="true">
    <Label value="square"/>
    <Label value="disc"/>
  </Labels>
  <Video name="video" value="$video" framerate="10"/>
  <VideoRectangle name="box" toName="video"/>
</View>
"""
LENGTH = 12  # frames: enough for tracks to start, gap and end; short for a 2-core machine


@pytest.fixture(scope="module")
def clip_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("video-root")
    write_clip(standard_clip(length=LENGTH, seed=5), root / "clips" / "clip5.mp4")
    return root


@pytest.fixture
def predictor(tiny_detector, clip_root) -> Predictor:
    settings = BackendSettings(local_files_root=clip_root.resolve())
    return Predictor(tiny_detector, DetectionSettings(0.0, 0.0), TaskImageFetcher(settings))


def task(reference: str = "/data/local-files/?d=clips/clip5.mp4", task_id: int = 7) -> dict:
    return {"id": task_id, "data": {"video": reference}}


def test_a_video_rectangle_config_is_a_video_target_with_the_videos_labels():
    (target,) = parse_targets(CONFIG)
    assert isinstance(target, VideoTarget)
    assert (target.from_name, target.to_name, target.data_key) == ("box", "video", "video")
    assert target.labels.names == ["square", "disc"] and target.framerate == 10.0

    mixed = CONFIG.replace(
        "</View>",
        '<Image name="img" value="$image"/><RectangleLabels name="r" toName="img">'
        '<Label value="Cat" predicted_values="cat,kitten"/></RectangleLabels>'
        '<Labels name="other" toName="video" model_score_threshold="0.4"><Label value="Star"/></Labels></View>',
    )
    image, video = parse_targets(mixed)
    assert isinstance(image, BoxTarget) and isinstance(video, VideoTarget)
    assert video.labels.names == ["square", "disc", "Star"]
    # No Labels on the video, or model_skip: nothing to predict there.
    bare = '<View><Video name="v" value="$video"/><VideoRectangle name="b" toName="v"/></View>'
    assert parse_video_targets(bare) == []
    with pytest.raises(LabelConfigError, match="VideoRectangle"):
        parse_targets(bare)
    assert (
        parse_video_targets(
            CONFIG.replace('<VideoRectangle name="box"', '<VideoRectangle model_skip="true" name="box"')
        )
        == []
    )


def test_a_video_task_gets_the_tracks_groundlabel_track_writes(
    predictor, clip_root, tiny_model_dir, tmp_path
):
    started = time.monotonic()
    outcome = predictor.predict_tasks([task()], CONFIG)
    elapsed = time.monotonic() - started
    (entry,) = outcome.results
    assert not outcome.unfinished and entry["model_version"] == predictor.model_version
    regions = entry["result"]
    assert regions, "thresholds of 0 give the untrained model's boxes"
    assert len({r["id"] for r in regions}) == len(regions)
    for item in regions:
        assert (item["from_name"], item["to_name"], item["type"]) == ("box", "video", "videorectangle")
        assert item["id"].startswith("gl-7-box-")
        value = item["value"]
        assert value["framesCount"] == LENGTH and value["duration"] == pytest.approx(LENGTH / 10)
        assert value["labels"][0] in ("square", "disc")
        frames = [k["frame"] for k in value["sequence"]]
        assert frames == sorted(frames) and frames[0] >= 1 and frames[-1] <= LENGTH
        assert value["sequence"][-1]["enabled"] is False
        for keyframe in value["sequence"]:
            assert keyframe["time"] == pytest.approx((keyframe["frame"] - 1) / 10)
    assert entry["score"] == pytest.approx(sum(r["score"] for r in regions) / len(regions))

    # The command on the same clip, model and thresholds: the same tracks, keyframe for keyframe.
    out = tmp_path / "tasks.json"
    command = ["track", str(clip_root / "clips" / "clip5.mp4"), "--model", str(tiny_model_dir)]
    command += ["-l", "square, disc", "--box-threshold", "0", "--text-threshold", "0", "--device", "cpu"]
    assert main([*command, "-o", str(out), "--format", "label-studio"]) == 0
    (expected_task,) = json.loads(out.read_text())
    expected = expected_task["predictions"][0]["result"]
    assert [r["value"] for r in regions] == [r["value"] for r in expected]
    assert [r["score"] for r in regions] == [r["score"] for r in expected]
    print(f"one {LENGTH}-frame video task through the backend: {elapsed:.1f} s")


def test_a_video_past_the_budget_or_at_shutdown_is_left_for_the_queue(predictor):
    # The deadline passes during the first video: no partial prediction, the task is unfinished.
    outcome = predictor.predict_tasks([task()], CONFIG, deadline=time.monotonic())
    assert outcome.results == [[]] and outcome.unfinished == [7]
    seen = []
    with pytest.raises(TaskStopped, match="stopped after 3 frame"):
        predictor.predict_task(
            task(), parse_targets(CONFIG), stopped=lambda: len(seen) >= 3, frames=_count(seen)
        )
    assert predictor.claims.claim([7], "background")  # nothing kept the task claimed


class FakeClient:
    """The three API calls ``prelabel_project`` makes, over two video tasks."""

    def __init__(self) -> None:
        self.posted: list[int] = []

    def get_project(self, project_id: int) -> dict:
        return {"label_config": CONFIG}

    def iter_tasks(self, project_id: int, task_ids=None):
        yield from ({**task(task_id=i), "predictions": []} for i in (1, 2))

    def create_prediction(self, task_id: int, result: dict) -> None:
        self.posted.append(task_id)


def test_ls_prelabel_posts_each_video_and_a_stop_mid_video_posts_nothing(predictor):
    from groundlabel.backend.prelabel import prelabel_project

    client, stop, seen = FakeClient(), threading.Event(), []
    bars = []

    @contextmanager
    def frames(name, total):
        bars.append((name, total))

        def update(n: int) -> None:
            seen.append(n)
            if len(bars) == 2 and len(seen) == LENGTH + 4:  # four frames into the second video
                stop.set()

        yield update

    done = []
    report = prelabel_project(
        client, predictor, 1, on_task_done=lambda i, o: done.append((i, o)), stop=stop, frames=frames
    )
    assert client.posted == [1] and done == [(1, "predicted")]
    assert (report.predicted, report.skipped, report.failed) == (1, 0, [])
    assert bars == [("clip5.mp4", LENGTH)] * 2 and len(seen) == LENGTH + 4
    assert predictor.claims.claim([2], "background")  # the stopped task is free for the next run


def _count(seen: list):
    @contextmanager
    def frames(name, total):
        assert (name, total) == ("clip5.mp4", LENGTH)
        yield lambda n: seen.append(n)

    return frames


class ClipServer(FakeServer):
    def __init__(self, body: bytes) -> None:
        super().__init__()
        self.body = body

    def handle(self, request):
        self.send(request, 200, self.body, {"Content-Type": "video/mp4"})


def test_a_downloaded_video_is_bounded_and_removed_after_use(clip_root, tiny_detector):
    body = (clip_root / "clips" / "clip5.mp4").read_bytes()
    server = ClipServer(body)
    try:
        host = server.url.removeprefix("http://")
        settings = BackendSettings(allowed_hosts=(host,))
        fetcher = TaskImageFetcher(settings)
        url = f"{server.url}/media/clip5.mp4?token=1"
        with open_task_video(fetcher, url, 3) as video:
            path = video.path
            assert path.read_bytes() == body and video.info.frame_count == LENGTH
            assert video.name == "clip5.mp4" == video_name(url)
        assert not path.exists() and not path.parent.exists()

        small = TaskImageFetcher(BackendSettings(allowed_hosts=(host,), max_video_bytes=len(body) - 1))
        with pytest.raises(ImageLoadError, match="GROUNDLABEL_MAX_VIDEO_MB"), open_task_video(small, url, 3):
            pass
        # The same allow-list as images: another host is refused before any request.
        refused = TaskImageFetcher(BackendSettings())
        with (
            pytest.raises(ImageLoadError, match="GROUNDLABEL_ALLOWED_HOSTS"),
            open_task_video(refused, url, 3),
        ):
            pass
        # A download that is not a video: one line naming the URL, as a failed task.
        garbage = Predictor(
            tiny_detector,
            DetectionSettings(0.0, 0.0),
            TaskImageFetcher(BackendSettings(allowed_hosts=(host,))),
        )
        server.body = b"not a video at all"
        assert garbage.predict_tasks([task(url)], CONFIG).results == [[]]
    finally:
        server.close()


def ls_export(label_studio, project_id: int) -> dict[int, dict]:
    """Label Studio's own JSON export (a snapshot with predictions in full), by task id."""
    snapshot = label_studio.api(
        "POST",
        f"/api/projects/{project_id}/exports/",
        json={"title": "video", "serialization_options": {"predictions": {"only_id": False}}},
    )
    path = f"/api/projects/{project_id}/exports/{snapshot['id']}"
    deadline = time.monotonic() + 60
    while label_studio.api("GET", path)["status"] != "completed":
        assert time.monotonic() < deadline, label_studio.api("GET", path)
        time.sleep(0.5)
    return {t["id"]: t for t in label_studio.api("GET", f"{path}/download", params={"exportType": "JSON"})}


def wait_for(condition, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def video_project(label_studio, clip_root: Path, folder_name: str) -> tuple[int, Path, str]:
    """A project of this module's config holding the clip as one task, served from a local-files
    storage in ``folder_name``: (project id, the clip's path, the task's video reference)."""
    folder = label_studio.files_root / folder_name
    folder.mkdir()
    clip = folder / "clip5.mp4"
    clip.write_bytes((clip_root / "clips" / "clip5.mp4").read_bytes())
    project_id = label_studio.create_project(folder_name.replace("-", " "), CONFIG)
    storage = {"project": project_id, "path": str(folder), "regex_filter": "^$", "use_blob_urls": True}
    label_studio.api("POST", "/api/storages/localfiles/", json=storage)
    reference = f"/data/local-files/?d={folder_name}/clip5.mp4"
    label_studio.api("POST", f"/api/projects/{project_id}/import", json=[{"video": reference}])
    return project_id, clip, reference


@pytest.mark.labelstudio
def test_label_studio_stores_and_exports_the_backends_video_tracks(
    label_studio, tiny_model_dir, clip_root, tmp_path
):
    """Through a real Label Studio 1.23.2: /predict (retrieve predictions), the TASKS_CREATED
    queue and ``ls-prelabel`` each give a video task groundlabel's tracks; Label Studio stores
    them and its own export holds the same sequences as ``groundlabel track`` writes."""
    import os
    import subprocess
    import sys

    from labelstudio_server import dump, start_backend

    label_studio.set_legacy_tokens(False)
    project_id, clip, reference = video_project(label_studio, clip_root, "videos-backend")

    expected_file = tmp_path / "expected.json"
    command = ["track", str(clip), "--model", str(tiny_model_dir), "-l", "square, disc", "--device", "cpu"]
    command += [
        "--box-threshold",
        "0",
        "--text-threshold",
        "0",
        "-o",
        str(expected_file),
        "--format",
        "label-studio",
    ]
    assert main(command) == 0
    (expected_task,) = json.loads(expected_file.read_text())
    expected = [r["value"] for r in expected_task["predictions"][0]["result"]]
    assert expected

    # No LOCAL_FILES_DOCUMENT_ROOT: the backend downloads the clip from Label Studio with the PAT.
    env = {"LABEL_STUDIO_URL": label_studio.url, "LABEL_STUDIO_API_KEY": label_studio.pat}
    backend = start_backend(
        tiny_model_dir, tmp_path / "backend.log", env, "--box-threshold", "0", "--text-threshold", "0"
    )
    try:
        version = backend.version()
        connection = label_studio.connect_backend(project_id, backend.url)
        assert connection["readable_state"] == "Connected", dump(connection)
        label_studio.retrieve_predictions(project_id)
        (first,) = label_studio.tasks(project_id)
        (stored,) = label_studio.predictions(first["id"])
        assert stored["model_version"] == version
        assert [r["value"] for r in stored["result"]] == expected

        # An import is only a TASKS_CREATED webhook: the queue tracks the new video in the background.
        label_studio.api("POST", f"/api/projects/{project_id}/import", json=[{"video": reference}])
        second = max(t["id"] for t in label_studio.tasks(project_id))
        wait_for(lambda: label_studio.predictions(second), 120, "the background track prediction")
    finally:
        backend.close()
    log_text = backend.log.read_text()
    assert "Traceback" not in log_text, log_text[-3000:]

    exported = ls_export(label_studio, project_id)
    assert set(exported) == {first["id"], second}
    for task_id, exported_task in exported.items():
        assert exported_task["data"]["video"] == reference
        (prediction,) = exported_task["predictions"]
        regions = prediction["result"]
        assert prediction["model_version"] == version
        assert {(r["type"], r["from_name"], r["to_name"]) for r in regions} == {
            ("videorectangle", "box", "video")
        }
        assert [r["value"] for r in regions] == expected, f"task {task_id}: {dump(regions)}"

    # ls-prelabel with another threshold (another model version) takes video tasks, then resumes.
    run_env = {**os.environ, "HF_HUB_OFFLINE": "1", **env}
    prelabel = [sys.executable, "-m", "groundlabel", "ls-prelabel", "--project", str(project_id)]
    prelabel += [
        "--model",
        str(tiny_model_dir),
        "--device",
        "cpu",
        "--box-threshold",
        "0.01",
        "--text-threshold",
        "0",
    ]
    done = subprocess.run(prelabel, env=run_env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "2 task(s) pre-labelled, 0 already had" in done.stderr
    again = subprocess.run(prelabel, env=run_env, capture_output=True, text=True, timeout=300)
    assert "0 task(s) pre-labelled, 2 already had" in again.stderr, again.stderr
    for task_id in exported:
        bulk = [p for p in label_studio.predictions(task_id) if p["model_version"] != version]
        assert len(bulk) == 1 and bulk[0]["result"], dump(label_studio.predictions(task_id))
        assert all(r["type"] == "videorectangle" for r in bulk[0]["result"])


@pytest.mark.labelstudio
def test_a_rectangle_drawn_on_a_video_in_label_studio_comes_back_as_the_trackers_track(
    label_studio, tiny_model_dir, clip_root, tmp_path
):
    """Interactive mode through a real Label Studio 1.23.2: the videorectangle the frontend sends
    for a drawn box reaches ``serve --tracker`` through ``interactive-annotating`` and comes
    back as the same region (id, label) holding the one-object tracker's track."""
    from groundlabel.backend.interactive_video import keyframes, pixel_box
    from labelstudio_server import dump, start_backend

    from groundlabel.devtools.random_trackers import save_random_video_tracker
    from groundlabel.trackers.sam2_video import Sam2VideoTrackers
    from groundlabel.trackers.single_object import SingleObjectTrack
    from groundlabel.video import Video

    label_studio.set_legacy_tokens(False)
    project_id, clip, _ = video_project(label_studio, clip_root, "videos-drawn")
    (task_row,) = label_studio.tasks(project_id)

    # seed 5: on this clip the random tracker's box after the drawn frame differs from the one on
    # it, so a track that repeated the prompt's box (or skipped frames) would not pass.
    tracker_dir = save_random_video_tracker(tmp_path / "sam2", seed=5)
    drawn = (20.0, 25.0, 30.0, 30.0)  # x, y, width, height in percent, on frame 3
    env = {
        "LABEL_STUDIO_URL": label_studio.url,
        "LABEL_STUDIO_API_KEY": label_studio.pat,
        "GROUNDLABEL_BACKGROUND_PRELABEL": "false",
    }
    extra = ("--tracker", str(tracker_dir), "--track-frames", "4")
    backend = start_backend(tiny_model_dir, tmp_path / "backend.log", env, *extra)
    try:
        connection = label_studio.connect_backend(project_id, backend.url, is_interactive=True)
        assert connection["readable_state"] == "Connected", dump(connection)
        # What the frontend sends for a VideoRectangle drawn on frame 3 with the label "disc".
        x, y, w, h = drawn
        keyframe = {"frame": 3, "enabled": True, "rotation": 0, "x": x, "y": y, "width": w, "height": h}
        region = {
            "id": "drawn-1",
            "type": "videorectangle",
            "from_name": "box",
            "to_name": "video",
            "origin": "manual",
            "value": {
                "framesCount": LENGTH,
                "duration": LENGTH / 10,
                "sequence": [{**keyframe, "time": 0.2}],
                "labels": ["disc"],
            },
        }
        answer = label_studio.api(
            "POST",
            f"/api/ml/{connection['id']}/interactive-annotating",
            json={"task": task_row["id"], "context": {"result": [region]}},
        )
    finally:
        backend.close()
    log_text = backend.log.read_text()
    assert "Traceback" not in log_text, log_text[-3000:]

    (track,) = answer["data"]["result"]
    assert (track["id"], track["type"], track["from_name"], track["to_name"]) == (
        "drawn-1",
        "videorectangle",
        "box",
        "video",
    ), dump(answer)
    assert track["value"]["labels"] == ["disc"] and track["value"]["framesCount"] == LENGTH
    # The core on the same decoded frames: the drawn frame (index 2) and the 4 after it.
    video = Video.open(clip)
    images = [frame.image for frame in video.frames()]
    size = images[0].size
    core = SingleObjectTrack(
        Sam2VideoTrackers(str(tracker_dir), "cpu"), images[2], box=pixel_box(drawn, size), label="disc"
    )
    expected = [(2, core.first)] + [(i, core.step(images[i])) for i in range(3, 7)]
    assert all(box is not None for _, box in expected), "the tiny tracker keeps the object"
    assert track["value"]["sequence"] == keyframes(expected, size, video.info.fps), dump(track)
    assert [k["frame"] for k in track["value"]["sequence"]] == [3, 4, 5, 6, 7]
    assert len({k["width"] for k in track["value"]["sequence"]}) > 1, "the boxes follow the frames"
