"""The desktop on a video project: frames as images, the track list, the timeline, propagation.

The project is what ``groundlabel import FOLDER tracks.json -f coco-vid`` makes of a synthetic
clip tracked by ByteTrack; every edit made in the window must leave the project as the core's
own track commands leave a copy of it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from desktop_helpers import drag, key, settle, show_main_window, wait_idle, wait_image
from groundlabel.desktop.track_control import DEVICE_KEY, NO_TRACKER, TRACKER_KEY
from PySide6.QtCore import QPoint, Qt

from groundlabel.cli import main
from groundlabel.devtools.random_trackers import save_random_video_tracker
from groundlabel.devtools.synthetic_video import noisy_detections, standard_clip, write_clip
from groundlabel.project import BoxStatus, ReviewProject
from groundlabel.project.track_edits import AcceptTrack, RejectTrack, SetKeyframe, SplitTrack
from groundlabel.project.track_propagation import propagate_track
from groundlabel.trackers import tracker_factory

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


def current_frame(window) -> int:
    return window.controller.project.image(window.controller.current_id).frame


def go_to_frame(qtbot, window, frame: int) -> None:
    window.tracks.jump(frame)
    qtbot.waitUntil(lambda: current_frame(window) == frame and window.canvas.has_image(), timeout=WAIT_MS)
    settle()


def test_frames_step_with_comma_and_period_and_a_timeline_click_jumps(window, qtbot):
    assert window.tracks.timeline.isVisible() and window.tracks.dock.isVisible()
    assert current_frame(window) == 0
    key(qtbot, window, Qt.Key.Key_Period)
    key(qtbot, window, Qt.Key.Key_Period)
    qtbot.waitUntil(lambda: current_frame(window) == 2, timeout=WAIT_MS)
    key(qtbot, window, Qt.Key.Key_Comma)
    qtbot.waitUntil(lambda: current_frame(window) == 1, timeout=WAIT_MS)
    wait_image(qtbot, window)
    assert box_ids_on_canvas(window) == {
        b.id for b in window.controller.project.boxes(window.controller.current_id)
    }
    timeline = window.tracks.timeline
    assert timeline.position.frame == 1 and len(timeline.strips) == len(window.controller.project.tracks())
    x = round(timeline.x_of(9.5))
    qtbot.mouseClick(timeline, Qt.MouseButton.LeftButton, pos=QPoint(x, 4))
    qtbot.waitUntil(lambda: current_frame(window) == 9, timeout=WAIT_MS)
    assert window.tracks.timeline.position.frame == 9


def test_a_selected_track_is_selected_on_every_frame_and_a_r_review_it(window, qtbot, tracked, tmp_path):
    project = window.controller.project
    rows = window.tracks.panel.rows()
    assert [r.track_id for r in rows] == [t.track_id for t in project.tracks("clip.mp4")]
    first, second = rows[0].track_id, rows[1].track_id
    window.tracks.panel.list.setCurrentRow(0)  # as a click in the list does
    box_on = {f: b.id for f, b in project.track_boxes(first)}
    assert window.canvas.selected_ids() == [box_on[0]]
    go_to_frame(qtbot, window, 3)
    qtbot.waitUntil(lambda: window.canvas.selected_ids() == [box_on[3]], timeout=WAIT_MS)
    key(qtbot, window, Qt.Key.Key_A)
    window.tracks.select_track(second)
    key(qtbot, window, Qt.Key.Key_R)

    with ReviewProject.open(copy_of(tracked, tmp_path, "core")) as core:
        core.execute(AcceptTrack(core, first))
        core.execute(RejectTrack(core, second))
        assert project.dump_state()["boxes"] == core.dump_state()["boxes"]
    states = {r.track_id: r.state for r in window.tracks.panel.rows()}
    assert states[first] == "accepted" and states[second] == "rejected"
    window.undo()
    window.undo()
    assert all(b.status == BoxStatus.PENDING for t in (first, second) for _, b in project.track_boxes(t))


def test_split_at_the_current_frame_then_undo(window, qtbot, tracked, tmp_path):
    project = window.controller.project
    track = max(project.tracks(), key=lambda t: t.box_count)
    before = project.dump_state()["boxes"]
    window.tracks.select_track(track.track_id)
    go_to_frame(qtbot, window, 5)
    key(qtbot, window, Qt.Key.Key_S)
    with ReviewProject.open(copy_of(tracked, tmp_path, "core")) as core:
        core.execute(SplitTrack(core, track.track_id, 5))
        assert project.dump_state()["boxes"] == core.dump_state()["boxes"] != before
    assert len(window.tracks.panel.rows()) == len(project.tracks()) == 6
    window.undo()
    assert project.dump_state()["boxes"] == before
    assert len(window.tracks.panel.rows()) == 5


@pytest.fixture(scope="module")
def video_tracker(tmp_path_factory) -> Path:
    return save_random_video_tracker(tmp_path_factory.mktemp("tracker") / "sam2-video")


def test_propagation_needs_a_tracker_checkpoint_and_says_so_in_one_line(window, qtbot):
    window.tracks.select_track(window.tracks.panel.rows()[0].track_id)
    key(qtbot, window, Qt.Key.Key_T)
    assert window.shown_errors == [NO_TRACKER] and "\n" not in NO_TRACKER
    assert not window.tracks.busy


def test_a_moved_box_is_a_keyframe_and_propagating_from_it_runs_in_the_background_then_undo_cancel(
    window, qtbot, tracked, tmp_path, video_tracker
):
    project = window.controller.project
    window.app_settings.set_value(TRACKER_KEY, str(video_tracker))
    window.app_settings.set_value(DEVICE_KEY, "cpu")
    track = max(project.tracks(), key=lambda t: t.box_count)
    window.tracks.select_track(track.track_id)
    go_to_frame(qtbot, window, 2)
    box = dict(project.track_boxes(track.track_id))[2]
    centre = ((box.xyxy[0] + box.xyxy[2]) / 2, (box.xyxy[1] + box.xyxy[3]) / 2)
    drag(qtbot, window, centre, (centre[0] + 4, centre[1] + 3))  # the person corrects the box here
    moved = dict(project.track_boxes(track.track_id))[2]
    assert project.track(track.track_id).keyframes == (2,) and moved.xyxy != box.xyxy
    assert window.canvas.selected_ids() == [moved.id]  # the track stays selected on its new box
    go_to_frame(qtbot, window, 6)
    key(qtbot, window, Qt.Key.Key_Less)  # back to the track's keyframe
    qtbot.waitUntil(lambda: current_frame(window) == 2 and window.canvas.has_image(), timeout=WAIT_MS)
    settle()
    before = project.dump_state()["boxes"]
    window.tracks.propagate("forward")
    assert window.tracks.busy  # the window stays usable meanwhile
    qtbot.waitUntil(lambda: not window.tracks.busy, timeout=WAIT_MS)
    assert window.shown_errors == []
    after = project.dump_state()["boxes"]

    with ReviewProject.open(copy_of(tracked, tmp_path, "core")) as core:
        core.execute(SetKeyframe(core, track.track_id, core.frame_ids("clip.mp4")[2], moved.xyxy))
        assert core.dump_state()["boxes"] == before
        factory = tracker_factory(str(video_tracker), "cpu")
        edit = propagate_track(core, track.track_id, 2, factory, "forward", model=str(video_tracker))
        core.execute(edit)
        expected = core.dump_state()["boxes"]
    assert edit.boxes, "the random tracker lost the object at once: the test shows nothing"
    assert after == expected != before
    assert [r.summary for r in window.tracks.panel.rows()] == project.tracks("clip.mp4")

    window.undo()
    assert project.dump_state()["boxes"] == before
    window.tracks.propagate("both")  # cancelled at its first frame: nothing changes
    window.tracks.cancel()
    qtbot.waitUntil(lambda: not window.tracks.busy, timeout=WAIT_MS)
    assert project.dump_state()["boxes"] == before and window.shown_errors == []


def test_review_of_a_clip_adds_its_frames_once_and_shows_that_clip(qtbot, tmp_path, monkeypatch):
    """``groundlabel review clip.mp4``: the clip's folder is the project, the window starts on the clip."""
    folder = tmp_path / "clips"
    folder.mkdir()
    write_clip(standard_clip(length=6, seed=3), folder / "a.mp4")
    write_clip(standard_clip(length=4, seed=4), folder / "b.mp4")
    win = show_main_window(qtbot, monkeypatch, tmp_path / "prefs.ini", str(tmp_path / "no-detector"))
    assert win.open_folder(folder, folder / "b.mp4")
    wait_image(qtbot, win)
    project = win.controller.project
    assert project.root == folder.resolve()
    assert sorted((r.video, r.frame) for r in win.files.model.records()) == [
        *(("a.mp4", i) for i in range(6)),
        *(("b.mp4", i) for i in range(4)),
    ]
    assert project.image(win.controller.current_id).path == "b.mp4#000000"
    assert win.canvas.has_image(), win.canvas.message()
    assert win.open_folder(folder)  # re-opening adds nothing twice
    wait_image(qtbot, win)
    assert len(win.files.model.records()) == 10


