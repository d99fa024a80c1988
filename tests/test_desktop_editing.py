"""Drawing, moving, resizing and relabelling boxes with the mouse and keys, with undo/redo."""

from __future__ import annotations

import pytest
from desktop_helpers import drag, key, settle, show_main_window, wait_idle, wait_image
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication

from groundlabel.project import BoxSource, BoxStatus

pytestmark = pytest.mark.gui

CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier


@pytest.fixture
def window(qtbot, tmp_path, tiny_model_dir, photo_dir, monkeypatch):
    win = show_main_window(qtbot, monkeypatch, tmp_path / "prefs.ini", str(tiny_model_dir))
    assert win.open_folder(photo_dir)
    win.controller.add_class("cat", [])
    win.controller.add_class("dog", [])
    wait_idle(qtbot, win)
    wait_image(qtbot, win)
    return win


def only_box(window):
    boxes = window.controller.project.boxes(window.controller.current_id)
    assert len(boxes) == 1
    return boxes[0]


def close_to(actual, expected, tolerance):
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


def test_draw_move_resize_relabel_then_undo_redo(window, qtbot):
    tolerance = 2.0 / window.canvas.zoom()  # one or two screen pixels, in image pixels
    drag(qtbot, window, (100, 100), (220, 200))
    box = only_box(window)
    assert box.source == BoxSource.HAND and box.status == BoxStatus.ACCEPTED and box.score is None
    assert window.controller.project.class_record(box.class_id).name == "cat"
    assert close_to(box.xyxy, (100, 100, 220, 200), tolerance)
    assert window.canvas.selected_ids() == [box.id]  # a new box is selected, ready for keys

    drag(qtbot, window, (160, 150), (190, 170))  # grab inside: move by (30, 20)
    moved = only_box(window)
    assert close_to(
        moved.xyxy, (box.xyxy[0] + 30, box.xyxy[1] + 20, box.xyxy[2] + 30, box.xyxy[3] + 20), tolerance
    )

    x1, y1 = moved.xyxy[2], moved.xyxy[3]
    drag(qtbot, window, (x1, y1), (x1 + 40, y1 + 25))  # bottom-right handle
    resized = only_box(window)
    assert close_to(resized.xyxy[:2], moved.xyxy[:2], 1e-6)
    assert close_to(resized.xyxy[2:], (x1 + 40, y1 + 25), tolerance)

    key(qtbot, window, Qt.Key.Key_2)  # relabel the selected box to class 2
    relabelled = only_box(window)
    assert window.controller.project.class_record(relabelled.class_id).name == "dog"
    assert window.canvas.box_items()[relabelled.id].view.label == "dog"

    key(qtbot, window, Qt.Key.Key_Right, Qt.KeyboardModifier.AltModifier)  # nudge 1 px
    nudged = only_box(window)
    assert close_to(
        nudged.xyxy, (resized.xyxy[0] + 1, resized.xyxy[1], resized.xyxy[2] + 1, resized.xyxy[3]), 1e-6
    )

    # Undo walks back through every edit, class change included; redo replays them.
    for expected in (relabelled, resized, moved, box):
        key(qtbot, window, Qt.Key.Key_Z, CTRL)
        now = only_box(window)
        assert now.xyxy == pytest.approx(expected.xyxy) and now.class_id == expected.class_id
    key(qtbot, window, Qt.Key.Key_Z, CTRL)
    assert window.controller.project.boxes(window.controller.current_id) == []
    assert window.canvas.box_items() == {}
    for _ in range(5):
        key(qtbot, window, Qt.Key.Key_Z, CTRL | SHIFT)
    assert only_box(window).xyxy == pytest.approx(nudged.xyxy)
    assert window.controller.project.class_record(only_box(window).class_id).name == "dog"

    # Shift+Delete deletes for good; undo brings it back with its id.
    window.canvas.select_ids([nudged.id])
    key(qtbot, window, Qt.Key.Key_Delete, SHIFT)
    assert window.controller.project.boxes(window.controller.current_id) == []
    key(qtbot, window, Qt.Key.Key_Z, CTRL)
    assert only_box(window).id == nudged.id
    assert window.shown_errors == []


