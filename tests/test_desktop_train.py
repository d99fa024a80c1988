"""Review → Train… in the real window (offscreen): train in the background, then pre-label the
unreviewed images with the new model when the user says yes."""

from __future__ import annotations

from pathlib import Path

from desktop_helpers import show_main_window, wait_idle
from PySide6.QtWidgets import QMessageBox

from groundlabel.devtools.synthetic_shapes import write_shapes_project
from groundlabel.project import ImageState, ReviewProject


def test_train_then_prelabel_the_unreviewed_images(qtbot, tmp_path, monkeypatch, closed_set_model):
    folder = write_shapes_project(tmp_path / "shapes", 12, seed=1, size=64, max_shapes=1)
    with ReviewProject.open(folder) as project:
        for record in project.images()[-3:]:  # three images left to pre-label
            project.set_image_state(record.id, ImageState.NEW)
            for box in project.boxes(record.id):
                project.delete_box(box.id)
    # The window starts on another (random) closed-set model; the trained one replaces it.
    start = closed_set_model()
    window = show_main_window(qtbot, monkeypatch, tmp_path / "prefs.ini", str(start))
    window.open_folder(folder)
    wait_idle(qtbot, window)
    asked = []
    monkeypatch.setattr(
        QMessageBox, "question", lambda *a, **k: asked.append(a) or QMessageBox.StandardButton.Yes
    )
    window.train_action.trigger()
    dialog = window.train_dialog
    dialog.output.setText(str(tmp_path / "model"))
    dialog.epochs.setValue(1)
    dialog.image_size.setValue(64)
    dialog.extra_options = {"config_file": Path("tiny"), "device": "cpu", "augment": False}
    with qtbot.waitSignal(dialog.finished_training, timeout=240_000):
        dialog.start_button.click()
    assert dialog.result is not None and (tmp_path / "model" / "config.json").is_file()
    assert asked, "the window offers to pre-label the unreviewed images"
    trained = str(tmp_path / "model")
    qtbot.waitUntil(
        lambda: window.detection.model_ready and trained in (window.detection._record or ""),
        timeout=120_000,
    )
    wait_idle(qtbot, window)
    project = window.controller.project
    keys = {r.prediction_key for r in project.images(state=[ImageState.NEW, ImageState.PREDICTED])}
    assert keys and all(k and k.startswith(f"rt_detr_v2:{trained}") for k in keys), keys
    assert not window.shown_errors
