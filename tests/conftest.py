"""Shared fixtures: a tiny random Grounding DINO saved and loaded like real weights."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Tests never reach the hub: a model that is not local must fail, not download.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# Caches the code under test writes (the hub cache, the native kernel's build) go to a
# folder of this run, removed at the end: the suite leaves nothing in the user's home, and
# a real model in the user's cache cannot change what "not cached" tests see.
_RUN_DIR = Path(tempfile.mkdtemp(prefix="groundlabel-tests-"))
os.environ["HF_HOME"] = str(_RUN_DIR / "huggingface")
os.environ["TORCH_EXTENSIONS_DIR"] = str(_RUN_DIR / "torch_extensions")
os.environ["MPLCONFIGDIR"] = str(_RUN_DIR / "matplotlib")  # its font cache
os.environ["GROUNDLABEL_STATE_DIR"] = str(_RUN_DIR / "backend-state")  # the backend's queue

REPO_ROOT = Path(__file__).resolve().parents[1]
PHOTOS = REPO_ROOT / "assets" / "reference" / "photos"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    shutil.rmtree(_RUN_DIR, ignore_errors=True)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random model saved with save_pretrained and the real bert-base-uncased vocabulary."""
    from groundlabel.devtools.random_model import save_random_model

    return save_random_model(tmp_path_factory.mktemp("tiny-model") / "model")


@pytest.fixture(scope="session")
def tiny_detector(tiny_model_dir: Path):
    from groundlabel import Detector

    return Detector.load(str(tiny_model_dir), device="cpu")


@pytest.fixture
def photo_dir(tmp_path: Path) -> Path:
    """A writable folder holding the two reference photos."""
    folder = tmp_path / "photos"
    folder.mkdir()
    for photo in PHOTOS.glob("*.png"):
        shutil.copy(photo, folder / photo.name)
    return folder


@pytest.fixture(scope="session")
def family_model(tmp_path_factory: pytest.TempPathFactory):
    """``family_model("owlv2")``: a tiny random checkpoint of that family, saved once per run."""
    from groundlabel.devtools.random_model import save_random_model

    saved: dict[str, Path] = {}

    def get(family: str) -> Path:
        if family not in saved:
            saved[family] = save_random_model(tmp_path_factory.mktemp(family) / "model", family=family)
        return saved[family]

    return get


@pytest.fixture
def make_window(qtbot, tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch):
    """Opens the desktop main window on the tiny model (or ``model``), preferences in a temp file."""
    from desktop_helpers import show_main_window

    def make(model: str | None = None):
        return show_main_window(
            qtbot, monkeypatch, tmp_path / "prefs.ini", model or str(tiny_model_dir), size=(1000, 700)
        )

    return make
