"""Regenerate the README screenshot: ``python -m groundlabel.desktop.screenshot docs/images/review.png``.

The app renders itself offscreen (no display needed) on a copy of a reference photo.
The boxes are hand-drawn: the script issues the same commands a person's mouse does
(the real model's weights cannot be downloaded where this is built, and the random test
model's boxes would be meaningless); the caption in the README says so.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from PySide6.QtWidgets import QApplication

PHOTOS = Path(__file__).resolve().parents[1] / "assets" / "reference" / "photos"

# (class, xyxy, status) on astronaut.png (512×512), placed by eye on the objects.
BOXES = [
    ("person", (112, 28, 450, 512), "accepted"),
    ("helmet", (330, 350, 512, 512), "accepted"),
    ("flag", (0, 0, 110, 260), "accepted"),
    ("patch", (130, 380, 200, 450), "rejected"),
]


def _wait(app: QApplication, condition: Callable[[], bool], seconds: float = 20.0) -> None:
    end = time.monotonic() + seconds
    while not condition() and time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)


def take(out: Path, width: int = 1280, height: int = 760) -> Path:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from groundlabel.desktop.app_settings import AppSettings
    from groundlabel.desktop.main_window import MainWindow
    from PySide6.QtWidgets import QApplication

    from groundlabel.project import AddBox, ImageState, SetBoxStatus, SetImageState

    app = QApplication.instance() or QApplication(sys.argv[:1])
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "photos"
        folder.mkdir()
        for photo in PHOTOS.glob("*.png"):
            shutil.copy(photo, folder / photo.name)
        window = MainWindow(
            AppSettings(Path(tmp) / "prefs.ini"), model=str(Path(tmp) / "no-model"), device="cpu"
        )
        # No weights can be loaded here: the status bar says so instead of naming a model.
        window.detection.load_model = lambda: window.model_label.setText("Model: not loaded (screenshot)")
        window.resize(width, height)
        window.show()
        window.open_folder(folder)
        controller = window.controller
        for name, aliases in [
            ("person", ["astronaut", "person"]),
            ("helmet", []),
            ("flag", []),
            ("patch", []),
        ]:
            controller.add_class(name, aliases)
        project = controller.project
        chelsea = project.image_by_path("chelsea.png")
        controller.execute(SetImageState(chelsea.id, ImageState.REVIEWED))
        astronaut = project.image_by_path("astronaut.png")
        window.files.select_id(astronaut.id)
        _wait(app, window.canvas.has_image)
        for name, xyxy, status in BOXES:
            command = AddBox(astronaut.id, project.class_by_name(name).id, xyxy)
            controller.execute(command)
            if status == "rejected":
                controller.execute(SetBoxStatus([command.box_id], status))
        window.canvas.select_ids([window.canvas.visible_ids()[0]])
        window.statusBar().showMessage("astronaut.png — 3 accepted, 1 rejected (dimmed)")
        for _ in range(20):
            app.processEvents()
        out.parent.mkdir(parents=True, exist_ok=True)
        if not window.grab().save(str(out)):
            raise SystemExit(f"could not write {out}")
        window.close()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path, nargs="?", default=Path("docs/images/review.png"))
    args = parser.parse_args(argv)
    print(take(args.output))
    return 0


if __name__ == "__main__":
    sys.exit(main())
