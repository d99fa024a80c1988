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
