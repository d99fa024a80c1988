"""SAM 2.1 video propagation as a tracker (``groundlabel.trackers.sam2_video``).

Fidelity: on a tiny random ``Sam2VideoModel`` (a 3-frame memory and 4 object pointers, so a
10-frame clip reaches the point where our session drops old state), the masks our tracker
gives on every frame equal transformers' streaming reference (``Sam2VideoProcessor`` +
``Sam2VideoModel`` + ``post_process_masks``, which keeps everything), replaying the prompts
our tracker made. The reference needs torchvision, so it runs in the readers venv. Then the
tracker's own behaviour: objects the model cannot see are dropped after ``max_lost`` frames,
memory stays flat, and ``groundlabel track --tracker CHECKPOINT`` writes the masks into
COCO-VID and YouTube-VIS, which pycocotools decodes.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from video_tracker_helpers import changes_along_the_clip, compare_with_reference, run_reference, run_tracker

from groundlabel.devtools.random_trackers import save_random_video_tracker
from groundlabel.trackers import tracker_factory
from groundlabel.trackers.sam2_session import frames_read_back, held_frames

FRAMES, WIDTH, HEIGHT = 10, 90, 60
# Detections by frame position: two objects on the first frame, a third appears on the sixth.
DETECTIONS = {
    0: [((10.0, 10.0, 40.0, 35.0), 0.9, "car"), ((50.0, 20.0, 80.0, 50.0), 0.8, "person")],
    5: [((5.0, 30.0, 25.0, 50.0), 0.9, "person")],
}


def _clip(root: Path) -> list[Image.Image]:
    """A textured scene sliding 2 px a frame to the right."""
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    frames = [Image.fromarray(np.roll(base, 2 * t, axis=1)) for t in range(FRAMES)]
    root.mkdir(parents=True, exist_ok=True)
    for t, frame in enumerate(frames):
        frame.save(root / f"{t:04d}.png")
    return frames


def _run(tracker, frames, *, frame_step: int = 1, after_each=None):
    return run_tracker(tracker, frames, DETECTIONS, frame_step=frame_step, after_each=after_each)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    root = tmp_path_factory.mktemp("sam2-video")
    checkpoint = save_random_video_tracker(root / "sam2-video")
    return root, checkpoint, _clip(root / "frames")


@pytest.fixture(scope="module")
def ours(clip):
    _, checkpoint, frames = clip
    tracker = tracker_factory(str(checkpoint), "cpu")(low_score=0.1, new_track_score=0.5, max_lost=30)
    held = []
    boxes = _run(tracker, frames, frame_step=3, after_each=lambda t: held.append(held_frames(t.session)))
    return tracker, boxes, held


@pytest.fixture(scope="module")
def reference(clip, ours, readers_venv):
    root, checkpoint, _ = clip
    tracker, _, _ = ours
    arrays, closing = run_reference(readers_venv, root, checkpoint, root / "frames", tracker, frame_step=3)
    assert "SAM2-VIDEO-REFERENCE-OK Sam2VideoProcessor 10 Sam2VideoModel" in closing
    return arrays


def test_the_tracker_prompts_the_new_objects_where_they_appear(ours):
    tracker, _, _ = ours
    assert [(p.frame_index, p.track_id, p.label) for p in tracker.prompts] == [
        (0, 1, "car"),
        (0, 2, "person"),
        (15, 3, "person"),
    ]


@pytest.mark.slow  # the reference runs in the readers venv
def test_masks_equal_transformers_streaming_reference_on_every_frame(clip, ours, reference):
    _, _, frames = clip
    tracker, boxes, _ = ours
    assert np.array_equal(tracker.preprocessing.pixel_values(frames[4]).numpy(), reference["pixels_4"])
    compared = compare_with_reference(boxes, reference, FRAMES, (HEIGHT, WIDTH))
    assert compared == 2 * 5 + 3 * 5  # every object on every frame it was known
    assert changes_along_the_clip(reference, range(FRAMES))


def test_the_session_holds_a_bounded_history(ours):
    tracker, _, held = ours
    keep = frames_read_back(tracker.model.config)
    assert keep == 3
    assert max(held) == keep  # the frames the next one reads back, no pixels
    assert held[-1] == held[-4]  # flat once the memory is full


def test_objects_the_model_cannot_see_are_dropped(tmp_path, clip):
    _, _, frames = clip
    hidden = save_random_video_tracker(tmp_path / "hidden", visible=-8.0)
    tracker = tracker_factory(str(hidden), "cpu")(new_track_score=0.5, max_lost=2)
    counts = []
    boxes = _run(tracker, frames, after_each=lambda t: counts.append(len(t.session.obj_ids)))
    assert boxes == {}  # invisible on every frame: no box, no mask
    # two objects from frame 0 dropped after 3 invisible frames, the third (frame 5) likewise
    assert counts == [2, 2, 0, 0, 0, 1, 1, 0, 0, 0]
    assert tracker.objects == {}


def test_track_cli_writes_masks_pycocotools_decodes(tmp_path, clip, ours):
    from pycocotools import mask as coco_mask

    root, checkpoint, _ = clip
    _, library, _ = ours
    det = tmp_path / "det.txt"
    classes = {"car": 1, "person": 2}
    det.write_text(
        "".join(
            f"{position * 3 + 1},-1,{x0},{y0},{x1 - x0},{y1 - y0},{score},{classes[label]}\n"
            for position, rows in DETECTIONS.items()
            for (x0, y0, x1, y1), score, label in rows
        )
    )
    frames = root / "frames"
    common = ["groundlabel", "track", str(frames), "--tracker", str(checkpoint), "--detections", str(det)]
    common += ["-l", "car, person", "--every", "3", "--device", "cpu"]
    for fmt, out in (("coco-vid", tmp_path / "tracks.json"), ("youtube-vis", tmp_path / "vis.json")):
        run = subprocess.run(
            [*common, "--format", fmt, "-o", str(out)], capture_output=True, text=True, timeout=300
        )
        assert run.returncode == 0, run.stderr
    document = json.loads((tmp_path / "tracks.json").read_text())
    assert len(document["images"]) == 4  # frames 0, 3, 6, 9
    annotations = document["annotations"]
    assert annotations and all("segmentation" in a for a in annotations)
    for ann in annotations:
        decoded = coco_mask.decode({**ann["segmentation"], "counts": ann["segmentation"]["counts"].encode()})
        assert decoded.shape == (HEIGHT, WIDTH) and decoded.any()
        x, y, w, h = coco_mask.toBbox(
            {**ann["segmentation"], "counts": ann["segmentation"]["counts"].encode()}
        )
        assert ann["bbox"] == [round(x, 2), round(y, 2), round(w, 2), round(h, 2)]
    # --every 3 takes frames 0, 3, 6, 9, so the CLI's frames are the library run's positions 0, 1, 2, 3
    # only where the detections agree: the first frame's two objects.
    first = {a["track_id"]: a for a in annotations if a["image_id"] == 1}
    assert (
        first[1]["segmentation"] == library[(0, 1)].mask and first[2]["segmentation"] == library[(0, 2)].mask
    )
    vis = json.loads((tmp_path / "vis.json").read_text())
    for track in vis["annotations"]:
        for segmentation, area in zip(track["segmentations"], track["areas"], strict=True):
            if segmentation is not None:
                rle = {**segmentation, "counts": segmentation["counts"].encode()}
                assert area == coco_mask.area(rle) > 0
    # --resume reads the masks back through the mask door and writes the file unchanged
    before = (tmp_path / "tracks.json").read_bytes()
    run = subprocess.run(
        [*common, "-o", str(tmp_path / "tracks.json"), "--resume"], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "tracks.json").read_bytes() == before


def test_track_refuses_a_wrong_tracker_in_one_line(tmp_path, clip, tiny_model_dir):
    root, _, _ = clip
    frames = str(root / "frames")
    (tmp_path / "none.txt").write_text("")
    cases = [
        (
            ["--tracker", str(tiny_model_dir)],
            "not a video tracker; give bytetrack or a SAM 2.1, SAM 3 or EdgeTAM",
        ),
        (["--tracker", str(tmp_path / "missing")], "missing"),
        (["--detect-every", "3"], "--detect-every needs a tracker that propagates"),
    ]
    for extra, expected in cases:
        run = subprocess.run(
            ["groundlabel", "track", frames, "-l", "car", "--detections", str(tmp_path / "none.txt"), *extra,
             "-o", str(tmp_path / "t.json")],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert run.returncode != 0
        assert expected in run.stderr and "Traceback" not in run.stderr, run.stderr
