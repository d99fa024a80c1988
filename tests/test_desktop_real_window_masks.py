"""Masks in a real window (Xvfb, xdotool): refine a box, a negative point, undo, again, export.

``groundlabel -v review FOLDER --masks TINY_SAM`` runs as its own process with real X
input. The test waits on the project database and the app's log, never on fixed sleeps.
The points the app used are read from its log (``mask points of box N: [...]``, the only
place they outlive the session: the project keeps masks, not clicks), and the exported COCO
mask must equal, pixel for pixel, what the transformers SAM reference (``SamModel`` +
``SamProcessor``, called directly) gives for the same image, box and points.

``GROUNDLABEL_SCREENSHOT_MASKS=docs/images/review-masks.png`` saves the README's screenshot.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from real_window import STEP_TIMEOUT, ProjectDB, make_folder, start_app, stop_app
from xsession import XSession, wait_for

pytestmark = pytest.mark.gui

POINTS_LINE = re.compile(r"mask points of box (\d+): (\[.*\])")


def masks_of(db: ProjectDB, path: str) -> dict[int, str]:
    return dict(
        db.rows(
            "SELECT b.id, b.mask FROM boxes b JOIN images i ON i.id = b.image_id "
            "WHERE i.path = ? AND b.mask IS NOT NULL",
            path,
        )
    )


def logged_points(log: Path) -> list[tuple[int, list[tuple[float, float, int]]]]:
    return [(int(m.group(1)), ast.literal_eval(m.group(2))) for m in POINTS_LINE.finditer(log.read_text())]


def shift_click(x: XSession, sx: int, sy: int) -> None:
    x.xdotool("mousemove", str(sx), str(sy))
    x.xdotool("keydown", "shift", "click", "1", "keyup", "shift")


def test_real_window_refine_point_undo_accept_export(
    xsession, tiny_model_dir, sam_dir, sam_reference, tmp_path
):
    folder = make_folder(tmp_path)
    db = ProjectDB(folder)
    log = tmp_path / "app.log"
    x = xsession
    path = "astronaut.png"
    app = start_app(x, folder, tiny_model_dir, tmp_path, "--masks", str(sam_dir), verbose=True)
    try:
        main = x.wait_window(app.pid, "^groundlabel review", timeout=STEP_TIMEOUT)
        wait_for(lambda: len(db.states()) == 3, STEP_TIMEOUT, "the folder's three images in the project")
        wait_for(lambda: x.focused() == main, 30, "the main window to take the keyboard focus")
        wait_for(lambda: "mask model loaded" in log.read_text(), STEP_TIMEOUT, "the mask model to load")
        x.key("ctrl+l")
        dialog = x.wait_window(app.pid, "^Add classes$")
        wait_for(lambda: x.focused() == dialog, 30, "the class dialog to take the focus")
        x.type("cat")
        x.key("Return")
        wait_for(lambda: db.classes() == [("cat", ())], STEP_TIMEOUT, "the class cat")
        wait_for(lambda: x.focused() == main, 30, "the focus back on the main window")

        # Boxes from the tiny detector, then Tab (select one) and Ctrl+M (refine it to a mask).
        x.key("ctrl+d")
        wait_for(lambda: db.count(path, "pending") >= 2, STEP_TIMEOUT, "proposals on astronaut.png")
        for _ in range(10):
            x.key("Tab", "ctrl+m")
            try:
                wait_for(lambda: masks_of(db, path), 30, "a mask from Ctrl+M")
                break
            except AssertionError:
                continue
        before = masks_of(db, path)

        # Point tool; Shift+click on the image: a negative point for the selected box.
        x.key("p")
        shift_click(x, 640, 430)
        wait_for(lambda: logged_points(log), STEP_TIMEOUT, "the point edit in the app's log")
        box_id = logged_points(log)[0][0]
        refined = before[box_id]
        wait_for(lambda: masks_of(db, path)[box_id] != refined, STEP_TIMEOUT, "the mask recomputed")
        first_point = masks_of(db, path)[box_id]
        x.key("ctrl+z")
        wait_for(lambda: masks_of(db, path)[box_id] == refined, STEP_TIMEOUT, "the point undone")
        shift_click(x, 640, 430)  # the same point again
        wait_for(lambda: len(logged_points(log)) == 2, STEP_TIMEOUT, "the second point edit logged")
        wait_for(lambda: masks_of(db, path)[box_id] == first_point, STEP_TIMEOUT, "the same mask again")

        # Accept it (the mask goes with its box), reject the rest, reviewed.
        x.key("Escape", "a")  # Escape: back to the box tool; the box stays selected
        wait_for(lambda: db.count(path, "accepted") == 1, 30, "the box accepted")
        x.key("shift+r")
        wait_for(lambda: db.count(path, "pending") == 0, 30, "the other boxes rejected")
        screenshot = x.screenshot(tmp_path / "review-masks.png")
        x.key("space")
        wait_for(lambda: db.states()[path] == "reviewed", 30, "astronaut.png reviewed")

        x.key("ctrl+e")
        export = x.wait_window(app.pid, "^Export dataset$")
        wait_for(lambda: x.focused() == export, 30, "the export dialog to take the focus")
        x.key("alt+m", "r", "Return")  # Masks: RLE (exact pixels), then Export
        out = folder / "export" / "annotations" / "instances_train.json"
        wait_for(out.exists, STEP_TIMEOUT, f"{out} written")
        wait_for(lambda: x.focused() == main, 30, "the focus back on the main window")
        x.key("ctrl+q")
        assert app.wait(STEP_TIMEOUT) == 0
    finally:
        stop_app(app, tmp_path)

    target = os.environ.get("GROUNDLABEL_SCREENSHOT_MASKS")
    if target:
        shutil.copy(screenshot, target)

    # Both point edits were the same single negative point on the refined box.
    (box_a, points_a), (box_b, points_b) = logged_points(log)
    assert box_a == box_b == box_id and points_a == points_b and len(points_a) == 1 and points_a[0][2] == 0
    (status, x0, y0, x1, y1, mask_text), *_ = db.rows(
        "SELECT status, x0, y0, x1, y1, mask FROM boxes WHERE id = ?", box_id
    )
    assert status == "accepted" and mask_text == first_point

    from pycocotools import mask as coco_mask

    document = json.loads(out.read_text())
    (image,) = [i for i in document["images"] if i["file_name"] == path]
    (annotation,) = [a for a in document["annotations"] if a["image_id"] == image["id"]]
    segmentation = annotation["segmentation"]  # compressed RLE: the export's "RLE (exact pixels)"
    assert isinstance(segmentation, dict) and isinstance(segmentation["counts"], str)
    assert segmentation["size"] == [image["height"], image["width"]]
    exported = coco_mask.decode({**segmentation, "counts": segmentation["counts"].encode()}).astype(bool)
    assert annotation["area"] == pytest.approx(float(exported.sum()))

    reference = sam_reference.mask(
        folder / path, (x0, y0, x1, y1), [(px, py) for px, py, _ in points_a], [lab for _, _, lab in points_a]
    )
    assert 0 < reference.mean() < 1
    assert np.array_equal(exported, reference)
    refined_alone = sam_reference.mask(folder / path, (x0, y0, x1, y1))
    assert not np.array_equal(refined_alone, reference)  # the negative point changed the mask
