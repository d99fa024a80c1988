"""A video as a review project: the v4 migration, tracks in, frames decoded, track edits, export, train split."""

from __future__ import annotations

import itertools
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from video_projects import tracked_clip

from groundlabel.cli import main
from groundlabel.devtools.synthetic_video import standard_clip, write_clip
from groundlabel.project import ReviewProject
from groundlabel.project.database import ProjectError
from groundlabel.project.models import BoxStatus, ImageState
from groundlabel.project.schema import SCHEMA_VERSION
from groundlabel.project.track_edits import (
    AcceptTrack,
    DeleteTrack,
    MergeTracks,
    RejectTrack,
    RelabelTrack,
    SplitTrack,
)
from groundlabel.video import FrameSelection, Video

V3_SQL = Path(__file__).parent / "data" / "project_v3.sql"
V3_IMAGE_COLUMNS = (
    "id, path, width, height, file_size, file_mtime_ns, content_hash, state, prediction_key, missing, changed"
)
V3_BOX_COLUMNS = (
    "id, image_id, class_id, x0, y0, x1, y1, score, source, status, model, box_threshold, text_threshold, "
    "auto_accepted, mask, mask_score, mask_model"
)


def _rows(db: Path, sql: str) -> list[tuple]:
    connection = sqlite3.connect(db)
    try:
        return sorted(connection.execute(sql).fetchall())
    finally:
        connection.close()


