"""Masks in the reviewer: shown, refined from boxes, corrected with points, brushed, undone.

Real widgets offscreen, a tiny random SAM saved like a hub checkpoint, and every mask a
model made compared pixel for pixel with the transformers reference (``sam_reference``)
on the same image, box and points.
"""

from __future__ import annotations

import numpy as np
import pytest
from desktop_helpers import drag, key, settle, show_main_window, wait_idle, wait_image
from groundlabel.desktop.app_settings import AppSettings
from groundlabel.desktop.file_list import MASKS_FILTER
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from groundlabel import masks as mask_codec
from groundlabel.project import BoxStatus

pytestmark = pytest.mark.gui

CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier
WAIT_MS = 60_000


def open_window(qtbot, monkeypatch, tmp_path, model_dir, photo_dir, mask_model: str):
    prefs = tmp_path / "prefs.ini"
    AppSettings(prefs).set_mask_model(mask_model, "cpu")
    win = show_main_window(qtbot, monkeypatch, prefs, str(model_dir))
    assert win.open_folder(photo_dir)
    win.controller.add_class("cat", [])
    wait_idle(qtbot, win)
    wait_image(qtbot, win)
    return win


@pytest.fixture
def window(qtbot, tmp_path, tiny_model_dir, photo_dir, monkeypatch, sam_dir):
    win = open_window(qtbot, monkeypatch, tmp_path, tiny_model_dir, photo_dir, str(sam_dir))
    qtbot.waitUntil(lambda: win.masks.segmenter is not None, timeout=WAIT_MS)
    wait_masks(qtbot, win)
    return win


def wait_masks(qtbot, window) -> None:
    qtbot.waitUntil(lambda: window.masks.idle, timeout=WAIT_MS)
    settle()


def only_box(window):
    boxes = window.controller.project.boxes(window.controller.current_id)
    assert len(boxes) == 1
    return boxes[0]


def image_path(window):
    return window.controller.project.image_file(window.controller.current_id)


