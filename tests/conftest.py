"""Shared fixtures, each built once per run: tiny random checkpoints saved and loaded like real
weights, and one real Label Studio for every module that needs one."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
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
# The suite holds commands and servers to the fp32 transformers reference, so their default
# precision is fp32 here (GROUNDLABEL_DTYPE, which every --dtype reads): on a bf16 CPU `auto`
# would run SAM and RT-DETRv2 in bf16. tests/test_bf16_autocast.py runs `auto` and `bf16` by name.
os.environ["GROUNDLABEL_DTYPE"] = "fp32"

REPO_ROOT = Path(__file__).resolve().parents[1]
PHOTOS = REPO_ROOT / "assets" / "reference" / "photos"


def xdist_group_of(item: pytest.Item) -> str | None:
    """The worker group a test must share with others when the run is spread over processes
    (``pytest -n 2``, pytest-xdist's ``loadgroup``), or None where any worker will do.

    What a group shares is built once per worker, so the tests that need the run's one Label
    Studio server, the readers venv, or a local Ray cluster each go to one worker: the other
    worker runs everything else meanwhile instead of installing a second copy. A module whose
    module-scoped fixture is costly (a kernel build, a training run) says ``ONE_WORKER = True``
    and its tests stay together, so that fixture runs once, not once per worker.
    """
    if item.get_closest_marker("labelstudio"):
        return "labelstudio"
    if getattr(item.module, "ONE_WORKER", False):
        return f"module-{item.module.__name__}"
    fixtures = getattr(item, "fixturenames", ())
    if "readers_venv" in fixtures:
        return "readers-venv"
    words = item.module.__name__.rsplit(".", 1)[-1].split("_") + item.name.split("[")[0].split("_")
    if "ray" in words:
        return "ray"
    return None


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist's own hook, which reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every Label Studio test is also ``slow``: the run's one server costs about 2 minutes to
    install and start, and each of those tests drives it for tens of seconds. Tests that share
    a costly session resource get an ``xdist_group`` (see ``xdist_group_of``)."""
    for item in items:
        if item.get_closest_marker("labelstudio"):
            item.add_marker(pytest.mark.slow)
        group = xdist_group_of(item)
        if group is not None and config.pluginmanager.hasplugin("xdist"):
            item.add_marker(pytest.mark.xdist_group(group))


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


@pytest.fixture(scope="session")
def closed_set_model(tmp_path_factory: pytest.TempPathFactory):
    """``closed_set_model("d-fine")``: a tiny random closed-set checkpoint of that architecture with
    the synthetic shapes' classes, as ``groundlabel train`` saves one; once per run."""
    from groundlabel.devtools.random_closed_set import save_random_closed_set

    saved: dict[str, Path] = {}

    def get(arch: str = "rt-detr-v2") -> Path:
        if arch not in saved:
            saved[arch] = save_random_closed_set(tmp_path_factory.mktemp(arch) / "model", arch)
        return saved[arch]

    return get


@pytest.fixture(scope="session")
def segmenter_model(tmp_path_factory: pytest.TempPathFactory):
    """``segmenter_model("sam")``: a tiny random mask model (``sam``, ``sam_hq``, ``sam2``), saved
    once per run. Tests only read it: one that changes a checkpoint copies it first."""
    from groundlabel.devtools.random_segmenters import save_random_segmenter

    saved: dict[str, Path] = {}

    def get(family: str) -> Path:
        if family not in saved:
            # named after the family: the backend's model version shows it ("+sam")
            saved[family] = save_random_segmenter(family, tmp_path_factory.mktemp(family) / family)
        return saved[family]

    return get


@pytest.fixture(scope="session")
def sam_dir(segmenter_model) -> Path:
    """The tiny random SAM every mask test shares."""
    return segmenter_model("sam")


@pytest.fixture(scope="session")
def sam_reference(sam_dir: Path):
    """The transformers reference SAM on ``sam_dir`` (``sam_reference.ReferenceSam``)."""
    from sam_reference import ReferenceSam

    return ReferenceSam(sam_dir)


@pytest.fixture
def make_window(qtbot, tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch):
    """Opens the desktop main window on the tiny model (or ``model``), preferences in a temp file."""
    from desktop_helpers import show_main_window

    def make(model: str | None = None):
        return show_main_window(
            qtbot, monkeypatch, tmp_path / "prefs.ini", model or str(tiny_model_dir), size=(1000, 700)
        )

    return make


@pytest.fixture(scope="session")
def readers_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The python of the test-only readers venv (torchvision, Ultralytics: ``readers_venv``),
    installed once per run on first use (about 40 s) and shared by every module that reads
    an export or computes a reference with them."""
    from readers_venv import readers_python

    return readers_python(tmp_path_factory.mktemp("readers-venv"))


@pytest.fixture(scope="session")
def label_studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """One real Label Studio 1.23.2 for the whole run, on 127.0.0.1 (``labelstudio_server``).

    Installed (about 90 s) and started (30-45 s of migrations) on the first test that asks for
    it, stopped by its PID when the run ends. ``GROUNDLABEL_TEST_LABEL_STUDIO_CACHE`` (set by
    ``.ci/run``) may name the Docker step's per-machine venv and migrated data folder: when both
    are there, the server starts from a copy of them, and the cache is only read. Each test works in projects of its own and sets
    the organisation-wide settings it relies on (``set_legacy_tokens``) itself.
    """
    from labelstudio_server import cached_label_studio, install_label_studio, start_label_studio

    base = tmp_path_factory.mktemp("label-studio")
    cached = cached_label_studio(os.environ.get("GROUNDLABEL_TEST_LABEL_STUDIO_CACHE"), base / "run")
    server = cached or start_label_studio(install_label_studio(base), base)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def xsession():
    """A virtual X display (``xsession.XSession``) for the real-window tests, stopped after the test.

    Without Xvfb/xdotool the test is skipped, unless ``GROUNDLABEL_REQUIRE_XVFB=1`` (set by
    ``.ci/run``, which installs them) makes that a failure.
    """
    from xsession import XSession, missing_tools

    missing = missing_tools()
    if missing:
        message = f"needs {', '.join(missing)} (apt-get install xvfb xdotool; see .ci/run)"
        if os.environ.get("GROUNDLABEL_REQUIRE_XVFB") == "1":
            pytest.fail(message)
        pytest.skip(message)
    session = XSession(1280, 800)
    try:
        yield session
    finally:
        session.close()
