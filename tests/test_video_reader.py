"""groundlabel.video: frames, indices and timestamps from video files and frame folders; bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from groundlabel.devtools.synthetic_video import standard_clip, write_clip, write_frames_folder
from groundlabel.video import FrameSelection, Video, VideoError


@pytest.fixture(scope="module")
def clip():
    return standard_clip(length=20)


@pytest.mark.parametrize("suffix", [".mp4", ".mkv", ".avi", ".webm", ".mov"])
def test_video_file_frames_match_the_encoded_clip(tmp_path: Path, clip, suffix: str):
    video = Video.open(write_clip(clip, tmp_path / f"clip{suffix}"))
    assert (video.info.width, video.info.height) == (clip.width, clip.height)
    assert video.info.fps == pytest.approx(clip.fps)
    frames = list(video.frames())
    assert [f.index for f in frames] == list(range(clip.length))
    assert [f.timestamp for f in frames] == pytest.approx([i / clip.fps for i in range(clip.length)])
    for frame in frames[::7]:
        # Lossy codecs blur the noise; the shapes (compared on 8x8 block means) stay where drawn.
        error = _block_error(frame.array(), clip.frame(frame.index))
        other = _block_error(frame.array(), clip.frame((frame.index + 5) % clip.length))
        assert error < 4 < other


def _block_error(a: np.ndarray, b: np.ndarray) -> float:
    h, w = a.shape[0] // 8 * 8, a.shape[1] // 8 * 8

    def blocks(x):
        return x[:h, :w].astype(float).reshape(h // 8, 8, w // 8, 8, 3).mean(axis=(1, 3))

    return float(np.abs(blocks(a) - blocks(b)).mean())


def test_selection_picks_every_nth_frame_inside_the_range(tmp_path: Path, clip):
    video = Video.open(write_clip(clip, tmp_path / "clip.mp4"))
    picked = list(video.frames(FrameSelection.parse("3:15", every=4)))
    assert [f.index for f in picked] == [3, 7, 11]
    assert [f.timestamp for f in picked] == pytest.approx([0.3, 0.7, 1.1])


def test_frame_folder_is_a_clip_with_timestamps_from_the_given_rate(tmp_path: Path, clip):
    folder = write_frames_folder(clip, tmp_path / "frames")
    video = Video.open(folder, folder_fps=5)
    frames = list(video.frames(FrameSelection.parse(":6", every=2)))
    assert [(f.index, f.timestamp) for f in frames] == [(0, 0.0), (2, 0.4), (4, 0.8)]
    assert np.array_equal(frames[1].array(), clip.frame(2))  # PNG: lossless


def test_frames_stream_rather_than_being_held(tmp_path: Path, clip):
    """The iterator is lazy: taking one frame decodes one, and stopping early closes the file."""
    video = Video.open(write_clip(clip, tmp_path / "clip.mp4"))
    frames = video.frames()
    first = next(frames)
    assert first.index == 0
    frames.close()


def test_rotated_phone_video_is_read_upright(tmp_path: Path):
    """A display matrix (phone held upright) turns the frames as a player shows them."""
    import av

    path = tmp_path / "phone.mp4"
    pixels = np.zeros((32, 64, 3), np.uint8)
    pixels[:, :8] = 255  # a white band on the left of the stored picture
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 32, "yuv420p"
        stream.set_display_rotation(-90)  # how phones store portrait video: turn 90° clockwise
        for _ in range(3):
            for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    video = Video.open(path)
    assert (video.info.width, video.info.height) == (32, 64)
    frame = next(iter(video.frames())).array()
    assert frame.shape == (64, 32, 3)
    # Turned clockwise, the stored left edge is the top.
    assert frame[:6].mean() > 200 and frame[12:].mean() < 60


def _file(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "missing.mp4", "no such file"),
        (lambda p: _file(p / "empty.mp4", b""), "empty"),
        (lambda p: _file(p / "text.mp4", b"not a video at all\n" * 50), "not a video"),
        (lambda p: _file(p / "notes.txt", b"x"), "not a video file"),
        (lambda p: (p / "nothing").mkdir() or p / "nothing", "no frames"),
    ],
)
def test_bad_input_is_one_clear_error(tmp_path: Path, make, message: str):
    path = make(tmp_path)
    with pytest.raises(VideoError, match=message) as caught:
        Video.open(path)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)


def test_truncated_stream_keeps_the_frames_before_the_damage(tmp_path: Path):
    clip = standard_clip(length=40)
    data = write_clip(clip, tmp_path / "clip.mkv").read_bytes()
    (tmp_path / "cut.mkv").write_bytes(data[: len(data) // 2])
    frames = []
    try:
        for frame in Video.open(tmp_path / "cut.mkv").frames():
            frames.append(frame.index)
    except VideoError as exc:
        assert "cut.mkv" in str(exc)
    assert 5 < len(frames) < 40
    assert frames == list(range(len(frames)))


@pytest.mark.parametrize("text", ["5", "3:1", "a:b", "-1:4"])
def test_bad_frame_range_says_how_to_write_it(text: str):
    with pytest.raises(VideoError.__mro__[1], match="--frames"):
        FrameSelection.parse(text)
