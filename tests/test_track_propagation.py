"""Re-propagating a track from a frame a person fixed: span, fidelity to the tracker, undo."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from video_projects import tracked_clip

from groundlabel.cli import main
from groundlabel.devtools.random_trackers import save_random_video_tracker
from groundlabel.images import load_image
from groundlabel.project import ReviewProject
from groundlabel.project.database import ProjectError
from groundlabel.project.models import BoxSource
from groundlabel.project.track_edits import SetKeyframe
from groundlabel.project.track_propagation import propagate_track, propagation_span
from groundlabel.project.video_frames import decode_frames
from groundlabel.trackers import tracker_factory

OPTIONS = {"low_score": 0.1, "new_track_score": 0.5, "max_lost": 30}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("propagation")
    folder, tracks = tracked_clip(root, length=16, clip_seed=4, detection_seed=5, drop=0.0)
    assert main(["import", str(folder), str(tracks), "-f", "coco-vid"]) == 0
    checkpoint = save_random_video_tracker(root / "sam2-video")
    return folder, tracker_factory(str(checkpoint), "cpu")


def _longest(project: ReviewProject):
    return max(project.tracks(), key=lambda t: t.box_count)


def _direct(project, new_tracker, frames: list[int], prompt_xyxy, label):
    """The tracker run by hand on the same frames with the same prompt: what propagation must give."""
    ids = project.frame_ids("clip.mp4")
    records = [project.image(ids[f]) for f in frames]
    files = decode_frames(project, records)
    tracker = new_tracker(**OPTIONS)
    out = {}
    for position, index in enumerate(frames):
        given = (
            (np.array([prompt_xyxy]), np.array([1.0]), [label])
            if position == 0
            else (np.zeros((0, 4)), np.zeros(0), [])
        )
        found = tracker.update(position, *given, image=load_image(files[ids[index]]))
        if position:
            for box in found:
                out[index] = (box.xyxy, box.mask)
    return out


def test_propagation_redoes_the_span_between_keyframes_as_the_tracker_gives_it(setup):
    folder, new_tracker = setup
    with ReviewProject.open(folder) as project:
        track = _longest(project)
        frames = [f for f, _ in project.track_boxes(track.track_id)]
        start, stop = frames[2], frames[2] + 5
        ids = project.frame_ids("clip.mp4")
        by_frame = dict(project.track_boxes(track.track_id))
        moved = tuple(v + 2.0 for v in by_frame[start].xyxy)
        project.execute(SetKeyframe(project, track.track_id, ids[start], moved))
        project.execute(SetKeyframe(project, track.track_id, ids[stop], by_frame[stop].xyxy))
        assert project.track(track.track_id).keyframes == (start, stop)
        assert propagation_span(project, track.track_id, start, "forward") == [list(range(start, stop))]
        assert propagation_span(project, track.track_id, start, "backward") == [list(range(start, -1, -1))]

        before = project.dump_state()
        outside = {f: b for f, b in project.track_boxes(track.track_id) if not start <= f <= stop}
        label = project.class_record(by_frame[start].class_id).name
        edit = propagate_track(
            project, track.track_id, start, lambda: new_tracker(**OPTIONS), "both", "tiny-sam2"
        )
        project.execute(edit)
        after_list = project.track_boxes(track.track_id)
        after = dict(after_list)
        assert len(after_list) == len(after)  # one box a frame: the old ones in the span are gone

        forward = _direct(project, new_tracker, list(range(start, stop)), moved, label)
        backward = _direct(project, new_tracker, list(range(start, -1, -1)), moved, label)
        expected = {**forward, **backward}
        assert expected, "the random tracker lost the object at once: the test shows nothing"
        for f, (xyxy, mask) in expected.items():
            assert after[f].xyxy == pytest.approx(xyxy, abs=1e-4)
            assert after[f].mask == mask and after[f].source is BoxSource.MODEL
        # The keyframes stay as the person set them; frames beyond the next keyframe are untouched.
        assert after[start].xyxy == pytest.approx(moved) and after[start].source is BoxSource.HAND
        assert after[stop].source is BoxSource.HAND
        assert {f: b for f, b in after.items() if f > stop} == {f: b for f, b in outside.items() if f > stop}
        # Frames the tracker lost the object on lose the old box: nothing stale is left in the span.
        assert {f for f in after if start < f < stop} == {f for f in forward}

        project.history.undo()
        assert project.dump_state() == before
        project.history.redo()
        assert dict(project.track_boxes(track.track_id)) == after


def test_propagation_needs_a_tracker_that_follows_pixels(setup):
    folder, _ = setup
    with ReviewProject.open(folder) as project:
        track = _longest(project)
        frame = project.track_boxes(track.track_id)[0][0]
        bytetrack = tracker_factory("bytetrack")
        with pytest.raises(ProjectError, match="follows an object by its pixels"):
            propagate_track(project, track.track_id, frame, lambda: bytetrack(), "forward")
        with pytest.raises(ProjectError, match="no box on frame"):
            propagate_track(project, track.track_id, 999, lambda: bytetrack(), "forward")


def test_masks_of_a_tracked_video_survive_import_review_and_export(setup, tmp_path: Path):
    """``track --tracker`` masks -> project -> accepted -> YouTube-VIS: every mask as the tracker made it."""
    folder, _ = setup
    import json

    from pycocotools import mask as coco_mask

    from groundlabel.formats.tracks_cocovid import read_cocovid
    from groundlabel.project.models import ImageState
    from groundlabel.project.track_edits import AcceptTrack

    project_dir = tmp_path / "masked"
    project_dir.mkdir()
    (project_dir / "clip.mp4").write_bytes((folder / "clip.mp4").read_bytes())
    checkpoint = tmp_path / "sam2"
    save_random_video_tracker(checkpoint)
    detections = tmp_path / "det.txt"
    detections.write_text("1,-1,40,30,30,30,0.9,1,-1,-1\n")  # one object, prompted on frame 0
    tracks = tmp_path / "tracks.json"
    assert main(["track", str(project_dir / "clip.mp4"), "--detections", str(detections), "-l", "square",
                 "--tracker", str(checkpoint), "--detect-every", "4", "-o", str(tracks)]) == 0  # fmt: skip
    tracked = {(b.frame_index, b.track_id): b.mask for b in read_cocovid(tracks).videos[0].boxes()}
    assert tracked and all(m is not None for m in tracked.values())
    assert main(["import", str(project_dir), str(tracks), "-f", "coco-vid"]) == 0
    with ReviewProject.open(project_dir) as project:
        for track in project.tracks():
            project.execute(AcceptTrack(project, track.track_id))
        for image in project.images():
            project.set_image_state(image.id, ImageState.REVIEWED)
    out = tmp_path / "vis.json"
    assert main(["export", str(project_dir), "-f", "youtube-vis", "-o", str(out)]) == 0
    document = json.loads(out.read_text())
    assert len(document["annotations"]) == 1 and len({track for _, track in tracked}) == 1
    segmentations = document["annotations"][0]["segmentations"]
    assert sum(rle is not None for rle in segmentations) == len(tracked)
    for (frame, _), mask in tracked.items():  # every frame of the clip is reviewed: position = frame
        rle = segmentations[frame]
        exported = coco_mask.decode({"size": rle["size"], "counts": rle["counts"].encode()})
        assert np.array_equal(
            exported, coco_mask.decode({"size": mask["size"], "counts": mask["counts"].encode()})
        )
