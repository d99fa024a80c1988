"""``groundlabel track --ray``: the local run's COCO-VID bytes, chunked long videos stitched, Ctrl+C and --resume.

One local Ray (loopback, 2 CPUs) for the whole file, as the other Ray tests start it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
from PIL import Image

from groundlabel.cli import main
from groundlabel.devtools.synthetic_video import noisy_detections, standard_clip, write_clip

# Imported before Ray: it puts the test clusters' token in the environment Ray reads.
from ray_cluster import HEAD_IP, OBJECT_STORE_BYTES, short_temp_dir, sweep  # isort: skip

pytestmark = pytest.mark.slow  # a local Ray cluster for the module

ray = pytest.importorskip("ray", reason="the ray extra is part of .[all]; CI installs it")

PHOTO = Path(__file__).resolve().parents[1] / "assets" / "reference" / "photos" / "chelsea.png"
DETECTOR_OPTIONS = [
    "-l", "cat, remote", "--device", "cpu", "--box-threshold", "0.0", "--low-threshold", "0.0",
    "--text-threshold", "0.0", "--nms-iou", "0.3", "--max-detections", "4", "--fps", "5",
]  # fmt: skip


@pytest.fixture(scope="module")
def local_ray(tmp_path_factory: pytest.TempPathFactory):
    """Ray in this process, started as the product starts it (loopback), 2 CPUs, small store."""
    from groundlabel.distributed.session import start_local

    saved = os.environ.get("GROUNDLABEL_NO_NATIVE")
    os.environ["GROUNDLABEL_NO_NATIVE"] = "1"  # workers inherit it: tracking, not the kernel's build
    temp_dir = short_temp_dir(tmp_path_factory)
    start_local(num_cpus=2, object_store_memory=OBJECT_STORE_BYTES, _temp_dir=str(temp_dir))
    assert ray.util.get_node_ip_address() == HEAD_IP
    yield
    ray.shutdown()
    if saved is None:
        os.environ.pop("GROUNDLABEL_NO_NATIVE", None)
    assert sweep(str(temp_dir)) == [], "ray.shutdown left processes running"


@pytest.fixture(scope="module")
def photo_clips(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Two folders of frames: a photo sliding sideways, so a random detector's boxes move and change."""
    root = tmp_path_factory.mktemp("clips")
    photo = Image.open(PHOTO).convert("RGB")
    clips = []
    for n, (length, step) in enumerate(((6, 4), (5, -3))):
        folder = root / f"clip{n}"
        folder.mkdir()
        for i in range(length):
            photo.crop((40 + i * step, 20, 40 + i * step + 200, 170)).save(folder / f"{i:04d}.png")
        clips.append(folder)
    return clips


def _local(argv: list[str]) -> int:
    """The local run with one torch thread, the arithmetic of a 1-thread Ray worker to the last bit."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return main(argv)
    finally:
        torch.set_num_threads(threads)


def test_ray_gives_the_local_bytes_for_two_videos_and_resumes(
    local_ray, tiny_model_dir, photo_clips, tmp_path, capsys, monkeypatch
):
    base = ["track", *map(str, photo_clips), *DETECTOR_OPTIONS, "--model", str(tiny_model_dir)]
    here, there = tmp_path / "local.json", tmp_path / "ray.json"
    assert _local([*base, "-o", str(here)]) == 0
    capsys.readouterr()
    assert main([*base, "-o", str(there), "--ray", "--workers", "2"]) == 0
    report = capsys.readouterr().err
    assert there.read_bytes() == here.read_bytes()
    local = json.loads(here.read_text())
    assert [v["name"] for v in local["videos"]] == ["clip0", "clip1"] and len(local["images"]) == 11
    assert len(local["annotations"]) > 11 and len({a["track_id"] for a in local["annotations"]}) >= 2
    assert "2 video(s)" in report and "0 failed" in report and "Traceback" not in report

    # Ctrl+C once the first video is written: the file holds it, complete; --resume tracks the
    # other on Ray and the file is the local run's again.
    from groundlabel.formats import tracks_out

    write = tracks_out.write_tracks

    def write_then_interrupt(*args, **kwargs):
        write(*args, **kwargs)
        raise KeyboardInterrupt

    stopped = tmp_path / "stopped.json"
    monkeypatch.setattr(tracks_out, "write_tracks", write_then_interrupt)
    assert main([*base, "-o", str(stopped), "--ray", "--workers", "1"]) == 130
    assert "the videos finished so far are in" in capsys.readouterr().err
    kept = json.loads(stopped.read_text())
    assert [(v["name"], v["complete"]) for v in kept["videos"]] == [("clip0", True)]
    monkeypatch.setattr(tracks_out, "write_tracks", write)
    assert main([*base, "-o", str(stopped), "--ray", "--resume"]) == 0
    assert stopped.read_bytes() == here.read_bytes()


@pytest.fixture(scope="module")
def known_answer(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The known-answer clip (30 frames, crossings, an occluding bar) and its noisy detections."""
    root = tmp_path_factory.mktemp("known")
    clip = standard_clip(seed=1)
    detections = root / "det.txt"
    detections.write_text("\n".join(noisy_detections(clip, seed=1)) + "\n")
    return write_clip(clip, root / "clip.mp4"), detections


