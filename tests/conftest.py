"""Shared fixtures: a tiny random Grounding DINO saved and loaded like real weights."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Tests never reach the hub: a model that is not local must fail, not download.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO_ROOT = Path(__file__).resolve().parents[1]
PHOTOS = REPO_ROOT / "assets" / "reference" / "photos"


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
