"""The desktop with per-class thresholds: settings, detection, slider and accept-all, auto-accept
filter, and Review → Report."""

from __future__ import annotations

from pathlib import Path

import pytest
from desktop_helpers import WAIT_MS, key, show_main_window, wait_idle, wait_image
from PySide6.QtCore import Qt

from groundlabel.labels import LabelSet
from groundlabel.project import BoxStatus, ImageState
from groundlabel.project.thresholds import CALIBRATION_KEY, load_thresholds

pytestmark = pytest.mark.gui
GLOBAL = 0.9


@pytest.fixture
def window(qtbot, tmp_path, tiny_model_dir, monkeypatch):
    return show_main_window(qtbot, monkeypatch, tmp_path / "prefs.ini", str(tiny_model_dir), size=(1000, 700))


def cat_cut(tiny_detector, folder: Path) -> float:
    results = tiny_detector.detect(sorted(folder.glob("*.png")), LabelSet.parse("cat, person"), 0.0, 0.0)
    cats = sorted(
        s for r in results for n, s in zip(r.labels, r.scores, strict=True) if n == "cat" and s < GLOBAL
    )
    return round((cats[len(cats) // 2 - 1] + cats[len(cats) // 2]) / 2, 4)


def test_thresholds_from_settings_reach_detection_slider_and_accept_all(
    window, qtbot, photo_dir, tiny_detector, monkeypatch
):
    import groundlabel.desktop.main_window as main_window

    cut = cat_cut(tiny_detector, photo_dir)
    assert window.open_folder(photo_dir)
    for name in ("cat", "person"):
        window.controller.add_class(name, [])
    wait_idle(qtbot, window)

    def fill(dialog) -> int:
        dialog.box_threshold.setValue(GLOBAL)
        dialog.text_threshold.setValue(0.0)
        editor = dialog.class_thresholds
        assert set(editor.rows) == {"cat", "person"} and editor.enabled.isChecked()
        check, spin = editor.rows["cat"]
        check.setChecked(True)
        spin.setValue(cut)
        return 1

    monkeypatch.setattr(main_window.SettingsDialog, "exec", fill)
    key(qtbot, window, Qt.Key.Key_Comma, Qt.KeyboardModifier.ControlModifier)
    project = window.controller.project
    assert load_thresholds(project).set() == {"cat": cut}
    assert window.controller.class_min_scores == {"cat": cut}

    window.actions_by_name["detect_remaining"].trigger()
    qtbot.waitUntil(lambda: window.detection.busy, timeout=WAIT_MS)
    wait_idle(qtbot, window)
    names = {c.id: c.name for c in project.classes()}
    boxes = [b for image in project.images() for b in project.boxes(image.id)]
    assert all(b.score >= cut if names[b.class_id] == "cat" else b.score > GLOBAL for b in boxes)
    assert any(names[b.class_id] == "cat" and b.score < GLOBAL for b in boxes), (
        "the cat threshold let boxes in"
    )
    assert window.detection.remaining_ids() == []  # the key includes the thresholds

    # The slider above every cat box: cat boxes stay visible (their class threshold rules them).
    wait_image(qtbot, window)
    window.controller.set_min_score(0.999)
    shown = window.controller.boxes
    visible = set(window.canvas.visible_ids())
    for box in shown:
        if box.status is BoxStatus.PENDING:
            assert (box.id in visible) == (box.score >= (cut if names[box.class_id] == "cat" else 0.999))
    window.controller.accept_all_above()
    after = {b.id: b for b in project.boxes(window.controller.current_id)}
    for box in shown:
        wanted = cut if names[box.class_id] == "cat" else 0.999
        assert after[box.id].status is (BoxStatus.ACCEPTED if box.score >= wanted else BoxStatus.REJECTED)
    assert window.shown_errors == []


def test_auto_accept_filter_and_report_dialog(window, qtbot, photo_dir, tiny_detector, monkeypatch):
    import groundlabel.desktop.main_window as main_window

    cut = cat_cut(tiny_detector, photo_dir)
    assert window.open_folder(photo_dir)
    for name in ("cat", "person"):
        window.controller.add_class(name, [])
    project = window.controller.project
    project.set_setting(
        CALIBRATION_KEY, {"method": "max-f1", "classes": {"cat": {"curve": [[cut, 1.0, 0.9]]}}}
    )
    wait_idle(qtbot, window)

    def fill(dialog) -> int:
        dialog.box_threshold.setValue(GLOBAL)
        editor = dialog.class_thresholds
        editor.rows["cat"][0].setChecked(True)
        editor.rows["cat"][1].setValue(cut)
        editor.auto_accept.setChecked(True)
        editor.auto_accept_precision.setValue(0.95)
        return 1

    monkeypatch.setattr(main_window.SettingsDialog, "exec", fill)
    window.edit_settings()
    window.actions_by_name["detect_remaining"].trigger()
    qtbot.waitUntil(lambda: window.detection.busy, timeout=WAIT_MS)
    wait_idle(qtbot, window)
    auto = [b for i in project.images() for b in project.boxes(i.id) if b.auto_accepted]
    assert auto and all(b.status is BoxStatus.ACCEPTED for b in auto)

    window.files.select_id(auto[0].image_id)
    qtbot.waitUntil(lambda: window.controller.current_id == auto[0].image_id, timeout=WAIT_MS)
    wait_image(qtbot, window)
    auto_ids = {b.id for b in auto}
    captions = {v.box_id: v.caption for v in window.canvas._views}
    assert captions and auto[0].id in captions
    assert all(text.endswith(" auto") == (box_id in auto_ids) for box_id, text in captions.items())
    files = window.files
    files.state_filter.setCurrentIndex(files.state_filter.findData("auto-accepted"))
    qtbot.waitUntil(lambda: files.proxy.rowCount() == len({b.image_id for b in auto}), timeout=5_000)
    files.state_filter.setCurrentIndex(0)

    for image in project.images():
        project.set_image_state(image.id, ImageState.REVIEWED)
    window.show_report()
    qtbot.waitUntil(lambda: getattr(window, "report_dialog", None) is not None, timeout=WAIT_MS)
    titles = [title for title, _ in window.report_dialog.pixmaps]
    assert "Precision and recall: cat" in titles and "Precision and recall: person" in titles
    assert all(not pixmap.isNull() and pixmap.width() > 100 for _, pixmap in window.report_dialog.pixmaps)
    window.report_dialog.close()
    assert window.shown_errors == []
