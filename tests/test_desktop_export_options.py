"""The desktop export dialog's split, seed and image options run the same export as the CLI."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from groundlabel.desktop.dataset_dialogs import ExportDialog
from PySide6.QtWidgets import QWidget
from test_project_helpers import make_review_folder

from groundlabel.formats.coco import read_coco
from groundlabel.project import ReviewProject

pytestmark = pytest.mark.gui


def test_split_seed_and_copies_from_the_dialog(qtbot, tmp_path: Path) -> None:
    folder = tmp_path / "images"
    expected = make_review_folder(folder)
    parent = QWidget()
    qtbot.addWidget(parent)
    with ReviewProject.open(folder) as project:
        dialog = ExportDialog(project, parent)
        errors: list[str] = []
        dialog.failed.connect(errors.append)
        dialog.format.setCurrentIndex(dialog.format.findData("yolo"))
        dialog.output.setText(str(tmp_path / "yolo"))
        dialog.split.setText("train=0.5,val=0.5")
        dialog.seed.setValue(3)
        dialog.image_mode.setCurrentIndex(dialog.image_mode.findData("copy"))
        with qtbot.waitSignal(dialog.finished_export, timeout=30_000) as done:
            dialog.accept()
        assert "train: 2" in done.args[0] and "val: 2" in done.args[0] and not errors
        out = tmp_path / "yolo"
        data = yaml.safe_load((out / "data.yaml").read_text())
        assert (data["train"], data["val"]) == ("images/train", "images/val")
        exported = sorted(p.name for p in (out / "images").rglob("*") if p.is_file())
        assert exported == sorted(Path(n).name for n in expected)
        astronaut = next((out / "images").rglob("astronaut.png"))
        assert not os.path.samefile(astronaut, folder / "astronaut.png")  # a copy, as chosen

        # The choices are remembered; a bad split is a message and the dialog stays open.
        again = ExportDialog(project, parent)
        assert (again.split.text(), again.seed.value(), again.image_mode.currentData()) == (
            "train=0.5,val=0.5",
            3,
            "copy",
        )
        again.format.setCurrentIndex(again.format.findData("coco"))
        again.output.setText(str(tmp_path / "coco"))
        again.split.setText("train=oops")
        again.failed.connect(errors.append)
        again.show()
        again.accept()
        assert errors == ["--split: the ratio of 'train' is not a number: 'oops'"]
        assert again.isVisible() and not (tmp_path / "coco").exists()
        again.split.setText("train=1,val=1")
        with qtbot.waitSignal(again.finished_export, timeout=30_000):
            again.accept()
    assert {i.split for i in read_coco(tmp_path / "coco").images} == {"train", "val"}
