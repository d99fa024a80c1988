"""The reviewer with other detector families: detection, "Find similar in folder", the model picker."""

from __future__ import annotations

import pytest
from desktop_helpers import show_main_window, wait_idle, wait_image
from test_exemplars import EXAMPLE, EXPECTED_CENTRES, PLACES, centre, scene

from groundlabel.project import BoxSource, BoxStatus, ReviewProject

pytestmark = pytest.mark.gui


@pytest.fixture
def scenes(tmp_path):
    folder = tmp_path / "scenes"
    folder.mkdir()
    EXAMPLE.image.save(folder / "a-example.png")
    scene(PLACES, seed=2).save(folder / "b-target.png")
    return folder


@pytest.mark.parametrize("family", ["mm-grounding-dino", "owlv2", "sam3"])
def test_review_detects_with_the_family(family, family_model, qtbot, tmp_path, monkeypatch, photo_dir):
    window = show_main_window(qtbot, monkeypatch, tmp_path / "prefs.ini", str(family_model(family)))
    assert window.open_folder(photo_dir)
    window.controller.add_class("cat", [])
    wait_idle(qtbot, window)
    window.detection.project.set_setting("box_threshold", 0.0)
    window.detection.project.set_setting("text_threshold", 0.0)
    window.actions_by_name["detect_remaining"].trigger()
    wait_idle(qtbot, window)
    assert window.detection.remaining_ids() == [] and not window.shown_errors
    with ReviewProject.open(photo_dir) as project:
        boxes = [b for image in project.images() for b in project.boxes(image.id)]
        assert boxes and all(b.model == f"{family}:{family_model(family)}" for b in boxes)
        assert all(b.mask is not None for b in boxes) == (family == "sam3")  # SAM 3 brings masks


def test_find_similar_in_folder(family_model, qtbot, tmp_path, monkeypatch, scenes):
    window = show_main_window(qtbot, monkeypatch, tmp_path / "prefs.ini", str(family_model("owlv2")))
    with ReviewProject.open(scenes) as project:
        widget = project.ensure_classes(["widget", "other"])["widget"]
        example = project.image_by_path(scenes / "a-example.png")
        target = project.image_by_path(scenes / "b-target.png")
        project.insert_box(
            example.id, widget, (16, 16, 48, 48), source=BoxSource.HAND, status=BoxStatus.ACCEPTED
        )
        # A pending proposal of another class must survive the search.
        other = project.class_by_name("other").id
        kept = project.insert_box(
            target.id, other, (0, 0, 10, 10), source=BoxSource.MODEL, status=BoxStatus.PENDING, score=0.9
        )
    assert window.open_folder(scenes)
    wait_idle(qtbot, window)
    window.controller.show_image(example.id)
    wait_image(qtbot, window)
    qtbot.waitUntil(lambda: bool(window.canvas.box_items()), timeout=10_000)
    window.canvas.select_step(1)
    assert window.canvas.selected_ids()
    window.detection.project.set_setting("box_threshold", 0.0)
    window.actions_by_name["find_similar"].trigger()
    assert window.detection.busy and window.progress.isVisible()
    wait_idle(qtbot, window)
    assert not window.shown_errors
    project = window.detection.project
    found = [b for b in project.boxes(target.id) if b.status == BoxStatus.PENDING and b.class_id == widget]
    best = sorted(found, key=lambda b: -(b.score or 0))[:2]
    assert {tuple(round(v) for v in centre(list(b.xyxy))) for b in best} == EXPECTED_CENTRES
    assert project.has_box(kept.id)
    assert best[0].model == f"owlv2:{family_model('owlv2')}|examples"


def test_find_similar_explains_a_text_only_model(tiny_model_dir, qtbot, tmp_path, monkeypatch, scenes):
    window = show_main_window(qtbot, monkeypatch, tmp_path / "prefs.ini", str(tiny_model_dir))
    with ReviewProject.open(scenes) as project:
        widget = project.ensure_classes(["widget"])["widget"]
        example = project.image_by_path(scenes / "a-example.png")
        box = project.insert_box(example.id, widget, (16, 16, 48, 48))
    assert window.open_folder(scenes)
    wait_idle(qtbot, window)
    assert not window.detection.find_similar([box.id])
    assert "OWLv2" in window.shown_errors[-1]
    assert not window.detection.find_similar([])
    assert "select one or more boxes" in window.shown_errors[-1]


def test_settings_picker_lists_known_checkpoints_and_takes_any_id(tiny_model_dir, qtbot):
    from groundlabel.desktop.settings_dialog import SettingsDialog

    dialog = SettingsDialog(str(tiny_model_dir), "cpu", 0.3, 0.2)
    qtbot.addWidget(dialog)
    listed = [dialog.model_picker.itemText(i) for i in range(dialog.model_picker.count())]
    assert "google/owlv2-base-patch16-ensemble" in listed and "iSEE-Laboratory/llmdet_tiny" in listed
    assert dialog.values()[0] == str(tiny_model_dir)
    dialog.model_picker.setCurrentIndex(listed.index("google/owlv2-base-patch16-ensemble"))
    assert dialog.values()[0] == "google/owlv2-base-patch16-ensemble"
    dialog.model.setText("someone/any-detector")
    assert dialog.values()[0] == "someone/any-detector"


def test_settings_picker_shows_the_licence_of_the_chosen_checkpoint(tiny_model_dir, qtbot):
    from groundlabel.desktop.settings_dialog import SettingsDialog
    from PySide6.QtCore import Qt

    dialog = SettingsDialog(str(tiny_model_dir), "cpu", 0.3, 0.2)
    qtbot.addWidget(dialog)
    assert dialog.licence.text() == "see the model card"  # a local folder: not in the list
    listed = [dialog.model_picker.itemText(i) for i in range(dialog.model_picker.count())]
    dialog.model_picker.setCurrentIndex(listed.index("facebook/sam3"))
    assert "SAM License" in dialog.licence.text() and "gated" in dialog.licence.text()
    tip = dialog.model_picker.itemData(listed.index("facebook/sam3"), Qt.ItemDataRole.ToolTipRole)
    assert "SAM License" in tip
    dialog.model_picker.setCurrentIndex(listed.index("google/owlv2-base-patch16-ensemble"))
    assert dialog.licence.text() == "Apache-2.0"
