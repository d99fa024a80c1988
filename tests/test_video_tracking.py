"""Tracking a project's video into the project: the ``track`` loop's boxes as one undoable command."""

from __future__ import annotations

import pytest

from groundlabel.cli import main
from groundlabel.devtools.synthetic_video import noisy_detections, standard_clip, write_clip
from groundlabel.errors import GroundlabelError
from groundlabel.project import BoxStatus, ReviewProject
from groundlabel.project.commands import SetBoxStatus
from groundlabel.project.track_import import import_tracks, read_tracks_file
from groundlabel.project.video_scan import add_videos
from groundlabel.project.video_tracking import (
    RetrackVideo,
    TrackingCancelled,
    track_project_video,
    tracking_job,
)
from groundlabel.tracking import TrackJob


def _grouped(project):
    """Boxes as {track: [(frame, xyxy, score)]} with track ids renumbered by first appearance."""
    tracks: dict[int, list] = {}
    for record in project.images():
        for box in project.boxes(record.id):
            tracks.setdefault(box.track_id, []).append((record.frame, box.xyxy, box.score, box.status))
    return sorted(tracks.values())


@pytest.fixture
def clip_project(tmp_path):
    folder = tmp_path / "p"
    folder.mkdir()
    clip = standard_clip(length=10, seed=5)
    write_clip(clip, folder / "clip.mp4")
    det = tmp_path / "det.txt"
    det.write_text("\n".join(noisy_detections(clip, seed=6)) + "\n")
    project = ReviewProject.open(folder)
    add_videos(project)
    project.ensure_classes(["square", "disc"])
    yield project, det, tmp_path
    project.close()


def test_a_tracking_run_stores_what_track_then_import_store_and_undo_removes_it(clip_project):
    project, det, tmp_path = clip_project
    job = TrackJob(labels=("square", "disc"), detections=str(det))
    seen = []
    run = track_project_video(project, "clip.mp4", job, progress=lambda done, total: seen.append(done))
    assert seen == list(range(1, 11))
    before = _grouped(project)
    command = RetrackVideo(run)
    with project.batch():
        command.apply(project)
    mine = _grouped(project)
    # The same run through the command line and import, on a copy of the folder.
    other = tmp_path / "q"
    other.mkdir()
    (other / "clip.mp4").write_bytes((project.root / "clip.mp4").read_bytes())
    tracks = tmp_path / "tracks.json"
    args = [
        "track",
        str(other / "clip.mp4"),
        "--detections",
        str(det),
        "-l",
        "square, disc",
        "-o",
        str(tracks),
    ]
    assert main(args) == 0
    reference = ReviewProject.open(other)
    import_tracks(reference, read_tracks_file(tracks))
    ref = _grouped(reference)
    # tracks.json keeps 2 decimals; the project keeps the tracker's floats.
    assert [[(f, s, st) for f, _, s, st in t] for t in mine] == [
        [(f, s, st) for f, _, s, st in t] for t in ref
    ]
    assert all(
        abs(a - b) <= 0.0051
        for t, u in zip(mine, ref, strict=True)
        for x, y in zip(t, u, strict=True)
        for a, b in zip(x[1], y[1], strict=True)
    )
    assert len(mine) > 1
    reference.close()
    with project.batch():
        command.revert(project)
    assert _grouped(project) == before


def test_re_tracking_replaces_only_untouched_pending_tracker_boxes(clip_project):
    project, det, _ = clip_project
    job = TrackJob(labels=("square", "disc"), detections=str(det))
    with project.batch():
        RetrackVideo(track_project_video(project, "clip.mp4", job)).apply(project)
    frame0 = next(r for r in project.images() if r.frame == 0)
    kept = project.boxes(frame0.id)[0]
    with project.batch():
        SetBoxStatus([kept.id], BoxStatus.ACCEPTED).apply(project)
    count = sum(len(project.boxes(r.id)) for r in project.images())
    ids_before = {b.id for r in project.images() for b in project.boxes(r.id)}
    before = _grouped(project)
    again = RetrackVideo(track_project_video(project, "clip.mp4", job))
    with project.batch():
        again.apply(project)
    boxes = [b for r in project.images() for b in project.boxes(r.id)]
    assert kept.id in {b.id for b in boxes}  # the accepted box stays, the pending ones were replaced
    assert len(boxes) == count + 1 and all(
        b.id in ids_before for b in boxes if b.status is BoxStatus.ACCEPTED
    )
    with project.batch():
        again.revert(project)  # undo gives the replaced boxes back
    assert _grouped(project) == before


def test_bad_input_is_one_line(clip_project, tmp_path):
    project, det, _ = clip_project
    with pytest.raises(GroundlabelError, match="no detector chosen"):
        tracking_job(project, None)
    with pytest.raises(TrackingCancelled, match="nothing was changed"):
        track_project_video(
            project,
            "clip.mp4",
            TrackJob(labels=("square", "disc"), detections=str(det)),
            should_stop=lambda: True,
        )
    (tmp_path / "p" / "bad.mp4").write_bytes(b"garbage")
    with pytest.raises(GroundlabelError, match=r"bad\.mp4"):
        track_project_video(project, "bad.mp4", TrackJob(labels=("square", "disc"), detections=str(det)))
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    no_classes = ReviewProject.open(fresh)
    with pytest.raises(GroundlabelError, match="no classes"):
        tracking_job(no_classes, "some-model")
    no_classes.close()
