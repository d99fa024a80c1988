"""Interactive video tracks (backend/interactive_video.py) with a tiny random SAM 2.1 video tracker."""

from __future__ import annotations

import numpy as np
import pytest
from groundlabel.backend.interactive_video import (
    VideoPromptError,
    keyframes,
    pixel_box,
    track_prompt,
    track_region,
    video_prompts,
)
from PIL import Image

from groundlabel.devtools.random_trackers import save_random_video_tracker
from groundlabel.trackers.sam2_video import Sam2VideoTrackers
from groundlabel.trackers.single_object import SingleObjectTrack

WIDTH, HEIGHT, FRAMES, FPS = 64, 48, 8, 25.0


def context(*keyframes_: dict, labels=("car",)) -> dict:
    return {
        "result": [
            {
                "id": "r1",
                "from_name": "box",
                "to_name": "video",
                "type": "videorectangle",
                "value": {"sequence": list(keyframes_), "labels": list(labels)},
            }
        ]
    }


def key(frame: int, x=25.0, y=25.0, w=25.0, h=25.0, enabled=True) -> dict:
    return {
        "frame": frame,
        "x": x,
        "y": y,
        "width": w,
        "height": h,
        "enabled": enabled,
        "time": (frame - 1) / FPS,
    }


@pytest.fixture(scope="module")
def clip() -> list[tuple[int, Image.Image]]:
    base = np.random.default_rng(0).integers(0, 255, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    return [(t, Image.fromarray(np.roll(base, 2 * t, axis=1))) for t in range(FRAMES)]


@pytest.fixture(scope="module")
def trackers(tmp_path_factory) -> Sam2VideoTrackers:
    # Seed 5: with the default seed this tiny random tracker answers the whole frame on every frame,
    # so a track that repeated the prompt's box would pass unnoticed.
    folder = save_random_video_tracker(tmp_path_factory.mktemp("sam2"), seed=5)
    return Sam2VideoTrackers(str(folder), "cpu")


def test_latest_keyframe_is_the_prompt():
    (prompt,) = video_prompts(context(key(1), key(3, x=10.0, y=20.0, w=30.0, h=40.0)))
    assert prompt.frame_index == 2
    assert prompt.box == (10.0, 20.0, 30.0, 40.0)
    assert pixel_box(prompt.box, (200, 100)) == (20.0, 20.0, 80.0, 60.0)
    assert (prompt.region_id, prompt.from_name, prompt.to_name, prompt.labels) == (
        "r1",
        "box",
        "video",
        ["car"],
    )
    assert video_prompts({"result": [{"type": "rectanglelabels", "value": {}}]}) == []


@pytest.mark.parametrize("sequence", [[], [{"frame": 1}], [key(0)], [key(2, w=0.0)]])
def test_bad_keyframes_give_one_clear_error(sequence):
    with pytest.raises(VideoPromptError):
        video_prompts(context(*sequence))


def test_track_equals_the_tracker_core(trackers, clip):
    (prompt,) = video_prompts(context(key(2)))
    found = track_prompt(
        lambda image, box: SingleObjectTrack(trackers, image, box=box), clip, prompt, max_frames=3
    )
    # The core itself, for the same prompt and frames.
    core = SingleObjectTrack(trackers, clip[1][1], box=pixel_box(prompt.box, (WIDTH, HEIGHT)))
    expected = [core.first] + [core.step(image) for _, image in clip[2:5]]
    assert [index for index, _ in found] == [1, 2, 3, 4]  # the prompt's frame and 3 more: bounded
    assert all(box is not None for _, box in found)
    assert [box.xyxy for _, box in found] == [box.xyxy for box in expected]
    sequence = keyframes(found, (WIDTH, HEIGHT), FPS)
    assert [k["frame"] for k in sequence] == [2, 3, 4, 5]
    assert [k["enabled"] for k in sequence] == [True, True, True, False]
    x0, y0, x1, y1 = expected[1].xyxy
    assert sequence[1]["x"] == round(100 * x0 / WIDTH, 4) and sequence[1]["time"] == round(2 / FPS, 6)
    assert sequence[1]["height"] == round(100 * (y1 - y0) / HEIGHT, 4)
    assert sequence[1]["width"] == round(100 * (x1 - x0) / WIDTH, 4)
    region = track_region(prompt, sequence, FRAMES, FPS)
    assert region["id"] == "r1" and region["type"] == "videorectangle"
    assert region["value"]["labels"] == ["car"] and region["value"]["framesCount"] == FRAMES


def test_lost_object_turns_the_last_seen_keyframe_off():
    from groundlabel.trackers.base import TrackedBox

    box = TrackedBox(frame_index=0, track_id=1, label="car", xyxy=(0.0, 0.0, 32.0, 24.0), score=1.0)
    sequence = keyframes([(0, box), (1, box), (2, None), (3, box)], (WIDTH, HEIGHT), FPS)
    assert [(k["frame"], k["enabled"]) for k in sequence] == [(1, True), (2, False), (4, False)]


def test_time_budget_and_missing_frame(clip):
    class Track:
        first = None

        def step(self, image):
            return None

    (prompt,) = video_prompts(context(key(1)))
    assert len(track_prompt(lambda i, b: Track(), clip, prompt, max_frames=50, out_of_time=lambda: True)) == 1
    assert len(track_prompt(lambda i, b: Track(), clip, prompt, max_frames=50)) == FRAMES
    (late,) = video_prompts(context(key(FRAMES + 5)))
    with pytest.raises(VideoPromptError, match="no frame"):
        track_prompt(lambda i, b: Track(), clip, late, max_frames=5)


# Through the backend's predictor: a VideoRectangle drawn in Label Studio, on a real clip file.
VIDEO_CONFIG = """
<View>
  <Labels name="videoLabels" toName="video" allowEmpty="true">
    <Label value="car"/>
  </Labels>
  <Video name="video" value="$video" framerate="10"/>
  <VideoRectangle name="box" toName="video"/>
</View>
"""


@pytest.fixture(scope="module")
def clip_file(tmp_path_factory):
    from groundlabel.devtools.synthetic_video import standard_clip, write_clip

    root = tmp_path_factory.mktemp("drawn-root")
    write_clip(standard_clip(length=10, seed=3), root / "clips" / "drawn.mp4")
    return root


def drawn_predictor(tiny_detector, root, trackers, max_frames=4):
    from groundlabel.backend.predictor import Predictor
    from groundlabel.backend.settings import BackendSettings
    from groundlabel.backend.task_images import TaskImageFetcher

    from groundlabel.detector import DetectionSettings

    fetcher = TaskImageFetcher(BackendSettings(local_files_root=root.resolve()))
    return Predictor(
        tiny_detector, DetectionSettings(), fetcher, video_tracker=trackers, track_max_frames=max_frames
    )


def test_a_rectangle_drawn_in_label_studio_comes_back_as_the_trackers_track(
    tiny_detector, clip_file, trackers
):
    from groundlabel.backend.interactive import InteractiveContext

    from groundlabel.video import Video

    raw = context(key(3, x=20.0, y=20.0, w=30.0, h=30.0))
    predictor = drawn_predictor(tiny_detector, clip_file, trackers)
    task = {"id": 4, "data": {"video": "/data/local-files/?d=clips/drawn.mp4"}}
    (entry,) = predictor.predict_tasks([task], VIDEO_CONFIG, InteractiveContext.parse(raw)).results
    (region,) = entry["result"]
    assert (region["id"], region["from_name"], region["to_name"]) == ("r1", "box", "video")
    assert region["value"]["labels"] == ["car"]
    # The core on the same decoded frames: the prompt's frame (3, counted from 1) and 4 more.
    video = Video.open(clip_file / "clips" / "drawn.mp4")
    images = [frame.image for frame in video.frames()]
    size = images[0].size
    core = SingleObjectTrack(trackers, images[2], box=pixel_box((20.0, 20.0, 30.0, 30.0), size), label="car")
    expected = [(2, core.first)] + [(i, core.step(images[i])) for i in range(3, 7)]
    assert region["value"]["sequence"] == keyframes(expected, size, video.info.fps)
    assert len({(k["x"], k["width"]) for k in region["value"]["sequence"]}) > 1, "the boxes follow the clip"
    assert region["value"]["framesCount"] == 10
    assert 0.0 <= region["score"] <= 1.0


def test_a_drawn_video_rectangle_without_a_tracker_answers_nothing_and_says_why(
    tiny_detector, clip_file, caplog
):
    from groundlabel.backend.interactive import InteractiveContext

    predictor = drawn_predictor(tiny_detector, clip_file, None)
    task = {"id": 5, "data": {"video": "/data/local-files/?d=clips/drawn.mp4"}}
    with caplog.at_level("WARNING"):
        (entry,) = predictor.predict_tasks(
            [task], VIDEO_CONFIG, InteractiveContext.parse(context(key(1)))
        ).results
    assert entry["result"] == []
    assert "--tracker MODEL" in caplog.text