def click(qtbot, window, x: float, y: float, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    qtbot.mouseClick(
        window.canvas.viewport(), Qt.MouseButton.LeftButton, modifier, window.canvas.scene_to_view(x, y)
    )
    QApplication.processEvents()


def draw_box(qtbot, window):
    drag(qtbot, window, (120, 90), (380, 420))
    return only_box(window)


def test_refine_then_points_then_undo_and_redo(window, qtbot, sam_reference):
    box = draw_box(window=window, qtbot=qtbot)
    path = image_path(window)
    key(qtbot, window, Qt.Key.Key_M, CTRL)  # refine the selected box
    wait_masks(qtbot, window)
    refined = only_box(window)
    expected = sam_reference.mask(path, refined.xyxy)
    assert refined.mask is not None and refined.mask_model == window.masks.segmenter.model_record
    assert np.array_equal(mask_codec.decode(refined.mask), expected)
    assert 0 < expected.mean() < 1  # neither empty nor the whole image: the comparison means something
    item = window.canvas.box_items()[box.id].mask_item
    assert item.isVisible() and item.pixel_count() == int(expected.sum())
    assert item.colour() == window.controller.project.class_record(box.class_id).colour.lower()

    # The file list says which images have masks, and the filter finds them.
    record = window.files.model.record(window.files.model.row_of(window.controller.current_id))
    assert record.mask_count == 1
    assert "1 mask" in window.files.model.data(window.files.model.index(window.files.model.row_of(record.id)))
    window.files.state_filter.setCurrentIndex(window.files.state_filter.findData(MASKS_FILTER))
    assert window.files.visible_ids() == [record.id]
    window.files.state_filter.setCurrentIndex(0)

    # Point tool: a click inside adds a positive point, Shift+click a negative one.
    key(qtbot, window, Qt.Key.Key_P)
    assert window.canvas.tool() == "points"
    click(qtbot, window, 250, 250)
    wait_masks(qtbot, window)
    one = window.masks.prompts.get(box.id)
    assert [p.positive for p in one] == [True]
    one_mask = sam_reference.mask(path, box.xyxy, [(p.x, p.y) for p in one], [1])
    assert np.array_equal(mask_codec.decode(only_box(window).mask), one_mask)

    click(qtbot, window, 140, 400, SHIFT)
    wait_masks(qtbot, window)
    two = window.masks.prompts.get(box.id)
    assert [p.positive for p in two] == [True, False] and two[0] == one[0]
    two_mask = sam_reference.mask(path, box.xyxy, [(p.x, p.y) for p in two], [1, 0])
    assert np.array_equal(mask_codec.decode(only_box(window).mask), two_mask)
    assert not np.array_equal(two_mask, one_mask)  # the negative point changed the mask
    assert [m[2] for m in window.canvas.point_markers()] == [True, False]

    # Every point is undoable; redo reproduces the same mask and points.
    key(qtbot, window, Qt.Key.Key_Z, CTRL)
    assert np.array_equal(mask_codec.decode(only_box(window).mask), one_mask)
    assert window.masks.prompts.get(box.id) == one and len(window.canvas.point_markers()) == 1
    key(qtbot, window, Qt.Key.Key_Z, CTRL | SHIFT)
    assert np.array_equal(mask_codec.decode(only_box(window).mask), two_mask)
    assert window.masks.prompts.get(box.id) == two
    key(qtbot, window, Qt.Key.Key_Z, CTRL)
    key(qtbot, window, Qt.Key.Key_Z, CTRL)
    assert np.array_equal(mask_codec.decode(only_box(window).mask), expected)  # the refined mask
    assert window.masks.prompts.get(box.id) == ()
    # Two quick clicks are two points (the second arrives as a double-click).
    qtbot.mouseDClick(
        window.canvas.viewport(), Qt.MouseButton.LeftButton, pos=window.canvas.scene_to_view(250, 250)
    )
    wait_masks(qtbot, window)
    assert len(window.masks.prompts.get(box.id)) == 1
    key(qtbot, window, Qt.Key.Key_Z, CTRL)
    assert window.masks.prompts.get(box.id) == ()
    key(qtbot, window, Qt.Key.Key_Z, CTRL)  # and the refine itself
    assert only_box(window).mask is None and not window.canvas.box_items()[box.id].mask_item.isVisible()

    # The embedding was computed once for all of it (opened in the background, then cached).
    assert window.masks.cache.misses <= 1 and window.masks.cache.hits >= 3


def test_brush_adds_and_eraser_removes_pixels_undoably(window, qtbot):
    box = draw_box(window=window, qtbot=qtbot)
    key(qtbot, window, Qt.Key.Key_B)
    assert window.canvas.tool() == "brush"
    drag(qtbot, window, (160, 200), (320, 200), steps=8)
    painted = only_box(window)
    mask = mask_codec.decode(painted.mask)
    radius = window.canvas.brush_radius
    assert mask[200, 240] and mask[200, 170] and not mask[200 + int(3 * radius), 240]
    assert painted.mask_model == "brush" and painted.mask_score is None
    key(qtbot, window, Qt.Key.Key_B, SHIFT)  # eraser
    assert window.canvas.tool() == "eraser"
    drag(qtbot, window, (240, 150), (240, 250), steps=6)
    erased = mask_codec.decode(only_box(window).mask)
    assert not erased[200, 240] and erased[200, 170]
    key(qtbot, window, Qt.Key.Key_Z, CTRL)
    assert np.array_equal(mask_codec.decode(only_box(window).mask), mask)
    key(qtbot, window, Qt.Key.Key_Z, CTRL)
    assert only_box(window).mask is None
    key(qtbot, window, Qt.Key.Key_BracketRight)
    assert window.canvas.brush_radius > radius
    key(qtbot, window, Qt.Key.Key_Escape)
    assert window.canvas.tool() == "box"
    assert box.id in window.canvas.box_items()


def test_m_toggles_masks_and_accept_reject_carry_the_mask(window, qtbot):
    draw_box(window=window, qtbot=qtbot)
    key(qtbot, window, Qt.Key.Key_M, CTRL)
    wait_masks(qtbot, window)
    box = only_box(window)
    item = window.canvas.box_items()[box.id].mask_item
    key(qtbot, window, Qt.Key.Key_M)
    assert not window.canvas.masks_visible() and not item.isVisible()
    key(qtbot, window, Qt.Key.Key_M)
    assert item.isVisible()

    key(qtbot, window, Qt.Key.Key_R)  # reject: the mask goes with its box (kept, not exported)
    rejected = only_box(window)
    assert rejected.status == BoxStatus.REJECTED and rejected.mask == box.mask and not rejected.exported
    assert window.canvas.box_items()[box.id].opacity() < 1  # dimmed, mask included (a child item)
    key(qtbot, window, Qt.Key.Key_H)  # hide rejected: its mask hides with it
    assert not item.isVisibleTo(None) or not window.canvas.box_items()[box.id].isVisible()
    key(qtbot, window, Qt.Key.Key_H)
    window.canvas.select_ids([box.id])
    key(qtbot, window, Qt.Key.Key_A)
    accepted = only_box(window)
    assert accepted.status == BoxStatus.ACCEPTED and accepted.mask == box.mask and accepted.exported


def test_refine_every_accepted_box_is_one_undo_step(window, qtbot, sam_reference):
    project = window.controller.project
    first = window.controller.current_id
    draw_box(window=window, qtbot=qtbot)
    key(qtbot, window, Qt.Key.Key_Right)
    qtbot.waitUntil(lambda: window.controller.current_id != first, timeout=WAIT_MS)
    wait_image(qtbot, window)
    settle(0.2)
    draw_box(window=window, qtbot=qtbot)
    ids = [b.id for image in project.images() for b in project.boxes(image.id)]
    assert len(ids) == 2
    key(qtbot, window, Qt.Key.Key_M, CTRL | SHIFT)
    qtbot.waitUntil(lambda: all(project.box(i).mask is not None for i in ids), timeout=WAIT_MS)
    wait_masks(qtbot, window)
    for box_id in ids:
        box = project.box(box_id)
        expected = sam_reference.mask(project.image_file(box.image_id), box.xyxy)
        assert np.array_equal(mask_codec.decode(box.mask), expected)
    key(qtbot, window, Qt.Key.Key_Z, CTRL)
    assert all(project.box(i).mask is None for i in ids)


def test_without_a_mask_model_the_banner_says_so_and_review_goes_on(
    qtbot, tmp_path, tiny_model_dir, photo_dir, monkeypatch
):
    window = open_window(qtbot, monkeypatch, tmp_path, tiny_model_dir, photo_dir, "")
    draw_box(window=window, qtbot=qtbot)
    assert not window.mask_banner.isVisible()  # nobody is nagged before asking for a mask
    key(qtbot, window, Qt.Key.Key_M, CTRL)
    assert window.mask_banner.isVisible() and "Mask model" in window.mask_banner.text()
    assert "No mask model" in window.mask_banner.reason.text()
    key(qtbot, window, Qt.Key.Key_R)  # box review goes on
    assert only_box(window).status == BoxStatus.REJECTED and only_box(window).mask is None
    assert window.shown_errors == []


def test_a_broken_mask_model_folder_shows_in_the_banner(
    qtbot, tmp_path, tiny_model_dir, photo_dir, monkeypatch
):
    missing = tmp_path / "no-such-sam"
    window = open_window(qtbot, monkeypatch, tmp_path, tiny_model_dir, photo_dir, str(missing))
    qtbot.waitUntil(lambda: window.masks.model_error is not None and window.masks.idle, timeout=WAIT_MS)
    assert window.mask_banner.isVisible()
    assert "no-such-sam" in window.mask_banner.text()
    draw_box(window=window, qtbot=qtbot)
    key(qtbot, window, Qt.Key.Key_A)
    assert only_box(window).status == BoxStatus.ACCEPTED


def test_the_mask_model_is_a_per_user_setting_the_dialog_edits(qtbot, tmp_path):
    from groundlabel.desktop.settings_dialog import SettingsDialog

    prefs = AppSettings(tmp_path / "prefs.ini")
    assert prefs.mask_model() == "" and prefs.mask_device() == "auto"
    prefs.set_mask_model("  facebook/sam-vit-base ", "cpu")
    again = AppSettings(tmp_path / "prefs.ini")
    assert (again.mask_model(), again.mask_device()) == ("facebook/sam-vit-base", "cpu")
    dialog = SettingsDialog("m", "cpu", 0.3, 0.25, mask_model=again.mask_model())
    qtbot.addWidget(dialog)
    assert dialog.mask_model_value() == "facebook/sam-vit-base"
    listed = [dialog.mask_model.itemText(i) for i in range(dialog.mask_model.count())]
    assert "" in listed and "facebook/sam2.1-hiera-tiny" in listed
    dialog.mask_model.setCurrentText("")
    assert dialog.mask_model_value() == ""  # none: boxes only
    plain = SettingsDialog("m", "cpu", 0.3, 0.25)
    qtbot.addWidget(plain)
    assert plain.mask_model_value() is None
