"""The reviewer as a person uses it: a real X window (Xvfb), real key events (xdotool).

``groundlabel review FOLDER`` runs as its own process on a virtual display with the xcb
platform, the same as on a desktop. Every step is a key press through XTEST; the test
waits on the project database, never on fixed sleeps, and checks the database and the
exported COCO file at the end. ``.ci/run`` installs Xvfb, xdotool and the xcb libraries;
without them the test is skipped, unless ``GROUNDLABEL_REQUIRE_XVFB=1`` (set by CI), where
that is a failure.

``GROUNDLABEL_SCREENSHOT=docs/images/review.png`` also saves the screen mid-review: the
README's screenshot.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path

import pytest
from PIL import Image
from real_window import STEP_TIMEOUT, ProjectDB, make_folder, start_app, stop_app
from xsession import wait_for

pytestmark = pytest.mark.gui

CLASS_LIST = "cup=mug, spoon, saucer=plate|dish"


def test_missing_model_blocks_nothing_in_a_real_window(xsession, tmp_path):
    """The model folder does not exist: no modal box; review by hand and Ctrl+Q work."""
    folder = make_folder(tmp_path)
    db = ProjectDB(folder)
    x = xsession
    app = start_app(x, folder, tmp_path / "no-such-model", tmp_path)
    try:
        main = x.wait_window(app.pid, "^groundlabel review", timeout=STEP_TIMEOUT)
        wait_for(lambda: len(db.states()) == 3, STEP_TIMEOUT, "the folder's three images in the project")
        log = tmp_path / "app.log"
        wait_for(lambda: "model not loaded" in log.read_text(), STEP_TIMEOUT, "the model to fail")
        assert x.windows(app.pid, "^groundlabel$") == []  # no message box
        wait_for(lambda: x.focused() == main, 30, "the main window to keep the keyboard focus")
        x.key("space")  # nothing to keep on astronaut.png: reviewed-empty, on to the next
        wait_for(lambda: db.states()["astronaut.png"] == "reviewed-empty", 30, "astronaut.png reviewed")
        x.key("ctrl+q")
        assert app.wait(STEP_TIMEOUT) == 0
    finally:
        stop_app(app, tmp_path)


def test_real_window_from_folder_to_coco_by_keyboard(xsession, tiny_model_dir, tmp_path):
    folder = make_folder(tmp_path)
    db = ProjectDB(folder)
    x = xsession
    app = start_app(x, folder, tiny_model_dir, tmp_path)
    try:
        # Open a folder: the argument opens it; the window gets the keyboard (no window manager here).
        main = x.wait_window(app.pid, "^groundlabel review", timeout=STEP_TIMEOUT)
        wait_for(lambda: len(db.states()) == 3, STEP_TIMEOUT, "the folder's three images in the project")
        wait_for(lambda: x.focused() == main, 30, "the main window to take the keyboard focus")

        # Type a class list into the dialog, exactly as the CLI's --labels reads it.
        x.key("ctrl+l")
        dialog = x.wait_window(app.pid, "^Add classes$")
        wait_for(lambda: x.focused() == dialog, 30, "the class dialog to take the focus")
        x.type(CLASS_LIST)
        x.key("Return")
        expected = [("cup", ("mug",)), ("spoon", ()), ("saucer", ("plate", "dish"))]
        wait_for(lambda: db.classes() == expected, STEP_TIMEOUT, f"the classes {expected}")
        wait_for(lambda: x.focused() == main, 30, "the focus back on the main window")

        # Detect all with the tiny model (queued until the model has loaded).
        x.key("ctrl+alt+d")
        wait_for(lambda: set(db.states().values()) == {"predicted"}, STEP_TIMEOUT, "every image predicted")
        assert all(db.count(p, "pending") >= 2 for p in db.states()), "the tiny model gives boxes"

        # Review with Tab, A, R (Shift+R) and Space. The image and its boxes load on a worker thread, so
        # Tab+A is repeated until a box is accepted (each round accepts at most one box).
        def accept_one(path: str) -> None:
            for _ in range(20):
                x.key("Tab", "a")
                try:
                    wait_for(lambda: db.count(path, "accepted") == 1, 3, f"a box accepted on {path}")
                    return
                except AssertionError:
                    continue
            raise AssertionError(f"Tab, A never accepted a box on {path}")

        accept_one("astronaut.png")
        x.key("Tab", "r")
        wait_for(lambda: db.count("astronaut.png", "rejected") == 1, 30, "a box rejected")
        x.key("shift+r")  # reject the rest: they stay on screen, dimmed
        wait_for(lambda: db.count("astronaut.png", "pending") == 0, 30, "the other boxes rejected")
        screenshot = x.screenshot(tmp_path / "review.png")
        x.key("space")
        wait_for(lambda: db.states()["astronaut.png"] == "reviewed", 30, "astronaut.png reviewed")
        accept_one("chelsea.png")
        x.key("space")
        wait_for(lambda: db.states()["chelsea.png"] == "reviewed", 30, "chelsea.png reviewed")
        x.key("space")  # kitten.png: nothing accepted, so reviewed-empty
        wait_for(lambda: db.states()["kitten.png"] == "reviewed-empty", 30, "kitten.png reviewed-empty")

        # Export COCO with Ctrl+E: the dialog opens on COCO into FOLDER/export; Return exports.
        x.key("ctrl+e")
        export = x.wait_window(app.pid, "^Export dataset$")
        wait_for(lambda: x.focused() == export, 30, "the export dialog to take the focus")
        x.key("Return")
        out = folder / "export" / "annotations" / "instances_train.json"
        wait_for(out.exists, STEP_TIMEOUT, f"{out} written")

        # Quit with Ctrl+Q.
        wait_for(lambda: x.focused() == main, 30, "the focus back on the main window")
        x.key("ctrl+q")
        assert app.wait(STEP_TIMEOUT) == 0
    finally:
        stop_app(app, tmp_path)

    target = os.environ.get("GROUNDLABEL_SCREENSHOT")
    if target:
        shutil.copy(screenshot, target)

    # The project, read back after the app has closed it.
    assert db.states() == {
        "astronaut.png": "reviewed",
        "chelsea.png": "reviewed",
        "kitten.png": "reviewed-empty",
    }
    astronaut = db.statuses("astronaut.png")
    assert astronaut.count("accepted") == 1 and astronaut.count("rejected") == len(astronaut) - 1
    assert db.statuses("chelsea.png").count("accepted") == 1
    assert "accepted" not in db.statuses("kitten.png")
    accepted = db.rows(
        "SELECT i.path, c.name, b.x0, b.y0, b.x1, b.y1 FROM boxes b JOIN images i ON i.id = b.image_id "
        "JOIN classes c ON c.id = b.class_id WHERE b.status = 'accepted' ORDER BY i.path"
    )

    # The exported file: reviewed images (the empty one as a negative), accepted boxes only.
    document = json.loads(out.read_text())
    assert [c["name"] for c in document["categories"]] == ["cup", "spoon", "saucer"]
    names = {i["id"]: i["file_name"] for i in document["images"]}
    assert sorted(names.values()) == ["astronaut.png", "chelsea.png", "kitten.png"]
    categories = {c["id"]: c["name"] for c in document["categories"]}
    exported = sorted(
        (names[a["image_id"]], categories[a["category_id"]], *a["bbox"]) for a in document["annotations"]
    )
    assert len(exported) == 2
    for (path, name, x0, y0, x1, y1), (e_path, e_name, bx, by, bw, bh) in zip(
        accepted, exported, strict=True
    ):
        assert (path, name) == (e_path, e_name)
        assert (bx, by, bw, bh) == pytest.approx((x0, y0, x1 - x0, y1 - y0), abs=1e-6)
    assert Image.open(screenshot).size == (1280, 800)


QUIT_BOUND_S = 10  # the window quits within 2 s; the bound only tells a hang from a slow machine


@pytest.mark.parametrize("how", ["ctrl+q", "sigterm-x2"])
def test_quitting_during_a_first_load_is_at_once_and_strands_nothing(xsession, tiny_model_dir, tmp_path, how):
    """The first start builds the native kernel while the model loads: Ctrl+Q, or two SIGTERMs 50 ms
    apart, must not wait for it, leave no compiler running, nor strand the next start (issue 18)."""
    import signal
    import time

    from groundlabel.inference.native import kernel_name

    folder = make_folder(tmp_path)
    db = ProjectDB(folder)
    extensions = tmp_path / "torch_extensions"  # a fresh one: this start builds the kernel
    x = xsession
    app = start_app(
        x, folder, tiny_model_dir, tmp_path, native=True,
        env={"TORCH_EXTENSIONS_DIR": str(extensions)}, new_session=True,
    )  # fmt: skip
    try:
        main = x.wait_window(app.pid, "^groundlabel review", timeout=STEP_TIMEOUT)
        wait_for(lambda: len(db.states()) == 3, STEP_TIMEOUT, "the folder's three images in the project")
        name = kernel_name()
        wait_for(
            lambda: any(extensions.glob(f"{name}.build-*/build.ninja")), STEP_TIMEOUT, "the kernel build"
        )
        wait_for(lambda: x.focused() == main, 30, "the main window to take the keyboard focus")
        x.key("space")  # an edit during the load: nothing to keep on astronaut.png
        wait_for(lambda: db.states()["astronaut.png"] == "reviewed-empty", 30, "astronaut.png reviewed")
        pressed = time.monotonic()
        if how == "ctrl+q":
            x.key("ctrl+q")
        else:
            app.send_signal(signal.SIGTERM)
            time.sleep(0.05)
            app.send_signal(signal.SIGTERM)
        code = app.wait(QUIT_BOUND_S)
        assert code == 0 if how == "ctrl+q" else code in (128 + signal.SIGTERM, -signal.SIGTERM)
        print(f"quit {time.monotonic() - pressed:.2f} s after {how}")
        # No compiler left behind in the app's process group (ninja was stopped with the app).
        wait_for(lambda: not compilers_in_group(app.pid), 30, "the compiler jobs to stop")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(app.pid, signal.SIGKILL)
        stop_app(app, tmp_path)
    assert db.states()["astronaut.png"] == "reviewed-empty"  # the edit made during the load is kept
    assert "Traceback" not in (tmp_path / "app.log").read_text()

    # The next start is not stranded: the build lock died with the app (a rebuild after an
    # interrupted one is tests/test_kernel_build.py's).
    import fcntl

    fd = os.open(extensions / f"{name}.lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(fd)


def compilers_in_group(pgid: int) -> list[str]:
    """Names of processes in process group ``pgid`` that are compilers or ninja."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            name, _, rest = stat.read_text().partition("(")[2].rpartition(")")
        except OSError:
            continue
        fields = rest.split()
        if len(fields) > 2 and fields[2] == str(pgid) and name in ("ninja", "c++", "cc1plus", "g++", "ld"):
            found.append(name)
    return found