def test_quick_picker_and_number_keys_choose_the_class_for_new_boxes(window, qtbot):
    key(qtbot, window, Qt.Key.Key_2)  # nothing selected: the class for the next box
    assert window.classes.current_record().name == "dog"
    drag(qtbot, window, (50, 50), (120, 130))
    assert window.controller.project.class_record(only_box(window).class_id).name == "dog"
    key(qtbot, window, Qt.Key.Key_9)  # no class 9: a message, nothing changes
    assert window.controller.project.class_record(only_box(window).class_id).name == "dog"
    assert "no class 9" in window.statusBar().currentMessage()


def test_zoom_fit_actual_size_and_pan(window, qtbot):
    canvas = window.canvas
    fitted = canvas.zoom()
    key(qtbot, window, Qt.Key.Key_Plus)
    assert canvas.zoom() == pytest.approx(fitted * 1.25)
    key(qtbot, window, Qt.Key.Key_Minus)
    key(qtbot, window, Qt.Key.Key_Minus)
    assert canvas.zoom() == pytest.approx(fitted / 1.25)
    key(qtbot, window, Qt.Key.Key_1, CTRL)
    assert canvas.zoom() == pytest.approx(1.0)
    key(qtbot, window, Qt.Key.Key_0)
    assert canvas.zoom() == pytest.approx(fitted)

    centre = canvas.viewport().rect().center()
    wheel = QWheelEvent(
        centre.toPointF(), canvas.viewport().mapToGlobal(centre).toPointF(), QPoint(), QPoint(0, 240),
        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False,
    )  # fmt: skip
    QApplication.sendEvent(canvas.viewport(), wheel)
    assert canvas.zoom() == pytest.approx(fitted * 1.25**2)

    # Middle-drag pans (no box is drawn); a Space held during a drag pans and does not mark reviewed.
    key(qtbot, window, Qt.Key.Key_1, CTRL)
    for _ in range(4):
        key(qtbot, window, Qt.Key.Key_Plus)
    bar = canvas.horizontalScrollBar()
    bar.setValue(bar.maximum() // 2)
    assert bar.maximum() > 400
    before = bar.value()
    viewport = canvas.viewport()
    qtbot.mousePress(viewport, Qt.MouseButton.MiddleButton, pos=centre)
    qtbot.mouseMove(viewport, centre + QPoint(-80, 0))
    qtbot.mouseRelease(viewport, Qt.MouseButton.MiddleButton, pos=centre + QPoint(-80, 0))
    assert bar.value() == before + 80
    image_id = window.controller.current_id
    qtbot.keyPress(canvas, Qt.Key.Key_Space)
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=centre)
    qtbot.mouseMove(viewport, centre + QPoint(60, 0))
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=centre + QPoint(60, 0))
    qtbot.keyRelease(canvas, Qt.Key.Key_Space)
    settle()
    assert bar.value() == before + 20
    assert window.controller.project.boxes(image_id) == []
    assert str(window.controller.project.image(image_id).state) == "new"
    assert window.controller.current_id == image_id


def test_rejected_boxes_dim_or_hide(window, qtbot):
    drag(qtbot, window, (100, 100), (200, 200))
    box = only_box(window)
    key(qtbot, window, Qt.Key.Key_R)
    item = window.canvas.box_items()[box.id]
    assert item.isVisible() and item.opacity() < 1
    key(qtbot, window, Qt.Key.Key_H)
    assert not window.canvas.box_items()[box.id].isVisible()
    key(qtbot, window, Qt.Key.Key_H)
    assert window.canvas.box_items()[box.id].isVisible()


def test_help_overlay_lists_the_shortcuts(window, qtbot):
    from groundlabel.desktop.shortcuts import SHORTCUTS

    assert not window.help.isVisible()
    key(qtbot, window, Qt.Key.Key_F1)
    assert window.help.isVisible()
    text = window.help.label.text()
    for shortcut in SHORTCUTS.values():
        assert shortcut.description.split(" (")[0] in text
    qtbot.keyClick(window.help, Qt.Key.Key_Escape)
    assert not window.help.isVisible()
