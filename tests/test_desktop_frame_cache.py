"""The reviewer's frame cache (issue 27): bounded in megabytes, identical pixels, stale decodes dropped.

Scrubbing a 1080p clip queues a decode per timeline position; these tests pin the three things
that keep it responsive without changing what is shown.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
from groundlabel.desktop.image_loader import ImageLoader
from PIL import Image
from PySide6.QtGui import QImage

pytestmark = pytest.mark.gui


def _image(tmp_path, name: str, seed: int, size=(320, 240)) -> str:
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    path = tmp_path / f"{name}.png"
    Image.fromarray(pixels).save(path)
    return str(path)


def _pixels(image: QImage) -> np.ndarray:
    rgb = image.convertToFormat(QImage.Format.Format_RGB888)
    data = np.frombuffer(rgb.constBits(), np.uint8, rgb.sizeInBytes())
    rows = data.reshape(rgb.height(), rgb.bytesPerLine())[:, : rgb.width() * 3]
    return rows.reshape(rgb.height(), -1, 3).copy()  # a copy: the view dies with ``rgb``


def test_cache_stays_within_its_megabytes_and_gives_identical_pixels(qtbot, tmp_path) -> None:
    loader = ImageLoader(cache_size=100, cache_mb=1.0)  # a 320x240 RGB32 image is 0.29 MB: 3 fit
    shown: dict[int, QImage] = {}
    loader.loaded.connect(lambda key, image, error: shown.__setitem__(key, image))
    paths = [_image(tmp_path, f"f{i}", i) for i in range(8)]
    for i, path in enumerate(paths):
        with qtbot.waitSignal(loader.loaded, timeout=10_000):
            loader.request(i, path)
        assert loader.cached_bytes() <= 1024 * 1024
    assert 1 <= len(loader._cache) <= 3
    assert 7 in loader._cache and 0 not in loader._cache
    shown.clear()
    loader.request(7, paths[7])  # a hit: answered at once, the same pixels as the file
    assert np.array_equal(_pixels(shown[7]), np.asarray(Image.open(paths[7]).convert("RGB")))


def test_a_large_image_alone_is_still_kept(qtbot, tmp_path) -> None:
    loader = ImageLoader(cache_mb=0.01)
    with qtbot.waitSignal(loader.loaded, timeout=10_000):
        loader.request("big", _image(tmp_path, "big", 1))
    assert list(loader._cache) == ["big"]


def test_a_request_the_user_moved_past_is_not_decoded(qtbot, tmp_path) -> None:
    loader = ImageLoader()
    loader.pool.setMaxThreadCount(1)
    gate = threading.Event()
    decoded: list[int] = []

    def source(i: int, path: str):
        def make() -> str:
            if i == 0:
                gate.wait(10)
            decoded.append(i)
            return path

        return make

    paths = [_image(tmp_path, f"d{i}", i) for i in range(6)]
    shown: list[object] = []
    loader.loaded.connect(lambda key, image, error: shown.append(key))
    for i, path in enumerate(paths):  # a fast drag: each position replaces the last
        loader.request(i, source(i, path))
    gate.set()
    qtbot.waitUntil(lambda: 5 in shown, timeout=10_000)
    loader.wait()
    assert decoded in ([0, 5], [5])  # 0 may have started before the drag moved on; 1..4 never
    assert shown == [5]


def test_a_dropped_request_wanted_again_is_decoded(qtbot, tmp_path) -> None:
    loader = ImageLoader()
    loader.pool.setMaxThreadCount(1)
    gate = threading.Event()
    paths = [_image(tmp_path, f"b{i}", i) for i in range(3)]

    def slow() -> str:
        gate.wait(10)
        return paths[0]

    shown: list[object] = []
    loader.loaded.connect(lambda key, image, error: shown.append((key, image is not None)))
    loader.request(0, slow)
    loader.request(1, paths[1])
    loader.request(2, paths[2])  # 1 is dropped when the pool reaches it
    gate.set()
    qtbot.waitUntil(lambda: (2, True) in shown, timeout=10_000)
    loader.wait()
    qtbot.wait(50)
    loader.request(1, paths[1])  # back to 1: decoded now, not left "in flight" for ever
    qtbot.waitUntil(lambda: (1, True) in shown, timeout=10_000)


def test_cached_frames_are_lossless_at_the_fast_level(tmp_path) -> None:
    from groundlabel.project import video_frames

    assert video_frames.PNG_LEVEL == 1
    pixels = np.random.default_rng(3).integers(0, 256, (90, 160, 3), dtype=np.uint8)
    target = tmp_path / "clip" / "000001.png"
    video_frames._save(Image.fromarray(pixels), target)
    assert np.array_equal(np.asarray(Image.open(target)), pixels)
