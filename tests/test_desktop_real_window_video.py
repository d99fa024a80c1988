"""A clip in a real window (Xvfb, xdotool): track, move a box, propagate, undo, again, accept, MOT.

``groundlabel -v review clip.mp4`` runs as its own process with real X input and a tiny
SAM 2.1 video checkpoint as the per-user ``video/tracker`` setting, so ``T`` needs no dialog.
The test waits on the project database and the app's log (``shown PATH with N box(es)``,
the frame the keys act on), never on fixed sleeps. The MOT file ``groundlabel export -f mot``
writes from the app's project must equal, row for row, the one written after the same edits
made with the core API (``track_project_video``, ``SetKeyframe``, ``propagate_track``,
``AcceptTrack``) on a copy of the clip.

``GROUNDLABEL_SCREENSHOT_VIDEO=docs/images/review-video.png`` saves the README's screenshot.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from real_window import STEP_TIMEOUT, ProjectDB, start_app, stop_app
from xsession import wait_for

from groundlabel.cli import main
from groundlabel.devtools.random_trackers import save_random_video_tracker
from groundlabel.devtools.synthetic_video import standard_clip, write_clip

pytestmark = pytest.mark.gui

FRAMES = 12
EDIT_FRAME = 10  # the frame the box is moved on: propagation runs back to 0 and on to 11
NUDGE = 10  # Alt+Shift+Right moves the selected box 10 px to the right
CLASSES = "square, disc"


@pytest.fixture(scope="module")
def video_tracker(tmp_path_factory) -> Path:
    return save_random_video_tracker(tmp_path_factory.mktemp("tracker") / "sam2-video")


def track_boxes(db: ProjectDB, track_id: int) -> list[tuple]:
    """(frame, x0, y0, x1, y1, source, status) of a track's boxes, by frame."""
    return db.rows(
        "SELECT i.frame, b.x0, b.y0, b.x1, b.y1, b.source, b.status FROM boxes b "
        "JOIN images i ON i.id = b.image_id WHERE b.track_id = ? ORDER BY i.frame",
        track_id,
    )


def hand_boxes(db: ProjectDB, frame: int) -> list[tuple]:
    return db.rows(
        "SELECT b.track_id, b.x0, b.y0, b.x1, b.y1 FROM boxes b JOIN images i ON i.id = b.image_id "
        "WHERE i.frame = ? AND b.source = 'hand'",
        frame,
    )


def mot_rows(out: Path) -> list[list[float]]:
    (gt,) = out.glob("*/gt/gt.txt")
    return [[float(v) for v in line.split(",")] for line in gt.read_text().splitlines()]


def core_edits(folder: Path, model: Path, tracker: Path, track_id: int, moved: tuple) -> None:
    """The window's edits with the core API: track, set the box on EDIT_FRAME, propagate both ways, accept."""
    from groundlabel.project import ReviewProject
    from groundlabel.project.track_edits import AcceptTrack, SetKeyframe
    from groundlabel.project.track_propagation import propagate_track
    from groundlabel.project.video_scan import add_videos
    from groundlabel.project.video_tracking import RetrackVideo, track_project_video, tracking_job
    from groundlabel.trackers import tracker_factory

    with ReviewProject.open(folder) as core:
        core.ensure_classes([c.strip() for c in CLASSES.split(",")])
        add_videos(core)
        run = track_project_video(core, "clip.mp4", tracking_job(core, str(model), "cpu"))
        core.execute(RetrackVideo(run, model=str(model)))
        core.execute(SetKeyframe(core, track_id, core.frame_ids("clip.mp4")[EDIT_FRAME], moved))
        factory = tracker_factory(str(tracker), "cpu")
        core.execute(propagate_track(core, track_id, EDIT_FRAME, factory, "both", model=str(tracker)))
        core.execute(AcceptTrack(core, track_id))


