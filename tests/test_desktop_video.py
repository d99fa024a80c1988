"""The desktop on a video project: frames as images, the track list, the timeline, propagation.

The project is what ``groundlabel import FOLDER tracks.json -f coco-vid`` makes of a synthetic
clip tracked by ByteTrack; every edit made in the window must leave the project as the core's
own track commands leave a copy of it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from desktop_helpers import show_main_window, wait_image

from groundlabel.cli import main
from groundlabel.devtools.synthetic_video import noisy_detections, standard_clip, write_clip

pytestmark = pytest.mark.gui
WAIT_MS = 30_000


@pytest.fixture(scope="module")
def tracked(tmp_path_factory) -> Path:
    """A 12-frame clip, its ByteTrack tracks imported: the folder every test copies."""
    root = tmp_path_factory.mktemp("video")
    folder = root / "project"
    folder.mkdir()
    clip = standard_clip(length=12, seed=1)
    write_clip(clip, folder / "clip.mp4")
    (root / "det.txt").write_text("\n".join(noisy_detections(clip, seed=2)) + "\n")
    tracks = root / "tracks.json"
    args = ["track", str(folder / "clip.mp4"), "--detections", str(root / "det.txt"), "-l", "square, disc"]
    assert main([*args, "-o", str(tracks)]) == 0
    assert main(["import", str(folder), str(tracks), "-f", "coco-vid"]) == 0
    return folder


def copy_of(tracked: Path, tmp_path: Path, name: str) -> Path:
    target = tmp_path / name
    shutil.copytree(tracked, target)
    return target


@pytest.fixture
def window(qtbot, tmp_path, tracked, monkeypatch):
    win = show_main_window(qtbot, monkeypatch, tmp_path / "prefs.ini", str(tmp_path / "no-detector"))
    assert win.open_folder(copy_of(tracked, tmp_path, "desktop"))
    wait_image(qtbot, win)
    return win


def box_ids_on_canvas(window) -> set[int]:
    return set(window.canvas.box_items())


def test_a_video_project_opens_with_its_frames_decoded_off_the_gui_thread(window, qtbot):
    project = window.controller.project
    records = window.files.model.records()
    assert [r.frame for r in records] == list(range(12)) and all(r.is_frame for r in records)
    assert window.canvas.has_image(), window.canvas.message()
    bounds = window.canvas.image_bounds()
    assert (bounds.width(), bounds.height()) == (160, 120)
    first = window.controller.current_id
    assert box_ids_on_canvas(window) == {b.id for b in project.boxes(first)} != set()
    # The thumbnails come from the frames (decoded into the project's cache), not from ``root / path``.
    qtbot.waitUntil(lambda: window.files.thumbnails.has(first), timeout=WAIT_MS)
    assert window.files.thumbnails.thumbnail(first, "") is not None
    assert project.image_file(project.image(first)).is_file()
