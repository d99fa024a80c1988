"""Class lists in the reviewer (the --labels syntax, a preview, imports) and the model banner."""

from __future__ import annotations

import json

import pytest
from desktop_helpers import drag, key, wait_idle, wait_image
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication

from groundlabel.labels import LabelClass

pytestmark = pytest.mark.gui

PASTED = "cup=mug, spoon, saucer=plate|dish"
EXPECTED = [("cup", ("mug",)), ("spoon", ()), ("saucer", ("plate", "dish"))]


def table(dialog) -> list[list[str]]:
    t = dialog.table
    return [[t.item(r, c).text() for c in range(t.columnCount())] for r in range(t.rowCount())]


def test_pasted_list_previews_three_classes_and_refuses_duplicates(qtbot):
    from groundlabel.desktop.class_list_dialog import ClassListDialog

    dialog = ClassListDialog([])
    qtbot.addWidget(dialog)
    QApplication.clipboard().setText(PASTED)
    dialog.text.setFocus()
    qtbot.keyClick(dialog.text, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)  # paste
    assert dialog.text.text() == PASTED
    assert table(dialog) == [
        ["cup", "mug", "add"],
        ["spoon", "spoon", "add"],
        ["saucer", "plate, dish", "add"],
    ]
    assert [(c.name, c.aliases) for c in dialog.additions()] == EXPECTED
    assert dialog.ok_button.text() == "Add 3 classes" and dialog.ok_button.isEnabled()

    # Against a project that has "spoon" and a class prompted by "dish": both are refused, by name.
    dialog = ClassListDialog([LabelClass("Spoon"), LabelClass("bowl", ("dish",))])
    qtbot.addWidget(dialog)
    qtbot.keyClicks(dialog.text, PASTED)
    rows = table(dialog)
    assert rows[0][2] == "add"
    assert rows[1][2] == "refused: there is already a class “Spoon”"
    assert rows[2][2] == "refused: the phrase “dish” already prompts the class “bowl”"
    assert [c.name for c in dialog.additions()] == ["cup"]
    assert "1 to add, 2 refused" in dialog.summary.text()

    # A list the CLI would refuse is refused with the CLI's message; nothing can be added.
    dialog.text.setText("cup=mug|, spoon")
    assert "an alias is empty" in dialog.summary.text()
    assert not dialog.ok_button.isEnabled() and dialog.additions() == []


