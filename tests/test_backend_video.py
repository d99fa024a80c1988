"""Video tasks in the Label Studio backend: a <Video> + <VideoRectangle> config is read, the
task's clip is fetched (local file or download, size-bounded) and tracked with the backend's
detector and ByteTrack, and the prediction holds one ``videorectangle`` region per track.

The tracks must be exactly those of ``groundlabel track`` with the same model and thresholds
(the backend calls the same core loop), so the test compares against the command's Label
Studio output. The tiny random model runs with thresholds at 0 so its boxes come through.
"""

from __future__ import annotations

import json
import time
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


def _count(seen: list):
    from contextlib import contextmanager

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
