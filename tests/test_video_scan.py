"""A folder's video files become project rows once, timed as the tracker reads them."""

from __future__ import annotations

from groundlabel.devtools.synthetic_video import standard_clip, write_clip
from groundlabel.project import ReviewProject
from groundlabel.project.video_frames import frame_key, videos
from groundlabel.project.video_scan import add_videos
from groundlabel.video import Video


def test_the_videos_of_a_folder_become_rows_timed_as_the_tracker_reads_them_and_only_once(tmp_path):
    write_clip(standard_clip(length=9, seed=1), tmp_path / "clip.mp4")
    (tmp_path / "sub").mkdir()
    write_clip(standard_clip(length=5, seed=2), tmp_path / "sub" / "b.mp4")
    (tmp_path / "broken.mp4").write_bytes(b"not a video at all")
    project = ReviewProject.open(tmp_path)
    report = add_videos(project)
    assert report.added == ["clip.mp4", "sub/b.mp4"]
    assert len(report.problems) == 1 and "broken.mp4" in report.problems[0]
    assert [(v.path, v.frame_count) for v in videos(project)] == [("clip.mp4", 9), ("sub/b.mp4", 5)]
    rows = {r.path: r for r in project.images() if r.video == "clip.mp4"}
    truth = list(Video.open(tmp_path / "clip.mp4").frames())
    assert sorted(rows) == [frame_key("clip.mp4", f.index) for f in truth]
    assert [rows[frame_key("clip.mp4", f.index)].timestamp for f in truth] == [f.timestamp for f in truth]
    count = len(project.images())
    again = add_videos(project)
    assert again.added == [] and again.known == ["clip.mp4", "sub/b.mp4"]
    assert len(project.images()) == count
    project.close()
    reopened = ReviewProject.open(tmp_path)
    assert add_videos(reopened).added == [] and len(reopened.images()) == count
    reopened.close()


def test_review_of_a_video_file_opens_its_folder_and_anything_else_is_one_line(tmp_path):
    import pytest
    from groundlabel.desktop.app import review_target

    from groundlabel.errors import GroundlabelError

    write_clip(standard_clip(length=3, seed=1), tmp_path / "clip.mp4")
    assert review_target(tmp_path / "clip.mp4") == (tmp_path.resolve(), tmp_path / "clip.mp4")
    assert review_target(tmp_path) == (tmp_path, None)
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(GroundlabelError, match="not a folder or a video file"):
        review_target(tmp_path / "notes.txt")
