"""A YOLO export still trains after it is moved: Ultralytics finds it from data.yaml's folder (issue 18)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from test_formats import export
from test_project_helpers import make_review_folder

pytestmark = pytest.mark.slow  # Ultralytics (readers venv) reads a moved export

# Ultralytics' own dataset check, as ``yolo train data=...`` runs it, from an unrelated working directory.
CHECK = (
    "import json, sys; from ultralytics.data.utils import check_det_dataset;"
    "d = check_det_dataset(sys.argv[1], autodownload=False);"
    "print('DATASET-JSON ' + json.dumps({k: str(d[k]) for k in ('path', 'train', 'val')}))"
)


def test_moved_yolo_export_is_found_by_ultralytics(tmp_path: Path, readers_venv, tmp_path_factory) -> None:
    folder = tmp_path / "images"
    make_review_folder(folder)
    laptop = tmp_path / "laptop" / "yolo"
    export(folder, "yolo", laptop, mode="copy")
    assert "path" not in yaml.safe_load((laptop / "data.yaml").read_text())

    trainer = tmp_path / "training-machine" / "datasets" / "mine"
    trainer.parent.mkdir(parents=True)
    shutil.copytree(laptop, trainer)
    shutil.rmtree(tmp_path / "laptop")  # the usual move: copied elsewhere, the original removed

    root = tmp_path_factory.mktemp("yolo-moved")
    python = readers_venv
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "YOLO_CONFIG_DIR": str(root / "yolo-config"), "YOLO_OFFLINE": "1", "HOME": str(root)}
    run = subprocess.run(
        [str(python), "-c", CHECK, str(trainer / "data.yaml")],
        capture_output=True, text=True, env=env, timeout=300, cwd=elsewhere,
    )  # fmt: skip
    line = next((x for x in run.stdout.splitlines() if x.startswith("DATASET-JSON ")), None)
    assert line, run.stdout[-3000:] + run.stderr[-3000:]
    found = json.loads(line.removeprefix("DATASET-JSON "))
    assert Path(found["train"]).resolve() == (trainer / "images" / "train").resolve()
    assert Path(found["val"]).resolve().is_relative_to(trainer.resolve())
