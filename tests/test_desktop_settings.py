"""Settings dialog, quick class picker, and switching folders while a detection runs."""

from __future__ import annotations

import shutil

import pytest
from desktop_helpers import drag, key, show_main_window, wait_idle, wait_image
from PySide6.QtCore import Qt

from groundlabel.project import ReviewProject

pytestmark = pytest.mark.gui


@pytest.fixture
def window(qtbot, tmp_path, tiny_model_dir, monkeypatch):
    return show_main_window(qtbot, monkeypatch, tmp_path / "prefs.ini", str(tiny_model_dir), size=(1000, 700))


def test_settings_dialog_stores_the_choice_in_the_project(
    window, qtbot, photo_dir, tiny_model_dir, monkeypatch
):
    import groundlabel.desktop.main_window as main_window

    assert window.open_folder(photo_dir)
    wait_idle(qtbot, window)

    def fill_and_accept(dialog) -> int:
        assert dialog.model.text() == str(tiny_model_dir)  # shows the current choice
        dialog.box_threshold.setValue(0.5)
        dialog.text_threshold.setValue(0.4)
        dialog.device.setCurrentText("cpu")
        return 1

    monkeypatch.setattr(main_window.SettingsDialog, "exec", fill_and_accept)
    key(qtbot, window, Qt.Key.Key_Comma, Qt.KeyboardModifier.ControlModifier)
    settings = window.detection.settings()
    assert (settings.box_threshold, settings.text_threshold) == (0.5, 0.4)
    with ReviewProject.open(photo_dir) as project:
        assert project.get_setting("box_threshold") == 0.5 and project.get_setting("device") == "cpu"
        assert project.model == str(tiny_model_dir)


def test_quick_picker_relabels_the_selection(window, qtbot, photo_dir, monkeypatch):
    import groundlabel.desktop.main_window as main_window

    assert window.open_folder(photo_dir)
    for name in ("cat", "dog", "bird"):
        window.controller.add_class(name, [])
    wait_idle(qtbot, window)
    wait_image(qtbot, window)
    drag(qtbot, window, (40, 40), (140, 140))
    offered: list[str] = []

    def choose_third(menu, pos):
        offered.extend(action.text() for action in menu.actions())
        return menu.actions()[2]

    monkeypatch.setattr(main_window, "choose_from_menu", choose_third)
    key(qtbot, window, Qt.Key.Key_C)
    assert offered == ["&1  cat", "&2  dog", "&3  bird"]
    project = window.controller.project
    (box,) = project.boxes(window.controller.current_id)
    assert project.class_record(box.class_id).name == "bird"


def test_opening_another_folder_during_detection_keeps_projects_apart(window, qtbot, photo_dir, tmp_path):
    for i in range(6):
        shutil.copy(photo_dir / "chelsea.png", photo_dir / f"copy_{i}.png")
    other = tmp_path / "other"
    other.mkdir()
    shutil.copy(photo_dir / "astronaut.png", other / "only.png")
    assert window.open_folder(photo_dir)
    window.controller.add_class("cat", [])
    wait_idle(qtbot, window)
    window.actions_by_name["detect_remaining"].trigger()
    qtbot.waitUntil(lambda: window.progress.bar.value() >= 1, timeout=30_000)
    assert window.open_folder(other)  # mid-run: the job is cancelled
    wait_idle(qtbot, window)
    assert window.controller.project.boxes(window.controller.project.image_by_path("only.png").id) == []
    with ReviewProject.open(photo_dir) as first:
        predicted = [r for r in first.images() if str(r.state) == "predicted"]
        assert 1 <= len(predicted) < 8  # what finished is kept, the rest was cancelled
    assert window.shown_errors == []
