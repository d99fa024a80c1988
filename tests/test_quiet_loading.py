"""A local or cached model loads without transformers' "Loading weights" bar, and the library's
progress-bar settings are left as they were (a library user's choice stands)."""

from __future__ import annotations

import pytest
from huggingface_hub.utils import are_progress_bars_disabled
from transformers.utils import logging as hf_logging


@pytest.fixture(params=[True, False], ids=["bars-on", "bars-off"])
def bars_enabled(request):
    """Each test runs with transformers' (and the hub's) bars on, then off, and restores them."""
    was = hf_logging.is_progress_bar_enabled()
    (hf_logging.enable_progress_bar if request.param else hf_logging.disable_progress_bar)()
    yield request.param
    (hf_logging.enable_progress_bar if was else hf_logging.disable_progress_bar)()


def _check(capfd, bars_enabled: bool) -> None:
    err = capfd.readouterr().err
    assert "Loading weights" not in err
    assert hf_logging.is_progress_bar_enabled() is bars_enabled
    assert are_progress_bars_disabled() is not bars_enabled


def test_a_local_detector_loads_without_the_bar(tiny_model_dir, capfd, bars_enabled):
    from groundlabel.model_loading import load_model

    capfd.readouterr()
    load_model(str(tiny_model_dir), device="cpu")
    _check(capfd, bars_enabled)


def test_a_local_segmenter_loads_without_the_bar(segmenter_model, capfd, bars_enabled):
    from groundlabel.segmenters.base import load_segmenter

    capfd.readouterr()
    load_segmenter(str(segmenter_model("sam")), device="cpu")
    _check(capfd, bars_enabled)


def test_the_bar_is_what_the_check_would_see(tiny_model_dir, capfd):
    """The same load through plain from_pretrained prints the bar: the check above can fail."""
    from transformers import AutoModelForZeroShotObjectDetection

    was = hf_logging.is_progress_bar_enabled()
    hf_logging.enable_progress_bar()
    try:
        capfd.readouterr()
        AutoModelForZeroShotObjectDetection.from_pretrained(str(tiny_model_dir), local_files_only=True)
        assert "Loading weights" in capfd.readouterr().err
    finally:
        (hf_logging.enable_progress_bar if was else hf_logging.disable_progress_bar)()


def _loaded_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("groundlabel: loaded ")]


def test_each_command_says_in_one_line_what_it_loaded(tiny_model_dir, segmenter_model, tmp_path, capsys):
    """One line per model ("loaded NAME (FAMILY) on DEVICE, DTYPE"), none under -q, details under -v."""
    from PIL import Image

    from groundlabel.cli import main

    (tmp_path / "images").mkdir()
    Image.new("RGB", (96, 64), (200, 120, 40)).save(tmp_path / "images" / "small.png")
    sam = segmenter_model("sam")
    argv = ["detect", str(tmp_path / "images"), "--labels", "cat", "--model", str(tiny_model_dir),
            "--masks", str(sam), "--device", "cpu", "-o", str(tmp_path / "boxes.json")]  # fmt: skip
    assert main(argv) == 0
    assert _loaded_lines(capsys.readouterr().err) == [
        f"groundlabel: loaded {tiny_model_dir.name} (grounding-dino) on cpu, fp32",
        f"groundlabel: loaded {sam.name} (sam) on cpu, fp32",
    ]
    assert main(["-q", *argv]) == 0
    assert _loaded_lines(capsys.readouterr().err) == []
    assert main(["-v", *argv]) == 0
    detailed = _loaded_lines(capsys.readouterr().err)
    assert len(detailed) == 2 and f"M parameters, from {tiny_model_dir})" in detailed[0]


def test_a_library_caller_is_not_printed_to(tiny_model_dir, capsys, caplog):
    """Outside the CLI the line is a log record at INFO, shown only by the caller's logging set-up."""
    import logging

    from groundlabel.model_loading import load_model

    with caplog.at_level(logging.INFO, logger="groundlabel.announce"):
        load_model(str(tiny_model_dir), device="cpu")
    assert _loaded_lines(capsys.readouterr().err) == []
    assert any(
        f"loaded {tiny_model_dir.name} (grounding-dino) on cpu, fp32" in r.message for r in caplog.records
    )


def test_a_model_load_waits_while_another_thread_loads():
    """Two ``from_pretrained`` at once on two threads left meta tensors: every cache or folder
    load runs inside ``no_loading_bar``, which waits for the process-wide load lock."""
    import threading

    from groundlabel.model_loading import FROM_PRETRAINED_LOCK, no_loading_bar

    held, release, done = threading.Event(), threading.Event(), threading.Event()

    def other_load() -> None:
        with FROM_PRETRAINED_LOCK:
            held.set()
            release.wait(60)

    def load() -> None:
        with no_loading_bar():
            done.set()

    other = threading.Thread(target=other_load)
    other.start()
    assert held.wait(10)
    loader = threading.Thread(target=load)
    loader.start()
    try:
        assert not done.wait(1), "a load ran while another thread held the load lock"
    finally:
        release.set()
        other.join(10)
    loader.join(10)
    assert done.is_set()