def _boxes(path: Path) -> list[tuple]:
    coco = json.loads(path.read_text())
    frame = {image["id"]: image["frame_id"] for image in coco["images"]}
    return sorted(
        (frame[a["image_id"]], a["track_id"], a["category_id"], *a["bbox"], a["score"], a["interpolated"])
        for a in coco["annotations"]
    )


def test_chunked_video_is_stitched_into_the_unchunked_tracks(local_ray, known_answer, tmp_path, capsys):
    video, detections = known_answer
    base = ["track", str(video), "--detections", str(detections), "-l", "square, disc"]
    whole = tmp_path / "whole.json"
    assert main([*base, "-o", str(whole)]) == 0
    # Three chunks, frames 0-15, 7-22 and 14-29, each its own Ray task on a fresh tracker.
    chunked = tmp_path / "chunked.json"
    capsys.readouterr()
    argv = [*base, "-o", str(chunked), "--ray", "--chunk-frames", "16", "--chunk-overlap", "9"]
    assert main(argv) == 0
    expected, got = _boxes(whole), _boxes(chunked)
    assert len(expected) == 132 and len({b[1] for b in expected}) == 5
    assert got == expected  # every box, id, score and interpolation flag
    document = json.loads(chunked.read_text())
    assert [i["frame_id"] for i in document["images"]] == list(range(30))
    assert document["videos"][0]["complete"] is True


def test_option_mistakes_are_one_line(known_answer, tmp_path, capsys, monkeypatch):
    import sys

    video, detections = known_answer
    base = [
        "track",
        str(video),
        "--detections",
        str(detections),
        "-l",
        "square",
        "-o",
        str(tmp_path / "t.json"),
    ]
    for extra, message in (
        (["--chunk-frames", "10"], "--chunk-frames only works with --ray"),
        (["--ray", "--chunk-frames", "10", "--chunk-overlap", "10"], "must be below --chunk-frames"),
        (["--workers", "2"], "--workers only work with --ray"),
    ):
        assert main([*base, *extra]) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err
    monkeypatch.setitem(sys.modules, "ray", None)  # as if the extra were not installed
    assert main([*base, "--ray"]) == 2
    assert "pip install 'groundlabel[ray]'" in capsys.readouterr().err


def test_a_model_that_does_not_load_on_the_workers_is_one_line(local_ray, photo_clips, tmp_path, capsys):
    out = tmp_path / "t.json"
    argv = ["track", str(photo_clips[0]), "-l", "cat", "--model", str(tmp_path / "nothing"), "-o", str(out)]
    assert main([*argv, "--ray"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("groundlabel: error: ") and "nothing" in err and "Traceback" not in err
    assert not out.exists()


def test_chunks_cover_every_frame_and_a_broken_chunk_ends_the_video():
    from groundlabel.track_chunks import chunk_selections, stitch
    from groundlabel.trackers.base import TrackedBox
    from groundlabel.tracks import VideoTracks
    from groundlabel.video import FrameSelection

    every = FrameSelection.parse("3:", 2)  # frames 3, 5, 7, ...
    chunks = chunk_selections(every, 30, 5, 2)  # 14 selected frames: positions 0-4, 3-7, 6-10, 9-13
    assert [(c.start, c.stop, c.every) for c in chunks] == [
        (3, 13, 2),
        (9, 19, 2),
        (15, 25, 2),
        (21, None, 2),
    ]
    assert chunk_selections(every, None, 5, 2) == [every]  # no frame count: one task
    assert chunk_selections(every, 12, 5, 2) == [every]  # not longer than a chunk

    def part(frames: range, complete: bool, error: str | None = None) -> VideoTracks:
        video = VideoTracks("v", 100, 100, 10.0, 30, complete=complete, error=error)
        for f in frames:
            video.add_frame(f, f / 10)
            video.add([TrackedBox(f, 7, "cat", (10.0 + f, 10.0, 30.0 + f, 30.0), 0.9)])
        return video

    stitched = stitch([part(range(0, 6), True), part(range(4, 8), False, "broken"), part(range(8, 12), True)])
    assert [f for f, _ in stitched.frames] == list(range(8))
    assert list(stitched.tracks()) == [1] and len(stitched.boxes()) == 8
    assert stitched.complete is False and stitched.error == "broken"
