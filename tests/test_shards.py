"""``detect -o DIR/`` without Ray: shards, refusing to mix runs, resuming."""

from __future__ import annotations

import json

from groundlabel.cli import main
from groundlabel.formats.shards import MANIFEST, read_shards


def test_sharded_output_refuses_other_settings_and_resumes(tiny_model_dir, photo_dir, tmp_path, capsys):
    out = tmp_path / "out"
    args = ["detect", str(photo_dir), "-l", "cat, person", "--model", str(tiny_model_dir), "-o", f"{out}/"]
    assert main([*args, "--box-threshold", "0.1"]) == 0
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["classes"] == ["cat", "person"] and manifest["box_threshold"] == 0.1
    dataset = read_shards(out)
    assert sorted(i.file_name for i in dataset.images) == ["astronaut.png", "chelsea.png"]
    assert any(i.boxes for i in dataset.images) and all(
        b.score > 0.1 for i in dataset.images for b in i.boxes
    )

    capsys.readouterr()
    assert main([*args, "--box-threshold", "0.1"]) == 2
    assert "already holds groundlabel output: pass --resume" in capsys.readouterr().err
    assert main([*args, "--box-threshold", "0.2", "--resume"]) == 2
    assert "box_threshold differ" in capsys.readouterr().err
    assert main([*args, "--box-threshold", "0.1", "--resume"]) == 0
    assert "0 image(s), 0 box(es), 0 failed, 2 already done" in capsys.readouterr().err
    assert len(read_shards(out).images) == 2
