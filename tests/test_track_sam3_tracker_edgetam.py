"""SAM 3's tracker and EdgeTAM as ``--tracker CHECKPOINT`` (``groundlabel.trackers.sam2_video``).

Fidelity, per model type: on tiny random checkpoints (a 3-frame memory and 4 object pointers,
so a 10-frame clip reaches the point where our session drops old state; EdgeTAM's perceiver
resampler included) the masks our tracker gives on every frame of a synthetic clip
(``devtools.synthetic_video``) equal transformers' streaming reference (the family's
processor, model, session API and ``post_process_masks``, in the readers venv: the processors
need torchvision), pixel for pixel, and the boxes are the masks' boxes within 1e-4. The
reference replays the prompts our tracker made: four shapes on the first frame, more boxes on
the seventh. Then: the session stays bounded for each, a full SAM 3 video checkpoint tracks as
its tracker half, and an EdgeTAM whose backbone needs timm is refused in one line without it.
"""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest
from PIL import Image
from video_tracker_helpers import changes_along_the_clip, compare_with_reference, run_reference, run_tracker

from groundlabel.devtools.random_trackers import save_random_sam3_video, save_random_video_tracker
from groundlabel.devtools.synthetic_video import standard_clip, write_frames_folder
from groundlabel.errors import ModelLoadError
from groundlabel.trackers import tracker_factory
from groundlabel.trackers.sam2_session import frames_read_back, held_frames

FAMILIES = {
    "sam3_tracker_video": ("Sam3TrackerVideoProcessor", "Sam3TrackerVideoModel"),
    "edgetam_video": ("Sam2VideoProcessor", "EdgeTamVideoModel"),
}
FRAMES, WIDTH, HEIGHT = 10, 96, 72
PROMPTED = (0, 6)  # frame positions whose true boxes are given as detections


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    root = tmp_path_factory.mktemp("sam3-edgetam")
    clip = standard_clip(WIDTH, HEIGHT, FRAMES)
    frames_dir = write_frames_folder(clip, root / "frames")
    frames = [Image.open(path).convert("RGB") for path in sorted(frames_dir.iterdir())]
    detections = {
        t: [(box.xyxy, 0.9, box.label) for box in clip.ground_truth() if box.frame == t] for t in PROMPTED
    }
    return root, frames_dir, frames, detections


def _track(checkpoint, frames, detections):
    tracker = tracker_factory(str(checkpoint), "cpu")(low_score=0.1, new_track_score=0.5, max_lost=30)
    held = []
    boxes = run_tracker(tracker, frames, detections, after_each=lambda t: held.append(held_frames(t.session)))
    return tracker, boxes, held


@pytest.fixture(scope="module", params=list(FAMILIES))
def ours(request, scene):
    root, _, frames, detections = scene
    checkpoint = save_random_video_tracker(root / request.param, family=request.param)
    return request.param, checkpoint, *_track(checkpoint, frames, detections)


@pytest.mark.slow  # the reference runs in the readers venv
def test_masks_equal_transformers_streaming_reference_on_every_frame(scene, ours, readers_venv):
    root, frames_dir, frames, detections = scene
    family, checkpoint, tracker, boxes, _ = ours
    reference, closing = run_reference(readers_venv, root, checkpoint, frames_dir, tracker)
    processor, model = FAMILIES[family]
    assert closing.split()[1:] == [processor, str(FRAMES), model]
    assert type(tracker.session).__name__ == model.replace("Model", "InferenceSession")
    assert np.array_equal(tracker.preprocessing.pixel_values(frames[4]).numpy(), reference["pixels_4"])
    # every object the tracker started, replayed on its frame: the first frame's four shapes
    # and the seventh's boxes, which random masks do not explain, so they start new objects
    starts = [p.frame_index for p in tracker.prompts]
    assert starts.count(0) == len(detections[0]) == 4 and starts.count(6) >= 1
    compared = compare_with_reference(boxes, reference, FRAMES, (HEIGHT, WIDTH))
    assert compared >= 4 * FRAMES  # the first objects on every frame at least
    assert changes_along_the_clip(reference, range(FRAMES))


def test_the_session_holds_a_bounded_history(ours):
    _, _, tracker, _, held = ours
    keep = frames_read_back(tracker.model.config)
    assert keep == 3
    assert max(held) == keep  # the frames the next one reads back, no pixels
    assert held[-1] == held[-4]  # flat once the memory is full


def test_a_full_sam3_video_checkpoint_tracks_as_its_tracker_half(scene):
    root, _, frames, detections = scene
    tracker, boxes, _ = _track(
        save_random_video_tracker(root / "sam3-tracker", family="sam3_tracker_video"), frames, detections
    )
    full = save_random_sam3_video(root / "sam3-video")
    assert json.loads((full / "config.json").read_text())["model_type"] == "sam3_video"
    full_tracker, full_boxes, _ = _track(full, frames, detections)
    assert full_tracker.preprocessing.height == tracker.preprocessing.height == 112
    assert full_tracker.preprocessing.mean == [0.5, 0.5, 0.5]
    assert full_boxes.keys() == boxes.keys() and len(boxes) > 40
    assert all(full_boxes[key].mask == boxes[key].mask for key in boxes)


def test_an_edgetam_needing_timm_is_refused_in_one_line_without_it(tmp_path):
    if importlib.util.find_spec("timm") is not None:
        pytest.skip("timm is installed here")
    backbone = {"model_type": "timm_wrapper", "architecture": "repvit_m1"}
    config = {"model_type": "edgetam_video", "vision_config": {"backbone_config": backbone}}
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelLoadError) as raised:
        tracker_factory(str(tmp_path), "cpu")
    message = str(raised.value)
    assert "\n" not in message and "timm" in message and "pip install timm" in message
