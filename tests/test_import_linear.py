"""Import cost grows with the number of boxes, not its square (issue 30), counted, never timed.

The work is counted two ways that do not depend on the machine: SQLite virtual-machine
steps (a progress handler called on every instruction) and Python function calls (a
profiler). The old importer read the image (which counts its boxes) once per insert and
compared every imported box with every box already on the image: both counts grew 16-fold
for 4 times the boxes.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from test_project_helpers import copy_images_only, images_to_import_into, make_review_folder

from groundlabel.formats.dataset import Dataset, DatasetBox, DatasetImage
from groundlabel.project import ReviewProject
from groundlabel.project.exchange import import_dataset


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return images_to_import_into(tmp_path)


def _boxes(count: int, offset: float) -> list[DatasetBox]:
    """``count`` distinct boxes on the 451x300 chelsea.png; ``offset`` keeps two sets apart."""
    return [
        DatasetBox((i % 40 * 10 + offset, i // 40 * 1.0 + offset, i % 40 * 10 + 5.0, i // 40 + 50.0), "cat")
        for i in range(count)
    ]


def _work(folder: Path, count: int) -> tuple[int, int]:
    """SQLite steps and Python calls of importing ``count`` boxes onto an image already holding ``count``."""
    with ReviewProject.open(folder) as project:
        import_dataset(
            project, Dataset(["cat"], [DatasetImage("chelsea.png", None, None, _boxes(count, 0.0))])
        )
        steps = [0]

        def step() -> int:
            steps[0] += 1
            return 0

        calls = [0]

        def profile(frame, event, arg) -> None:
            if event == "call":
                calls[0] += 1

        second = Dataset(["cat"], [DatasetImage("chelsea.png", None, None, _boxes(count, 0.5))])
        connection = project._connection()
        connection.set_progress_handler(step, 1)
        sys.setprofile(profile)
        try:
            report = import_dataset(project, second)
        finally:
            sys.setprofile(None)
            connection.set_progress_handler(None, 1)
        assert report.boxes == count and report.duplicates == 0
        return steps[0], calls[0]


def test_import_work_grows_linearly_with_the_boxes_on_one_image(tmp_path: Path) -> None:
    small, large = 150, 600
    counts = []
    for count in (small, large):
        folder = tmp_path / str(count)
        source = tmp_path / f"source{count}"
        make_review_folder(source)
        copy_images_only(source, folder)
        counts.append(_work(folder, count))
    (steps_small, calls_small), (steps_large, calls_large) = counts
    # 4 times the boxes: linear work is about 4 times; quadratic would be about 16 times.
    assert steps_large < 6 * steps_small, (steps_small, steps_large)
    assert calls_large < 6 * calls_small, (calls_small, calls_large)


def test_duplicates_are_still_found_after_batching(folder: Path) -> None:
    with ReviewProject.open(folder) as project:
        first = import_dataset(
            project, Dataset(["cat"], [DatasetImage("chelsea.png", None, None, _boxes(50, 0.0))])
        )
        again = _boxes(50, 0.0)
        again[3] = DatasetBox(tuple(v + 5e-7 for v in again[3].xyxy), "cat")  # within the tolerance
        again[4] = DatasetBox(tuple(v + 1e-3 for v in again[4].xyxy), "cat")  # a new box
        second = import_dataset(project, Dataset(["cat"], [DatasetImage("chelsea.png", None, None, again)]))
        assert (first.boxes, second.boxes, second.duplicates) == (50, 1, 49)
        assert len(project.boxes(project.image_by_path("chelsea.png").id)) == 51


def test_a_failure_while_writing_leaves_the_project_as_it_was(folder: Path, monkeypatch) -> None:
    """Batched inserts still land in the import's one transaction: a failure on the second
    image takes back the first image's boxes (box counts and integrity check before and after)."""
    with ReviewProject.open(folder) as project:
        import_dataset(project, Dataset(["cat"], [DatasetImage("chelsea.png", None, None, _boxes(20, 0.0))]))
        before = project.dump_state()["boxes"]
        real, calls = project.insert_boxes, []

        def failing(image_id, rows):
            calls.append(image_id)
            if len(calls) == 2:
                raise OSError("disk full")
            return real(image_id, rows)

        monkeypatch.setattr(project, "insert_boxes", failing)
        images = [
            DatasetImage("chelsea.png", None, None, _boxes(300, 0.5)),
            DatasetImage("astronaut.png", None, None, _boxes(10, 0.5)),
        ]
        with pytest.raises(OSError):
            import_dataset(project, Dataset(["cat", "dog"], images))
        assert project.dump_state()["boxes"] == before
        assert [c.name for c in project.classes()] == ["cat"]
        assert project._connection().execute("PRAGMA integrity_check").fetchall() == [("ok",)]