def test_track_video_stores_the_core_run_as_one_undoable_edit(qtbot, tmp_path, monkeypatch, tiny_model_dir):
    """Ctrl+T on a clip: the boxes are what ``video_tracking`` stores for the same job, undo removes them."""
    from groundlabel.project.video_tracking import RetrackVideo, track_project_video, tracking_job

    folder = tmp_path / "clip"
    folder.mkdir()
    write_clip(standard_clip(length=3, seed=7), folder / "clip.mp4")
    setup = ReviewProject.open(folder)
    setup.ensure_classes(["square", "disc"])
    setup.model = str(tiny_model_dir)
    setup.close()
    reference = tmp_path / "reference"
    shutil.copytree(folder, reference)
    win = show_main_window(qtbot, monkeypatch, tmp_path / "prefs.ini", str(tiny_model_dir))
    assert win.open_folder(folder, folder / "clip.mp4")
    wait_image(qtbot, win)
    wait_idle(qtbot, win)  # two from_pretrained at once on two threads collide (meta tensors)
    win.actions_by_name["track_video"].trigger()
    # a model load and a 3-frame track on a worker of a loaded 2-core CI machine: bounded, not short
    qtbot.waitUntil(lambda: not win.tracks.busy, timeout=4 * WAIT_MS)
    project = win.controller.project
    assert win.controller.session.undo_stack.count() == 1

    def boxes(p):
        return sorted(
            (p.image(b.image_id).frame, b.xyxy, b.score, b.status) for r in p.images() for b in p.boxes(r.id)
        )

    mine = boxes(project)
    core = ReviewProject.open(reference)
    from groundlabel.project.video_scan import add_videos

    add_videos(core)
    run = track_project_video(core, "clip.mp4", tracking_job(core, str(tiny_model_dir), "cpu"))
    with core.batch():
        RetrackVideo(run).apply(core)
    assert mine == boxes(core) and mine, "the window's run differs from the core's"
    core.close()
    win.undo()
    assert boxes(project) == []


def test_play_steps_at_the_clips_rate_to_the_end_and_any_edit_stops_it(window, qtbot):
    player, tracks = window.tracks.player, window.tracks
    assert tracks.position.frame == 0 and tracks.position.fps
    window.actions_by_name["play_pause"].trigger()
    assert player.playing and player.timer.interval() == round(1000 / tracks.position.fps)
    qtbot.waitUntil(lambda: not player.playing, timeout=WAIT_MS)
    assert tracks.position.frame == 11  # stopped on the last frame
    window.actions_by_name["play_pause"].trigger()  # at the end: from the first frame again
    assert player.playing
    track = tracks.panel.rows()[0].track_id
    tracks.select_track(track)
    assert tracks._edit(lambda: AcceptTrack(window.controller.project, track))
    assert not player.playing  # the edit stopped it
    frame = tracks.position.frame
    settle(0.3)
    assert tracks.position.frame == frame
