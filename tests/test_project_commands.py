"""Undoable edits: each command reverts exactly, and any sequence undoes back to the start."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from groundlabel.project import (
    AcceptBoxes,
    AddBox,
    AddClass,
    BoxSource,
    BoxStatus,
    DeleteBoxes,
    DeleteClass,
    ImageState,
    MacroCommand,
    ProjectError,
    RecolourClass,
    RejectBoxes,
    RelabelBoxes,
    RenameClass,
    ReorderClasses,
    ReviewProject,
    SetBoxGeometry,
    SetClassAliases,
    SetImageState,
    StaleEditError,
)


def _project(folder: Path) -> ReviewProject:
    for i in range(3):
        Image.new("RGB", (20, 10)).save(folder / f"{i}.png")
    project = ReviewProject.open(folder)
    project.insert_class("cat")
    project.insert_class("dog")
    first = project.images()[0].id
    project.insert_box(
        first,
        project.classes()[0].id,
        (1, 1, 5, 5),
        source=BoxSource.MODEL,
        status=BoxStatus.PENDING,
        score=0.5,
    )
    return project


def test_each_command_changes_state_and_undo_restores_it(tmp_path: Path) -> None:
    project = _project(tmp_path)
    image = project.images()[0]
    cat, dog = project.classes()
    box = project.boxes(image.id)[0]
    start = project.dump_state()
    commands = [
        AddBox(image.id, dog.id, (2, 2, 8, 9)),
        DeleteBoxes([box.id]),
        SetBoxGeometry(box.id, (0, 0, 3, 3)),
        RelabelBoxes([box.id], dog.id),
        AcceptBoxes([box.id]),
        RejectBoxes([box.id]),
        SetImageState(image.id, ImageState.REVIEWED),
        AddClass("bird", ["small bird"]),
        RenameClass(cat.id, "kitty"),
        RecolourClass(cat.id, "#000000"),
        SetClassAliases(cat.id, ["house cat"]),
        DeleteClass(cat.id),
        ReorderClasses([dog.id, cat.id]),
        MacroCommand([AcceptBoxes([box.id]), SetImageState(image.id, ImageState.REVIEWED)], "accept all"),
    ]
    for command in commands:
        project.execute(command)
        changed = project.dump_state()
        assert changed != start, command
        assert project.history.undo() is command
        assert project.dump_state() == start, command
        project.history.redo()
        assert project.dump_state() == changed, command
        project.history.undo()
    assert not project.history.can_undo and project.history.can_redo
    project.close()


def test_undo_after_the_box_was_replaced_is_a_clear_error(tmp_path: Path) -> None:
    project = _project(tmp_path)
    box = project.boxes(project.images()[0].id)[0]
    project.execute(SetBoxGeometry(box.id, (0, 0, 2, 2)))
    project.delete_box(box.id)  # e.g. a worker re-predicted the image
    with pytest.raises(StaleEditError, match=f"box #{box.id}"):
        project.history.undo()
    assert project.history.can_undo  # the stack is left as it was
    project.close()


def test_a_failing_command_changes_nothing(tmp_path: Path) -> None:
    project = _project(tmp_path)
    start = project.dump_state()
    image = project.images()[0]
    macro = MacroCommand([SetImageState(image.id, ImageState.REVIEWED), AddClass("cat")])  # duplicate name
    with pytest.raises(ProjectError, match="already exists"):
        project.execute(macro)
    assert project.dump_state() == start and not project.history.can_undo
    with pytest.raises(ProjectError, match="wrong way round"):
        project.execute(AddBox(image.id, project.classes()[0].id, (5, 5, 1, 1)))
    project.close()


coords = st.floats(min_value=0, max_value=100, allow_nan=False, allow_infinity=False)


def _draw_command(data: st.DataObject, project: ReviewProject):
    images = project.images()
    classes = project.classes()
    boxes = [b for image in images for b in project.boxes(image.id)]
    choices = ["add_box", "set_state", "add_class"]
    if boxes:
        choices += ["delete", "move", "relabel", "accept", "reject"]
    if len(classes) > 1:
        choices += ["delete_class", "reorder"]
    if classes:
        choices += ["rename", "recolour", "aliases"]
    kind = data.draw(st.sampled_from(choices))
    pick_boxes = (
        st.lists(st.sampled_from([b.id for b in boxes]), min_size=1, max_size=3, unique=True)
        if boxes
        else None
    )
    if kind == "add_box":
        x0, x1 = sorted(data.draw(st.tuples(coords, coords)))
        y0, y1 = sorted(data.draw(st.tuples(coords, coords)))
        image = data.draw(st.sampled_from(images))
        return AddBox(image.id, data.draw(st.sampled_from(classes)).id, (x0, y0, x1, y1))
    if kind == "set_state":
        return SetImageState(
            data.draw(st.sampled_from(images)).id, data.draw(st.sampled_from(list(ImageState)))
        )
    if kind == "add_class":
        names = {c.name for c in classes}
        name = data.draw(
            st.text(min_size=1, max_size=6).map(str.strip).filter(lambda n: n and n not in names)
        )
        return AddClass(name)
    if kind == "delete":
        return DeleteBoxes(data.draw(pick_boxes))
    if kind == "move":
        x0, x1 = sorted(data.draw(st.tuples(coords, coords)))
        return SetBoxGeometry(data.draw(st.sampled_from(boxes)).id, (x0, x0, x1, x1))
    if kind == "relabel":
        return RelabelBoxes(data.draw(pick_boxes), data.draw(st.sampled_from(classes)).id)
    if kind == "accept":
        return AcceptBoxes(data.draw(pick_boxes))
    if kind == "reject":
        return RejectBoxes(data.draw(pick_boxes))
    if kind == "delete_class":
        return DeleteClass(data.draw(st.sampled_from(classes)).id)
    if kind == "reorder":
        return ReorderClasses(data.draw(st.permutations([c.id for c in classes])))
    target = data.draw(st.sampled_from(classes)).id
    if kind == "rename":
        names = {c.name for c in classes}
        return RenameClass(
            target, data.draw(st.sampled_from(["a&b<c", "x", "y y", "zé"]).filter(lambda n: n not in names))
        )
    if kind == "recolour":
        return RecolourClass(target, data.draw(st.sampled_from(["#112233", "#abcdef"])))
    return SetClassAliases(
        target, data.draw(st.lists(st.sampled_from(["p", "q r"]), max_size=2, unique=True))
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), steps=st.integers(min_value=1, max_value=12))
def test_random_edits_undo_to_the_start_and_survive_reopening(data: st.DataObject, steps: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        project = _project(Path(folder))
        start = project.dump_state()
        for _ in range(steps):
            if project.history.can_undo and data.draw(st.integers(0, 4), label="undo?") == 0:
                project.history.undo()
                continue
            project.execute(_draw_command(data, project))
        end, done = project.dump_state(), len(project.history)
        while project.history.can_undo:
            project.history.undo()
        assert project.dump_state() == start
        for _ in range(done):
            project.history.redo()
        assert project.dump_state() == end
        project.close()
        reopened = ReviewProject.open(folder)
        assert reopened.dump_state() == end
        assert all(b.status in BoxStatus for i in reopened.images() for b in reopened.boxes(i.id))
        reopened.close()
