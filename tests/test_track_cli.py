"""``groundlabel track`` end to end: a tiny random detector on a clip, formats, interruption, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from groundlabel.cli import main
from groundlabel.devtools.synthetic_video import noisy_detections, standard_clip, write_clip


@pytest.fixture
def still_clip(tmp_path: Path) -> Path:
    """A folder of 8 identical frames (a reference photo): a random model's boxes repeat exactly."""
    photo = Image.open(Path(__file__).resolve().parents[1] / "assets/reference/photos/chelsea.png").convert(
        "RGB"
    )
    photo = photo.resize((160, 120))
    folder = tmp_path / "still"
    folder.mkdir()
    for i in range(8):
        photo.save(folder / f"{i:04d}.png")
    return folder


def test_random_detector_tracks_keep_their_ids_on_a_still_clip(
    tmp_path: Path, still_clip: Path, tiny_model_dir: Path, monkeypatch
):
    monkeypatch.setenv("GROUNDLABEL_NO_NATIVE", "1")  # tracking, not the kernel: skip its build
    out = tmp_path / "tracks.json"
    code = main(
        [
            "track", str(still_clip), "-l", "cat, remote", "--model", str(tiny_model_dir), "--device", "cpu",
            "--box-threshold", "0.0", "--low-threshold", "0.0", "--text-threshold", "0.0",
            "--nms-iou", "0.3", "--max-detections", "5", "--fps", "4", "-o", str(out),
        ]
    )  # fmt: skip
    assert code == 0
    from pycocotools.coco import COCO

    coco = COCO(str(out))
    assert [img["frame_id"] for img in coco.dataset["images"]] == list(range(8))
    assert [img["timestamp"] for img in coco.dataset["images"]] == pytest.approx([i / 4 for i in range(8)])
    by_frame: dict[int, dict[int, list[float]]] = {}
    for ann in coco.dataset["annotations"]:
        by_frame.setdefault(ann["image_id"], {})[ann["track_id"]] = ann["bbox"]
    # The model sees the same pixels on every frame, so the same boxes: each track is on every
    # frame with its one box, and no new id appears after the first frames.
    assert len(by_frame) == 8
    first = by_frame[1]
    assert len(first) >= 1
    for boxes in by_frame.values():
        assert set(boxes) == set(first)
        for track_id, bbox in boxes.items():
            assert np.allclose(bbox, first[track_id], atol=0.02)
    labels = {coco.cats[a["category_id"]]["name"] for a in coco.dataset["annotations"]}
    assert labels <= {"cat", "remote"}
    video = json.loads(out.read_text())["videos"][0]
    assert video["complete"] is True and video["name"] == "still"


@pytest.fixture
def moving_clip(tmp_path: Path) -> tuple[Path, Path]:
    clip = standard_clip(length=20, seed=3)
    video = write_clip(clip, tmp_path / "clip.mp4")
    detections = tmp_path / "det.txt"
    detections.write_text("\n".join(noisy_detections(clip, seed=3)) + "\n")
    return video, detections


def test_youtube_vis_and_coco_vid_hold_the_same_tracks(tmp_path: Path, moving_clip):
    video, detections = moving_clip
    base = ["track", str(video), "--detections", str(detections), "-l", "square, disc", "--every", "2"]
    assert main([*base, "-o", str(tmp_path / "c.json")]) == 0
    assert main([*base, "-o", str(tmp_path / "y.json"), "--format", "youtube-vis"]) == 0
    coco = json.loads((tmp_path / "c.json").read_text())
    ytvis = json.loads((tmp_path / "y.json").read_text())
    frames = [img["frame_id"] for img in coco["images"]]
    assert frames == list(range(0, 20, 2))
    (vid,) = ytvis["videos"]
    assert vid["length"] == 10 and len(vid["file_names"]) == 10
    from_coco = {
        (a["track_id"], frames.index(coco["images"][a["image_id"] - 1]["frame_id"])): a["bbox"]
        for a in coco["annotations"]
    }
    from_ytvis = {}
    for track_id, ann in enumerate(ytvis["annotations"], start=1):
        assert len(ann["bboxes"]) == len(ann["areas"]) == len(ann["segmentations"]) == 10
        for position, bbox in enumerate(ann["bboxes"]):
            if bbox is not None:
                from_ytvis[(track_id, position)] = bbox
    assert from_coco == from_ytvis
    assert len(from_coco) > 20


def test_interrupted_run_keeps_what_was_done_and_resume_finishes(tmp_path: Path, moving_clip, monkeypatch):
    video, detections = moving_clip
    second = tmp_path / "second.mp4"
    second.write_bytes(video.read_bytes())
    out = tmp_path / "t.json"
    argv = ["track", str(video), str(second), "-l", "square, disc", "-o", str(out)]
    # --detections takes one video; two videos here go through a detector that reads the MOT
    # file's boxes (the real reader), so the run is a detector run without a model.
    from groundlabel.cli import track as track_cli
    from groundlabel.formats.tracks_mot import read_mot_detections

    boxes = read_mot_detections(detections, ["square", "disc"])
    calls = {"n": 0}

    class FileDetector:
        def __init__(self, args, labels):
            pass

        def of(self, frame):
            calls["n"] += 1
            if calls["n"] == 27:  # seven frames into the second video
                raise KeyboardInterrupt
            return boxes.get(frame.index, (np.zeros((0, 4)), np.zeros(0), []))

    monkeypatch.setattr(track_cli, "_Boxes", FileDetector)
    assert main(argv) == 130
    kept = json.loads(out.read_text())
    assert [v["complete"] for v in kept["videos"]] == [True, False]
    assert len([i for i in kept["images"] if i["video_id"] == 2]) == 6
    first_video = [a for a in kept["annotations"] if a["video_id"] == 1]

    calls["n"] = -1000
    assert main([*argv, "--resume"]) == 0
    done = json.loads(out.read_text())
    assert [v["complete"] for v in done["videos"]] == [True, True]
    assert [a for a in done["annotations"] if a["video_id"] == 1] == first_video
    assert len(done["images"]) == 40
    # The second video's track ids follow the first's: unique across the file.
    ids1 = {a["track_id"] for a in done["annotations"] if a["video_id"] == 1}
    ids2 = {a["track_id"] for a in done["annotations"] if a["video_id"] == 2}
    assert ids1 and ids2 and not ids1 & ids2


def test_bad_video_is_one_line_and_the_rest_is_tracked(tmp_path: Path, moving_clip, capsys):
    video, detections = moving_clip
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00" * 1000)
    out = tmp_path / "t.json"
    code = main(["track", str(video), str(broken), "-l", "square, disc", "-o", str(out), "--model", "unused"])
    # No detector can load from "unused": the run fails as a user error, after naming the bad clip.
    err = capsys.readouterr().err
    assert "broken.mp4: not a video" in err
    assert code == 2
    code = main(["track", str(broken), "--detections", str(detections), "-l", "square", "-o", str(out)])
    assert code == 2
    assert "no video could be opened" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["-o", "t.csv"], "say the format"),
        (["-o", "t.txt", "--format", "youtube-vis"], "writes JSON"),
        (["-o", "t.txt", "--resume"], "--resume reads back COCO-VID"),
        (["-o", "t.json", "--frames", "9:3"], "--frames"),
    ],
)
def test_option_mistakes_are_one_line(tmp_path: Path, moving_clip, capsys, monkeypatch, extra, message):
    video, detections = moving_clip
    monkeypatch.chdir(tmp_path)
    code = main(["track", str(video), "--detections", str(detections), "-l", "square, disc", *extra])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err
