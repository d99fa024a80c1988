"""User errors in the reviewer are messages, never crashes; classes panel; filters; CLI."""

from __future__ import annotations

import subprocess
import sys

import pytest
from desktop_helpers import drag, key, wait_idle, wait_image
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QApplication

from groundlabel.class_lists import parse_class_text
from groundlabel.project import ReviewProject

pytestmark = pytest.mark.gui


def test_corrupt_image_shows_a_placeholder_and_is_marked(make_window, qtbot, photo_dir):
    (photo_dir / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 definitely not a jpeg")
    window = make_window()
    assert window.open_folder(photo_dir)
    window.controller.add_class("cat", [])
    wait_idle(qtbot, window)
    project = window.controller.project
    broken = project.image_by_path("broken.jpg")
    window.files.select_id(broken.id)
    qtbot.waitUntil(lambda: "Cannot show" in window.canvas.message(), timeout=10_000)
    assert "broken.jpg" in window.canvas.message()
    assert not window.canvas.has_image()
    row = window.files.model.row_of(broken.id)
    from groundlabel.desktop.file_list import StateRole

    assert window.files.model.index(row).data(StateRole) == "unreadable"
    # Detection over the folder carries on past it.
    window.actions_by_name["detect_remaining"].trigger()
    wait_idle(qtbot, window)
    states = {r.path: str(r.state) for r in project.images()}
    assert states == {"astronaut.png": "predicted", "broken.jpg": "new", "chelsea.png": "predicted"}
    # Drawing on the placeholder does nothing; keys still work.
    drag(qtbot, window, (10, 10), (100, 100))
    assert project.boxes(broken.id) == []
    key(qtbot, window, Qt.Key.Key_Space)
    assert str(project.image(broken.id).state) == "reviewed-empty"


def test_detect_without_classes_and_bad_folder_are_messages(make_window, qtbot, photo_dir, tmp_path):
    window = make_window()
    assert not window.open_folder(tmp_path / "missing-folder")
    assert "not a folder" in window.shown_errors[-1]
    assert window.open_folder(photo_dir)
    wait_idle(qtbot, window)
    window.actions_by_name["detect_current"].trigger()
    assert "Add classes first" in window.shown_errors[-1]
    drag(qtbot, window, (20, 20), (90, 90))  # no class to draw with
    assert "Add a class first" in window.shown_errors[-1]


def test_classes_panel_add_rename_alias_colour_delete_with_undo(make_window, qtbot, photo_dir, monkeypatch):
    import groundlabel.desktop.classes_panel as panel_module

    window = make_window()
    assert window.open_folder(photo_dir)
    wait_idle(qtbot, window)
    wait_image(qtbot, window)
    panel = window.classes
    answers = iter(["kitten", "feline | kitty"])
    monkeypatch.setattr(panel_module, "ask_text", lambda *args, **kwargs: next(answers))
    lists = iter(["cat", "person=astronaut|woman"])  # typed into the class-list dialog
    monkeypatch.setattr(panel_module, "ask_class_list", lambda *args: list(parse_class_text(next(lists))))
    monkeypatch.setattr(panel_module, "ask_colour", lambda parent, colour: "#123456")
    warnings: list[str] = []
    monkeypatch.setattr(panel_module, "confirm", lambda parent, title, text: warnings.append(text) or True)
    panel.buttons["add"].click()
    panel.buttons["add"].click()
    project = window.controller.project
    assert [(c.name, c.aliases) for c in project.classes()] == [
        ("cat", ()),
        ("person", ("astronaut", "woman")),
    ]
    assert project.label_set().fingerprint() == "cat=cat|person=astronaut/woman"  # the detector's prompt
    panel.set_current_index(0)
    panel.buttons["rename"].click()
    panel.buttons["aliases"].click()
    panel.buttons["colour"].click()
    kitten = project.class_by_name("kitten")
    assert kitten.aliases == ("feline", "kitty") and kitten.colour == "#123456"
    assert "kitten" in panel.list.item(0).text()

    drag(qtbot, window, (30, 30), (120, 120))  # a box of class kitten
    panel.set_current_index(0)
    panel.buttons["delete"].click()
    assert "1 box(es) use it" in warnings[-1]
    assert project.class_by_name("kitten") is None
    assert project.boxes(window.controller.current_id) == []
    key(qtbot, window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert project.class_by_name("kitten") is not None
    assert len(project.boxes(window.controller.current_id)) == 1
    assert panel.list.count() == 2
    # Undo the colour change too: class edits are undoable like box edits.
    key(qtbot, window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # the box
    key(qtbot, window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # the colour
    assert project.class_by_name("kitten").colour != "#123456"


def test_filters_search_and_class_filter(make_window, qtbot, photo_dir):
    window = make_window()
    assert window.open_folder(photo_dir)
    window.controller.add_class("cat", [])
    wait_idle(qtbot, window)
    wait_image(qtbot, window)
    files = window.files
    files.search.setText("chel")
    assert [r for r in files.visible_ids()] == [window.controller.project.image_by_path("chelsea.png").id]
    files.search.clear()
    files.select_id(window.controller.project.image_by_path("astronaut.png").id)
    wait_image(qtbot, window)
    drag(qtbot, window, (30, 30), (120, 120))
    key(qtbot, window, Qt.Key.Key_Space)  # reviewed -> next
    files.state_filter.setCurrentIndex(files.state_filter.findData("reviewed"))
    assert files.visible_ids() == [window.controller.project.image_by_path("astronaut.png").id]
    files.state_filter.setCurrentIndex(0)
    files.class_filter.setCurrentIndex(files.class_filter.findText("cat"))
    assert files.visible_ids() == [window.controller.project.image_by_path("astronaut.png").id]
    files.class_filter.setCurrentIndex(0)
    assert len(files.visible_ids()) == 2


def test_recent_folders_and_drop_open(make_window, qtbot, photo_dir, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "a.png").write_bytes((photo_dir / "chelsea.png").read_bytes())
    window = make_window()
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(other))])
    drop = QDropEvent(
        QPointF(10, 10),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    window.dropEvent(drop)
    assert window.controller.project.root == other.resolve()
    assert window.open_folder(photo_dir)
    assert window.app_settings.recent_folders() == [str(photo_dir.resolve()), str(other.resolve())]
    assert [a.text() for a in window.recent_menu.actions()] == [
        str(photo_dir.resolve()),
        str(other.resolve()),
    ]
    window.recent_menu.actions()[1].trigger()
    assert window.controller.project.root == other.resolve()
    assert (tmp_path / "prefs.ini").exists()


def test_review_command_errors_and_lazy_qt_import(tmp_path, monkeypatch):
    from groundlabel.cli import main

    assert main(["review", str(tmp_path / "nope")]) == 2
    from groundlabel.desktop.app import check_display

    from groundlabel.errors import GroundlabelError

    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(GroundlabelError, match="no display"):
        check_display()
    # Other commands never import Qt.
    code = "import sys; from groundlabel.cli import build_parser; build_parser(); print('PySide6' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_reopen_after_a_crash_keeps_every_edit(make_window, qtbot, photo_dir):
    window = make_window()
    assert window.open_folder(photo_dir)
    window.controller.add_class("cat", [])
    wait_idle(qtbot, window)
    wait_image(qtbot, window)
    drag(qtbot, window, (30, 30), (120, 120))
    # No close, no flush: another connection sees the edit already committed.
    with ReviewProject.open(photo_dir) as other:
        assert len(other.boxes(window.controller.current_id)) == 1
    QApplication.processEvents()


def test_undo_of_an_edit_to_a_box_a_new_prediction_replaced(make_window, qtbot, photo_dir):
    window = make_window()
    assert window.open_folder(photo_dir)
    window.controller.add_class("cat", [])
    wait_idle(qtbot, window)
    wait_image(qtbot, window)
    window.actions_by_name["detect_current"].trigger()
    wait_idle(qtbot, window)
    qtbot.waitUntil(lambda: bool(window.canvas.box_items()), timeout=10_000)
    project = window.controller.project
    key(qtbot, window, Qt.Key.Key_Tab)
    (box_id,) = window.canvas.selected_ids()
    key(qtbot, window, Qt.Key.Key_Right, Qt.KeyboardModifier.AltModifier)  # nudge: one undoable edit
    assert window.controller.session.undo_stack.undoText() == "move box"
    # New thresholds: detecting again replaces the pending model boxes, the nudged one too.
    window.detection.apply_settings(str(window.detection.model_choice()[0]), "cpu", 0.3, 0.2)
    assert project.get_setting("box_threshold") == 0.3  # remembered per project
    window.actions_by_name["detect_current"].trigger()
    wait_idle(qtbot, window)
    qtbot.waitUntil(lambda: not project.has_box(box_id), timeout=10_000)
    key(qtbot, window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert "no longer exists" in window.shown_errors[-1]
    stack = window.controller.session.undo_stack
    assert stack.count() == 1 and stack.undoText() == "add class"  # the stale step is dropped
    key(qtbot, window, Qt.Key.Key_Tab)  # the window carries on
    assert window.canvas.selected_ids()