def test_a_v3_project_from_the_image_only_code_opens_with_nothing_lost_and_takes_a_video(tmp_path: Path):
    for name, size in [("a.png", (40, 30)), ("b.png", (32, 24)), ("c.png", (16, 16))]:
        Image.new("RGB", size, (10, 20, 30)).save(tmp_path / name)
    (tmp_path / ".groundlabel").mkdir()
    db = tmp_path / ".groundlabel" / "project.db"
    connection = sqlite3.connect(db)
    connection.executescript(V3_SQL.read_text(encoding="utf-8"))
    connection.close()
    tables = {
        "images": f"SELECT {V3_IMAGE_COLUMNS} FROM images",
        "boxes": f"SELECT {V3_BOX_COLUMNS} FROM boxes",
        "classes": "SELECT * FROM classes",
        "settings": "SELECT * FROM settings",
        "sequence": "SELECT * FROM sqlite_sequence",
    }
    before = {name: _rows(db, sql) for name, sql in tables.items()}
    assert _rows(db, "PRAGMA user_version") == [(3,)] and len(before["boxes"]) == 4

    with ReviewProject.open(tmp_path) as project:
        assert _rows(db, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
        assert {name: _rows(db, sql) for name, sql in tables.items()} == before
        images = project.images(include_missing=True)
        assert len(images) == 4 and not any(i.is_frame for i in images)
        assert [i.path for i in images if i.missing] == ["gone.png"]
        boxes = [b for i in images for b in project.boxes(i.id)]
        assert all(b.track_id is None for b in boxes)
        masked = [b for b in boxes if b.mask is not None]
        assert len(masked) == 1 and masked[0].mask_score == pytest.approx(0.93)
        assert project.tracks() == []
        # Ids go on after the old ones (box 3 was deleted by the old code and is not reused).
        write_clip(standard_clip(length=4), tmp_path / "clip.mp4")
        from groundlabel.project.video_frames import add_video_frames

        ids = add_video_frames(project, "clip.mp4", 160, 120, [(0, 0.0), (1, 1 / 30)], 30.0, 4)
        new_box = project.insert_box(ids[1], project.class_by_name("car").id, (1, 1, 9, 9), track_id=1)
        assert new_box.id == 6 and project.tracks()[0].track_id == 1
    assert main(["export", str(tmp_path), "-f", "coco", "-o", str(tmp_path / "out.json")]) == 0


@pytest.fixture
def tracked_project(tmp_path: Path) -> tuple[Path, Path]:
    """A project folder holding a 30-frame synthetic clip and its ByteTrack tracks (from noisy truth)."""
    return tracked_clip(tmp_path, length=30, clip_seed=1, detection_seed=2)


def test_tracks_import_as_frames_with_track_ids_and_a_second_import_adds_nothing(tracked_project, capsys):
    folder, tracks_file = tracked_project
    from groundlabel.formats.tracks_cocovid import read_cocovid

    tracks = read_cocovid(tracks_file).videos[0]
    assert main(["import", str(folder), str(tracks_file), "-f", "coco-vid"]) == 0
    with ReviewProject.open(folder) as project:
        frames = [i for i in project.images() if i.is_frame]
        assert [f.frame for f in frames] == list(range(30))
        assert all(f.size == (160, 120) and f.video == "clip.mp4" for f in frames)
        summaries = project.tracks("clip.mp4")
        assert len(summaries) == len(tracks.tracks())
        # Every box of the file is in the project, on its frame, with one project track per file track.
        file_tracks = sorted(
            sorted((b.frame_index, tuple(round(v, 4) for v in b.xyxy)) for b in boxes)
            for boxes in tracks.tracks().values()
        )
        project_tracks = sorted(
            sorted((f, tuple(round(v, 4) for v in box.xyxy)) for f, box in project.track_boxes(t.track_id))
            for t in summaries
        )
        assert project_tracks == file_tracks
        assert all(t.pending_count == t.box_count for t in summaries)
        state = project.dump_state()
    # The frames are rows, not files: a rescan does not take them for missing images.
    assert main(["import", str(folder), str(tracks_file), "-f", "coco-vid"]) == 0
    assert "already there" in capsys.readouterr().err
    with ReviewProject.open(folder) as project:
        assert project.dump_state() == state
        assert not any(i.missing for i in project.images(include_missing=True))


def test_a_frame_file_holds_the_pixels_the_tracker_saw(tracked_project):
    folder, tracks_file = tracked_project
    assert main(["import", str(folder), str(tracks_file), "-f", "coco-vid"]) == 0
    decoded = {f.index: f.array() for f in Video.open(folder / "clip.mp4").frames(FrameSelection())}
    with ReviewProject.open(folder) as project:
        frames = {i.frame: i for i in project.images() if i.is_frame}
        for index in (0, 17, 29):  # by seeking to the frame's timestamp
            path = project.image_file(frames[index])
            assert path.suffix == ".png" and ".groundlabel" in path.parts
            assert np.array_equal(np.asarray(Image.open(path).convert("RGB")), decoded[index])
        # Without a timestamp the frame is found by counting from the start: the same pixels.
        assert np.array_equal(Video.open(folder / "clip.mp4").frame_at(23).array(), decoded[23])


def test_track_edits_change_every_box_of_the_track_and_undo_restores_the_project(tracked_project):
    folder, tracks_file = tracked_project
    assert main(["import", str(folder), str(tracks_file), "-f", "coco-vid"]) == 0
    with ReviewProject.open(folder) as project:
        states = [project.dump_state()]
        first, second = project.tracks("clip.mp4")[:2]
        disc = project.class_by_name("disc")

        project.execute(AcceptTrack(project, first.track_id))
        states.append(project.dump_state())
        assert project.track(first.track_id).accepted_count == first.box_count
        project.execute(RejectTrack(project, second.track_id))
        states.append(project.dump_state())
        assert project.track(second.track_id).rejected_count == second.box_count
        project.execute(RelabelTrack(project, first.track_id, disc.id))
        states.append(project.dump_state())
        assert {b.class_id for _, b in project.track_boxes(first.track_id)} == {disc.id}

        middle = (first.first_frame + first.last_frame) // 2 + 1
        project.execute(SplitTrack(project, first.track_id, middle))
        states.append(project.dump_state())
        head = project.track(first.track_id)
        new_id = max(t.track_id for t in project.tracks())
        assert head.last_frame < middle and project.track(new_id).first_frame >= middle
        assert head.box_count + project.track(new_id).box_count == first.box_count

        project.execute(MergeTracks(project, first.track_id, new_id))
        states.append(project.dump_state())
        assert project.track(first.track_id).box_count == first.box_count
        with pytest.raises(Exception, match="no longer exists"):
            project.track(new_id)

        project.execute(DeleteTrack(project, second.track_id))
        states.append(project.dump_state())
        assert all(t.track_id != second.track_id for t in project.tracks())
        # Each undo gives back the state before its edit, each redo the state after it.
        assert all(a != b for a, b in itertools.pairwise(states))  # every edit changed something
        for before in reversed(states[:-1]):
            project.history.undo()
            assert project.dump_state() == before
        for after in states[1:]:
            project.history.redo()
            assert project.dump_state() == after


def test_merging_overlapping_tracks_keeps_one_box_a_frame_and_other_videos_are_refused(tracked_project):
    folder, tracks_file = tracked_project
    assert main(["import", str(folder), str(tracks_file), "-f", "coco-vid"]) == 0
    with ReviewProject.open(folder) as project:
        first, second = project.tracks("clip.mp4")[:2]
        frames_a = {f for f, _ in project.track_boxes(first.track_id)}
        frames_b = {f for f, _ in project.track_boxes(second.track_id)}
        project.execute(MergeTracks(project, first.track_id, second.track_id))
        merged = project.track_boxes(first.track_id)
        assert sorted(f for f, _ in merged) == sorted(frames_a | frames_b)  # one box a frame
        with pytest.raises(ProjectError, match="with itself"):
            MergeTracks(project, first.track_id, first.track_id)
        with pytest.raises(ProjectError, match="split it at a frame after its first"):
            SplitTrack(project, first.track_id, min(frames_a | frames_b))


def _review_all_frames(folder: Path) -> None:
    with ReviewProject.open(folder) as project:
        for track in project.tracks():
            project.execute(AcceptTrack(project, track.track_id))
        for image in project.images():
            state = ImageState.REVIEWED if image.accepted_count else ImageState.REVIEWED_EMPTY
            project.set_image_state(image.id, state)


def test_a_reviewed_video_exports_to_mot_with_the_edited_tracks(tracked_project, tmp_path: Path):
    folder, tracks_file = tracked_project
    assert main(["import", str(folder), str(tracks_file), "-f", "coco-vid"]) == 0
    with ReviewProject.open(folder) as project:
        first, second = project.tracks("clip.mp4")[:2]
        project.execute(MergeTracks(project, first.track_id, second.track_id))
        project.execute(RejectTrack(project, project.tracks()[-1].track_id))
    _review_all_frames(folder)
    with ReviewProject.open(folder) as project:
        rejected = project.tracks()[-1].track_id
        project.execute(RejectTrack(project, rejected))
        expected = {}
        for track in project.tracks():
            if track.track_id == rejected:
                continue
            expected[track.track_id] = sorted(
                (
                    f + 1,
                    tuple(
                        round(v, 2)
                        for v in (b.xyxy[0], b.xyxy[1], b.xyxy[2] - b.xyxy[0], b.xyxy[3] - b.xyxy[1])
                    ),
                )
                for f, b in project.track_boxes(track.track_id)
            )
    out = tmp_path / "mot"
    assert main(["export", str(folder), "-f", "mot", "-o", f"{out}/"]) == 0
    gt = next(out.rglob("gt.txt"))
    exported: dict[int, list] = {}
    for line in gt.read_text().splitlines():
        cells = line.split(",")
        box = tuple(round(float(v), 2) for v in cells[2:6])
        exported.setdefault(int(cells[1]), []).append((int(cells[0]), box))
    assert sorted(sorted(v) for v in exported.values()) == sorted(expected.values())


def test_frames_export_as_images_split_by_chunks_and_train_reads_them(tracked_project, tmp_path: Path):
    folder, tracks_file = tracked_project
    assert main(["import", str(folder), str(tracks_file), "-f", "coco-vid"]) == 0
    _review_all_frames(folder)
    out = tmp_path / "coco"
    split = ["--split", "train=0.6,val=0.4", "--split-by", "chunk", "--chunk-frames", "6"]
    assert main(["export", str(folder), "-f", "coco", "-o", str(out), "--images", "copy", *split]) == 0
    import json

    decoded = {f.index: f.array() for f in Video.open(folder / "clip.mp4").frames(FrameSelection())}
    split_of = {}
    for part in ("train", "val"):
        document = json.loads((out / "annotations" / f"instances_{part}.json").read_text())
        for image in document["images"]:
            index = int(Path(image["file_name"]).stem)
            split_of[index] = part
            pixels = np.asarray(Image.open(out / "images" / part / image["file_name"]).convert("RGB"))
            if index in (0, 29):
                assert np.array_equal(pixels, decoded[index])
    assert sorted(split_of) == list(range(30))
    # Whole chunks of 6 frames move together; both splits get some.
    for chunk in range(5):
        assert len({split_of[i] for i in range(chunk * 6, chunk * 6 + 6)}) == 1
    assert set(split_of.values()) == {"train", "val"}

    from groundlabel.trainers.data import training_data

    data = training_data(folder, "train=0.6,val=0.4", 0, "chunk", 6)
    assert {int(s.path.stem) for s in data.train} == {i for i, p in split_of.items() if p == "train"}
    assert all(s.path.is_file() for s in data.train + data.val)


def test_a_video_missing_from_the_project_folder_is_one_clear_line(tmp_path: Path, tracked_project, capsys):
    _, tracks_file = tracked_project
    empty = tmp_path / "elsewhere"
    empty.mkdir()
    assert main(["import", str(empty), str(tracks_file), "-f", "coco-vid"]) == 2
    err = capsys.readouterr().err
    assert "clip.mp4" in err and "put the clip there" in err and "Traceback" not in err
    with ReviewProject.open(empty) as project:
        assert project.images() == [] and project.classes() == []


def test_accepting_a_track_marks_its_boxes_only(tracked_project):
    folder, tracks_file = tracked_project
    assert main(["import", str(folder), str(tracks_file), "-f", "coco-vid"]) == 0
    with ReviewProject.open(folder) as project:
        first, second = project.tracks("clip.mp4")[:2]
        project.execute(AcceptTrack(project, first.track_id))
        assert {b.status for _, b in project.track_boxes(second.track_id)} == {BoxStatus.PENDING}


def test_the_default_split_gives_a_short_clip_chunks_of_ten_frames(tracked_project):
    folder, tracks_file = tracked_project
    assert main(["import", str(folder), str(tracks_file), "-f", "coco-vid"]) == 0
    _review_all_frames(folder)
    from groundlabel.trainers.data import training_data

    data = training_data(folder, "train=0.6,val=0.4")  # auto: one video, so chunks; 30 frames -> 10 a chunk
    split_of = {int(s.path.stem): "train" for s in data.train} | {int(s.path.stem): "val" for s in data.val}
    assert sorted(split_of) == list(range(30)) and set(split_of.values()) == {"train", "val"}
    for chunk in range(3):
        assert len({split_of[i] for i in range(chunk * 10, chunk * 10 + 10)}) == 1