def test_add_and_import_classes_through_the_window(make_window, qtbot, photo_dir, tmp_path, monkeypatch):
    import groundlabel.desktop.classes_panel as panel_module
    from groundlabel.desktop.class_list_dialog import ClassListDialog

    shown: list[ClassListDialog] = []

    def answer(parent, existing, entries=None, source=None):
        """The real dialog, filled as a person would, then OK."""
        dialog = ClassListDialog(existing, parent, entries, source)
        qtbot.addWidget(dialog)
        shown.append(dialog)
        if entries is None:
            qtbot.keyClicks(dialog.text, PASTED)
        return dialog.additions()

    monkeypatch.setattr(panel_module, "ask_class_list", answer)
    window = make_window()
    assert window.open_folder(photo_dir)
    project = window.controller.project
    key(qtbot, window, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)  # Add classes
    assert [(c.name, c.aliases) for c in project.classes()] == EXPECTED
    assert project.label_set().fingerprint() == "cup=mug|spoon=spoon|saucer=plate/dish"
    key(qtbot, window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # one undo step for the list
    assert project.classes() == []
    key(qtbot, window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert [c.name for c in project.classes()] == ["cup", "spoon", "saucer"]

    # File → Import classes…: a Label Studio config; "cup" is there already and is refused.
    config = tmp_path / "labeling-config.xml"
    config.write_text(
        '<View><Image name="image" value="$image"/><RectangleLabels name="label" toName="image">'
        '<Label value="cup"/><Label value="fork" predicted_values="fork,cake fork"/></RectangleLabels></View>'
    )
    monkeypatch.setattr(panel_module, "ask_class_file", lambda parent: str(config))
    window.actions_by_name["import_classes"].trigger()
    assert shown[-1].windowTitle() == "Import classes from labeling-config.xml"
    assert [row[2] for row in table(shown[-1])] == ["refused: there is already a class “cup”", "add"]
    assert project.class_by_name("fork").aliases == ("fork", "cake fork")

    # A COCO file's categories, then a text file with one class per line.
    coco = tmp_path / "instances.json"
    coco.write_text(json.dumps({"categories": [{"id": 2, "name": "knife"}, {"id": 1, "name": "bowl"}]}))
    monkeypatch.setattr(panel_module, "ask_class_file", lambda parent: str(coco))
    window.actions_by_name["import_classes"].trigger()
    lines = tmp_path / "classes.txt"
    lines.write_text("teapot=teapot|kettle\nsalt, pepper\n")
    monkeypatch.setattr(panel_module, "ask_class_file", lambda parent: str(lines))
    window.actions_by_name["import_classes"].trigger()
    assert [c.name for c in project.classes()] == [
        "cup", "spoon", "saucer", "fork", "bowl", "knife", "teapot", "salt, pepper"
    ]  # fmt: skip
    assert window.shown_errors == []

    # A file that is not a class list: one message naming it, nothing added.
    bad = tmp_path / "broken.json"
    bad.write_text("{not json")
    monkeypatch.setattr(panel_module, "ask_class_file", lambda parent: str(bad))
    window.actions_by_name["import_classes"].trigger()
    assert len(window.shown_errors) == 1 and "broken.json: not readable JSON" in window.shown_errors[0]
    assert len(project.classes()) == 8


def test_missing_model_is_a_banner_and_the_window_stays_usable(
    make_window, qtbot, photo_dir, tmp_path, tiny_model_dir, monkeypatch
):
    import groundlabel.desktop.main_window as main_window
    from groundlabel.desktop.settings_dialog import SettingsDialog

    window = make_window(model=str(tmp_path / "no-such-model"))
    assert window.open_folder(photo_dir)
    window.controller.add_class("cat", [])
    wait_idle(qtbot, window)
    banner = window.model_banner
    assert window.detection.model_error is not None
    assert banner.isVisible() and "does not exist" in banner.text()
    assert window.shown_errors == [] and QApplication.activeModalWidget() is None  # nothing modal
    assert "not loaded" in window.model_label.text()

    # Detection asks for a model through the banner, not a box; review by hand works.
    key(qtbot, window, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
    assert not window.detection.busy and window.shown_errors == []
    assert "needs a model" in window.statusBar().currentMessage()
    wait_image(qtbot, window)
    drag(qtbot, window, (20, 20), (90, 90))
    project = window.controller.project
    current = window.controller.current_id
    assert [str(b.status) for b in project.boxes(current)] == ["accepted"]
    key(qtbot, window, Qt.Key.Key_Space)
    assert str(project.image(current).state) == "reviewed"

    # "Choose model…" opens the settings dialog (closed here by the test).
    opened: list[object] = []

    def close_dialog() -> None:
        opened.append(QApplication.activeModalWidget())
        opened[-1].reject()

    QTimer.singleShot(200, close_dialog)
    banner.buttons["choose"].click()
    assert isinstance(opened[0], SettingsDialog)
    # "Model folder…": a saved model's folder; it loads and the banner goes.
    monkeypatch.setattr(main_window, "choose_directory", lambda parent, title: str(tiny_model_dir))
    banner.buttons["folder"].click()
    wait_idle(qtbot, window)
    assert window.detection.model_ready and not banner.isVisible()
    assert project.model == str(tiny_model_dir)

    # Ctrl+Q quits while the banner shows.
    banner.show_problem("still showing")
    key(qtbot, window, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=10_000)
