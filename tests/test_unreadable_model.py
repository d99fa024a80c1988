"""A model folder with a file this process may not read gets one line naming the file and the
permission, not hub advice ("run `hf download`"). The real case, a root-owned 0600 weight file
mounted into the uid-1000 container, is run in CI's Docker step (.ci/docker_check.py); tests here
run as root, for whom every file opens, so the denial is made where the file is opened."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from PIL import Image


@pytest.fixture
def denied(monkeypatch: pytest.MonkeyPatch):
    """``denied(folder)``: opening that folder's model.safetensors raises PermissionError, as for uid 1000."""
    real_open = Path.open

    def deny(folder: Path) -> Path:
        locked = folder / "model.safetensors"

        def open_(self: Path, *args, **kwargs):
            if self == locked:
                raise PermissionError(13, "Permission denied", str(self))
            return real_open(self, *args, **kwargs)

        monkeypatch.setattr(Path, "open", open_)
        return locked

    return deny


@pytest.mark.parametrize("kind", ["detector", "segmenter"])
def test_an_unreadable_weight_file_is_named_with_the_permission(
    kind, tiny_model_dir, segmenter_model, tmp_path, denied, capsys
):
    from groundlabel.cli import main

    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir if kind == "detector" else segmenter_model("sam"), model)
    locked = denied(model)
    (tmp_path / "images").mkdir()
    Image.new("RGB", (64, 48)).save(tmp_path / "images" / "small.png")
    argv = ["detect", str(tmp_path / "images"), "--labels", "cat", "-o", str(tmp_path / "out.json")]
    argv += (
        ["--model", str(model)]
        if kind == "detector"
        else ["--model", str(tiny_model_dir), "--masks", str(model)]
    )
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(f"groundlabel: error: cannot read {locked}: permission denied (")
    assert f"runs as uid {os.getuid()})" in err[-1]
    assert "hf download" not in err[-1] and "Traceback" not in "\n".join(err)