def test_real_window_track_move_propagate_undo_accept_mot(
    xsession, tiny_model_dir, video_tracker, tmp_path, monkeypatch
):
    monkeypatch.setenv("GROUNDLABEL_NO_NATIVE", "1")  # the core side runs what the app runs
    folder = tmp_path / "clip"
    folder.mkdir()
    write_clip(standard_clip(length=FRAMES, seed=1), folder / "clip.mp4")
    reference = tmp_path / "reference"
    shutil.copytree(folder, reference)
    (tmp_path / "settings.ini").write_text(f"[video]\ntracker={video_tracker}\ndevice=cpu\n")
    db = ProjectDB(folder)
    log = tmp_path / "app.log"
    x = xsession
    app = start_app(x, folder / "clip.mp4", tiny_model_dir, tmp_path, "--device", "cpu", verbose=True)

    def shown(frame: int) -> bool:
        """Frame ``frame`` is the last image the window showed: the keys now act on it."""
        return log.read_text().rsplit("shown ", 1)[-1].startswith(f"clip.mp4#{frame:06d} with")

    try:
        main_window = x.wait_window(app.pid, "^groundlabel review", timeout=STEP_TIMEOUT)
        wait_for(lambda: len(db.states()) == FRAMES, STEP_TIMEOUT, "the clip's frames in the project")
        wait_for(lambda: x.focused() == main_window, 30, "the main window to take the keyboard focus")
        x.key("ctrl+l")
        dialog = x.wait_window(app.pid, "^Add classes$")
        wait_for(lambda: x.focused() == dialog, 30, "the class dialog to take the focus")
        x.type(CLASSES)
        x.key("Return")
        wait_for(lambda: db.classes() == [("square", ()), ("disc", ())], STEP_TIMEOUT, "the two classes")
        wait_for(lambda: x.focused() == main_window, 30, "the focus back on the main window")
        loaded = f"loaded {tiny_model_dir.name} ("
        wait_for(lambda: loaded in log.read_text(), STEP_TIMEOUT, "the detector to load")

        # Ctrl+T: the project's detector and ByteTrack over the clip, as pending tracks.
        x.key("ctrl+t")
        tracked = "SELECT count(*) FROM boxes WHERE track_id IS NOT NULL"
        wait_for(lambda: db.rows(tracked)[0][0] > 0, 2 * STEP_TIMEOUT, "the tracks in the project")

        # Frame 10 (ten times "."), Tab selects a box (and its track), Alt+Shift+Right moves it.
        x.key(*["period"] * EDIT_FRAME)
        wait_for(lambda: shown(EDIT_FRAME), STEP_TIMEOUT, f"frame {EDIT_FRAME} shown")
        on_frame = {t: b for t, *b in db.rows(
            "SELECT b.track_id, b.x0, b.y0, b.x1, b.y1 FROM boxes b JOIN images i ON i.id = b.image_id "
            "WHERE i.frame = ?", EDIT_FRAME)}  # fmt: skip
        x.key("Tab", "alt+shift+Right")
        (track_id, *moved) = wait_for(lambda: hand_boxes(db, EDIT_FRAME), 30, "the moved box")[0]
        x0, y0, x1, y1 = on_frame[track_id]
        assert moved[1::2] == [y0, y1] and 0 < moved[0] - x0 <= NUDGE and moved[2] - moved[0] == x1 - x0
        before = track_boxes(db, track_id)
        assert [f for f, *_, s, _ in before if s == "hand"] == [EDIT_FRAME]

        # T: propagate from here, both ways; Ctrl+Z undoes it; T again gives the same boxes.
        x.key("t")
        first = wait_for(
            lambda: (b := track_boxes(db, track_id)) != before and b, STEP_TIMEOUT, "the propagation"
        )
        x.key("ctrl+z")
        wait_for(lambda: track_boxes(db, track_id) == before, 30, "the propagation undone")
        x.key("t")
        wait_for(lambda: track_boxes(db, track_id) == first, STEP_TIMEOUT, "the same propagation again")
        screenshot = x.screenshot(tmp_path / "review-video.png")

        # A: accept the selected track.
        x.key("a")
        wait_for(lambda: {s for *_, s in track_boxes(db, track_id)} == {"accepted"}, 30, "the track accepted")
        x.key("ctrl+q")
        assert app.wait(STEP_TIMEOUT) == 0
    finally:
        stop_app(app, tmp_path)

    target = os.environ.get("GROUNDLABEL_SCREENSHOT_VIDEO")
    if target:
        shutil.copy(screenshot, target)

    assert "Traceback" not in log.read_text()
    assert len(first) >= EDIT_FRAME, "the tracker lost the object at once: the test shows nothing"
    core_edits(reference, tiny_model_dir, video_tracker, track_id, tuple(moved))
    assert main(["export", str(folder), "-f", "mot", "-o", str(tmp_path / "mot"), "--include", "all"]) == 0
    assert (
        main(["export", str(reference), "-f", "mot", "-o", str(tmp_path / "core-mot"), "--include", "all"])
        == 0
    )
    mine, expected = mot_rows(tmp_path / "mot"), mot_rows(tmp_path / "core-mot")
    assert len(mine) == len(first) and {r[1] for r in mine} == {1.0}
    assert len(mine) == len(expected)
    for row, want in zip(mine, expected, strict=True):
        assert row == pytest.approx(want, abs=0.011), (row, want)
