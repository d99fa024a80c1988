"""The desktop reviewer end to end: real widgets offscreen, the tiny random model, a real project."""

from __future__ import annotations

import pytest
from desktop_helpers import key, show_main_window, wait_idle, wait_image
from PySide6.QtCore import Qt

from groundlabel.project import BoxSource, BoxStatus, ImageState, ReviewProject

pytestmark = pytest.mark.gui


@pytest.fixture
def make_window(qtbot, tmp_path, tiny_model_dir, monkeypatch):
    """Build main windows with preferences in tmp_path and error dialogs collected, not shown."""

    def make(model: str | None = None):
        window = show_main_window(qtbot, monkeypatch, tmp_path / "prefs.ini", model or str(tiny_model_dir))
        window.activateWindow()
        return window

    return make


def open_with_classes(qtbot, window, folder, classes=(("cat", []), ("person", ["astronaut"]))):
    assert window.open_folder(folder)
    for name, aliases in classes:
        window.controller.add_class(name, list(aliases))
    wait_idle(qtbot, window)
    wait_image(qtbot, window)


def statuses(window) -> dict[int, str]:
    return {b.id: str(b.status) for b in window.controller.project.boxes(window.controller.current_id)}


def test_detect_accept_reject_undo_review_and_reopen(make_window, qtbot, photo_dir):
    window = make_window()
    open_with_classes(qtbot, window, photo_dir)
    assert window.files.count_label.text() == "0 / 2 reviewed"
    assert [r.path for r in window.files.model.records()] == ["astronaut.png", "chelsea.png"]

    # Detect on every image not yet predicted, in the worker thread, with progress.
    window.actions_by_name["detect_remaining"].trigger()
    assert window.detection.busy and window.progress.isVisible()
    wait_idle(qtbot, window)
    assert not window.progress.isVisible()
    assert window.progress.bar.value() == window.progress.bar.maximum() == 2
    project = window.controller.project
    assert {str(r.state) for r in project.images()} == {"predicted"}
    assert window.detection.remaining_ids() == []
    qtbot.waitUntil(lambda: len(window.canvas.box_items()) > 2, timeout=10_000)
    boxes = project.boxes(window.controller.current_id)
    assert len(window.canvas.box_items()) == len(boxes)
    assert all(b.source == BoxSource.MODEL and b.status == BoxStatus.PENDING for b in boxes)

    # Tab selects a box, A accepts it; Tab, R rejects the next one.
    key(qtbot, window, Qt.Key.Key_Tab)
    first = window.canvas.selected_ids()
    assert len(first) == 1
    key(qtbot, window, Qt.Key.Key_A)
    assert statuses(window)[first[0]] == "accepted"
    key(qtbot, window, Qt.Key.Key_Tab)
    second = window.canvas.selected_ids()
    assert second != first
    key(qtbot, window, Qt.Key.Key_R)
    assert statuses(window)[second[0]] == "rejected"

    # Undo and redo, by keyboard.
    key(qtbot, window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert statuses(window)[second[0]] == "pending"
    key(qtbot, window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert statuses(window)[first[0]] == "pending"
    key(qtbot, window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    key(qtbot, window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert statuses(window)[first[0]] == "accepted" and statuses(window)[second[0]] == "rejected"

    # The score slider hides proposals below it; "accept all above" settles every pending box.
    scores = sorted(b.score for b in project.boxes(window.controller.current_id) if b.status == "pending")
    cut = scores[len(scores) // 2]
    window.score_slider.setValue(round(cut * 100))
    below = [
        b.id
        for b in project.boxes(window.controller.current_id)
        if b.status == "pending" and b.score < cut - 0.005
    ]
    for box_id in below:
        assert not window.canvas.box_items()[box_id].isVisible()
    key(qtbot, window, Qt.Key.Key_A, Qt.KeyboardModifier.ShiftModifier)
    after = statuses(window)
    assert "pending" not in after.values()
    assert all(after[b] == "rejected" for b in below)

    # Space marks it reviewed and moves on to the next unreviewed image.
    reviewed_id = window.controller.current_id
    key(qtbot, window, Qt.Key.Key_Space)
    assert project.image(reviewed_id).state == ImageState.REVIEWED
    assert window.controller.current_id != reviewed_id
    assert window.files.count_label.text() == "1 / 2 reviewed"
    # E: nothing here; the pending proposals are rejected with it.
    wait_image(qtbot, window)
    other = window.controller.current_id
    key(qtbot, window, Qt.Key.Key_E)
    assert project.image(other).state == ImageState.REVIEWED_EMPTY
    assert all(b.status == "rejected" for b in project.boxes(other))
    assert window.files.count_label.text() == "2 / 2 reviewed"
    expected = project.dump_state()
    window.close()

    # Reopening finds everything as it was left (every edit was saved when made).
    with ReviewProject.open(photo_dir) as reopened:
        state = reopened.dump_state()
        assert state["images"] == expected["images"] and state["boxes"] == expected["boxes"]
    again = make_window()
    assert again.open_folder(photo_dir)
    wait_image(qtbot, again)
    assert again.files.count_label.text() == "2 / 2 reviewed"
    assert again.controller.current_id == other  # the last image shown
    assert again.controller.project.model.endswith("model")  # the model choice is remembered
    assert not again.controller.session.undo_stack.canUndo()
    assert again.shown_errors == []


def _export_by_keyboard(qtbot, window, out, format_name: str, split: str = "", image_mode: str = "") -> None:
    key(qtbot, window, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    dialog = window.dialog
    assert dialog is not None and dialog.isVisible()
    qtbot.waitExposed(dialog)
    dialog.format.setFocus()
    while dialog.format.currentData() != format_name:  # arrow keys through the format list
        qtbot.keyClick(dialog.format, Qt.Key.Key_Down)
    dialog.output.setFocus()
    dialog.output.selectAll()
    qtbot.keyClicks(dialog.output, str(out))
    if split:
        dialog.split.setFocus()
        dialog.split.selectAll()
        qtbot.keyClicks(dialog.split, split)
    while image_mode and dialog.image_mode.currentData() != image_mode:
        qtbot.keyClick(dialog.image_mode, Qt.Key.Key_Down)
    count = len(window.done_messages)
    qtbot.keyClick(dialog.output, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: len(window.done_messages) > count, timeout=30_000)


def test_keyboard_only_from_folder_to_coco_and_voc(make_window, qtbot, photo_dir, tmp_path):
    import json
    import xml.etree.ElementTree as ET

    window = make_window()
    open_with_classes(qtbot, window, photo_dir)
    key(qtbot, window, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier)
    wait_idle(qtbot, window)
    project = window.controller.project
    accepted: dict[str, int] = {}
    for _ in range(2):
        wait_image(qtbot, window)
        qtbot.waitUntil(lambda: bool(window.canvas.box_items()), timeout=10_000)
        path = project.image(window.controller.current_id).path
        key(qtbot, window, Qt.Key.Key_Tab)
        key(qtbot, window, Qt.Key.Key_Return)  # accept one
        key(qtbot, window, Qt.Key.Key_Tab)
        key(qtbot, window, Qt.Key.Key_Delete)  # reject the next
        key(qtbot, window, Qt.Key.Key_R, Qt.KeyboardModifier.ShiftModifier)  # reject the rest
        accepted[path] = 1
        key(qtbot, window, Qt.Key.Key_Space)
    assert window.files.count_label.text() == "2 / 2 reviewed"

    coco_out = tmp_path / "coco"
    _export_by_keyboard(qtbot, window, coco_out, "coco")
    document = json.loads((coco_out / "annotations" / "instances_train.json").read_text())
    assert sorted(p.name for p in (coco_out / "images" / "train").iterdir()) == [
        "astronaut.png",
        "chelsea.png",
    ]
    names = {image["id"]: image["file_name"] for image in document["images"]}
    assert sorted(names.values()) == ["astronaut.png", "chelsea.png"]
    per_image: dict[str, int] = {}
    for annotation in document["annotations"]:
        per_image[names[annotation["image_id"]]] = per_image.get(names[annotation["image_id"]], 0) + 1
    assert per_image == accepted
    assert [c["name"] for c in document["categories"]] == ["cat", "person"]
    assert {(i["width"], i["height"]) for i in document["images"]} == {(512, 512), (451, 300)}

    voc_out = tmp_path / "voc"
    _export_by_keyboard(qtbot, window, voc_out, "voc", split="train=0.5,val=0.5", image_mode="copy")
    assert "(train: " in window.done_messages[-1] and "val: " in window.done_messages[-1]
    image_sets = sorted(p.name for p in (voc_out / "ImageSets" / "Main").glob("*.txt"))
    assert image_sets == ["train.txt", "val.txt"]
    assert sorted(p.name for p in (voc_out / "JPEGImages").iterdir()) == ["astronaut.jpg", "chelsea.jpg"]
    xml_files = sorted((voc_out / "Annotations").glob("*.xml"))
    assert [p.name for p in xml_files] == ["astronaut.xml", "chelsea.xml"]
    assert all(len(ET.parse(p).getroot().findall("object")) == 1 for p in xml_files)
    assert window.shown_errors == []

    # Import the COCO export into a fresh copy of the folder, as accepted boxes.
    copy = tmp_path / "copy"
    copy.mkdir()
    for photo in photo_dir.glob("*.png"):
        (copy / photo.name).write_bytes(photo.read_bytes())
    assert window.open_folder(copy)
    key(qtbot, window, Qt.Key.Key_I, Qt.KeyboardModifier.ControlModifier)
    dialog = window.dialog
    dialog.source.setText(str(coco_out))
    dialog.status.setFocus()
    qtbot.keyClick(dialog.status, Qt.Key.Key_Down)
    qtbot.keyClick(dialog.status, Qt.Key.Key_Down)
    assert dialog.status.currentData() == "accepted"  # the export carries scores: accept them explicitly
    count = len(window.done_messages)
    qtbot.keyClick(dialog.source, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: len(window.done_messages) > count, timeout=30_000)
    assert "Imported 2 image(s), 2 box(es)" in window.done_messages[-1]
    imported = window.controller.project
    assert sum(len(imported.boxes(r.id)) for r in imported.images()) == 2
    assert window.files.count_label.text() == "2 / 2 reviewed"
