"""The reviewer as its own process on a virtual display, for the real-window tests.

``tests/test_desktop_real_window.py`` (boxes, keyboard, quitting) and
``tests/test_desktop_real_window_masks.py`` (masks) drive ``groundlabel review`` the same way:
a folder of photos, the app started on an ``XSession`` (conftest's ``xsession`` fixture), and
its project database read while it writes. The tests wait on that database and the app's log,
never on fixed sleeps.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

from PIL import Image, ImageOps
from xsession import XSession

STEP_TIMEOUT = 90  # seconds for one step: model loading and detection on a busy 2-core machine
PHOTOS = Path(__file__).resolve().parents[1] / "assets" / "reference" / "photos"


class ProjectDB:
    """Read-only queries on the app's project database while the app writes it."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / ".groundlabel" / "project.db"

    def rows(self, sql: str, *args: object) -> list[tuple]:
        if not self.path.exists():
            return []
        connection = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=10)
        try:
            return connection.execute(sql, args).fetchall()
        except sqlite3.OperationalError:  # the app is still creating the schema
            return []
        finally:
            connection.close()

    def classes(self) -> list[tuple[str, tuple[str, ...]]]:
        return [
            (n, tuple(json.loads(a)))
            for n, a in self.rows("SELECT name, aliases FROM classes ORDER BY position")
        ]

    def states(self) -> dict[str, str]:
        return dict(self.rows("SELECT path, state FROM images"))

    def statuses(self, path: str) -> list[str]:
        return [
            s
            for (s,) in self.rows(
                "SELECT b.status FROM boxes b JOIN images i ON i.id = b.image_id WHERE i.path = ?", path
            )
        ]

    def count(self, path: str, status: str) -> int:
        return self.statuses(path).count(status)


def make_folder(root: Path) -> Path:
    """Three photos: the two reference ones and a mirrored copy."""
    folder = root / "photos"
    folder.mkdir()
    for photo in PHOTOS.glob("*.png"):
        shutil.copy(photo, folder / photo.name)
    with Image.open(PHOTOS / "chelsea.png") as image:
        ImageOps.mirror(image).save(folder / "kitten.png")
    return folder


def start_app(
    x: XSession,
    folder: Path,
    model: Path,
    tmp_path: Path,
    *review_args: str,
    verbose: bool = False,
    native: bool = False,
    env: dict[str, str] | None = None,
    new_session: bool = False,
) -> subprocess.Popen:
    """``groundlabel [-v] review FOLDER --model MODEL [ARGS]`` on the virtual display, settings
    in ``tmp_path``, its output in ``tmp_path/app.log``.

    ``native=False`` sets ``GROUNDLABEL_NO_NATIVE`` (tiny model: the kernel build is not the
    point); ``new_session`` puts the app in a process group of its own (to find its children).
    """
    full_env = x.env()
    full_env.update(HF_HUB_OFFLINE="1", GROUNDLABEL_NO_NATIVE="1")
    if native:
        full_env.pop("GROUNDLABEL_NO_NATIVE")
    full_env.update(env or {})
    command = [sys.executable, "-m", "groundlabel", *(["-v"] if verbose else []), "review", str(folder)]
    command += ["--model", str(model), *review_args, "--settings", str(tmp_path / "settings.ini")]
    with (tmp_path / "app.log").open("w") as log:
        return subprocess.Popen(
            command,
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
            start_new_session=new_session,
        )


def stop_app(app: subprocess.Popen, tmp_path: Path) -> None:
    """Kill the app if it still runs (by its PID) and print the end of its log for the report."""
    if app.poll() is None:
        app.kill()
        app.wait(10)
    print((tmp_path / "app.log").read_text()[-4000:])
