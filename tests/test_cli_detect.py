"""`groundlabel detect` end to end, as a user runs it, and its error messages."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from groundlabel.errors import ModelLoadError
from groundlabel.model_loading import load_model

PHOTOS = Path(__file__).resolve().parents[1] / "assets" / "reference" / "photos"


def run_cli(*args: str, env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    import os

    env = {**os.environ, **(env_extra or {})}
    return subprocess.run(
        [sys.executable, "-m", "groundlabel", *args], capture_output=True, text=True, env=env, timeout=300
    )


@pytest.fixture
def nested_folder(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    (root / "sub").mkdir(parents=True)
    Image.open(PHOTOS / "chelsea.png").save(root / "cat.png")
    Image.open(PHOTOS / "astronaut.png").convert("RGB").save(root / "sub" / "astro.jpg")
    (root / "sub" / "broken.png").write_bytes(b"\x89PNG not really")
    return root


def test_detect_writes_coco_and_reports_failures(tiny_model_dir, nested_folder, tmp_path):
    out = tmp_path / "pred.json"
    done = run_cli(
        "detect", str(nested_folder), "--labels", "cat, remote control=remote|tv remote",
        "--model", str(tiny_model_dir), "--device", "cpu", "--box-threshold", "0.3", "-o", str(out),
    )  # fmt: skip
    assert done.returncode == 1, done.stderr  # one image failed, after the others were done
    assert "Traceback" not in done.stderr
    assert "sub/broken.png" in done.stderr and "2 image(s)" in done.stderr
    coco = json.loads(out.read_text())
    assert [c["name"] for c in coco["categories"]] == ["cat", "remote control"]
    assert [c["id"] for c in coco["categories"]] == [1, 2]
    assert [(i["id"], i["file_name"], i["width"], i["height"]) for i in coco["images"]] == [
        (1, "cat.png", 451, 300),
        (2, "sub/astro.jpg", 512, 512),
    ]
    annotations = coco["annotations"]
    assert annotations and [a["id"] for a in annotations] == list(range(1, len(annotations) + 1))
    for a in annotations:
        x, y, w, h = a["bbox"]
        image = coco["images"][a["image_id"] - 1]
        assert x >= 0 and y >= 0 and x + w <= image["width"] + 1e-3 and y + h <= image["height"] + 1e-3
        assert a["area"] == pytest.approx(w * h) and a["iscrowd"] == 0 and 0.3 < a["score"] <= 1
        assert a["category_id"] in (1, 2)


def test_images_without_boxes_are_listed(tiny_model_dir, tmp_path):
    out = tmp_path / "pred.json"
    done = run_cli(
        "detect", str(PHOTOS / "chelsea.png"), "--labels", "cat", "--model", str(tiny_model_dir),
        "--box-threshold", "1.0", "-o", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    coco = json.loads(out.read_text())
    assert coco["images"][0]["file_name"] == "chelsea.png" and coco["annotations"] == []


def test_model_not_cached_and_offline_is_one_clear_line(tmp_path):
    done = run_cli(
        "detect", str(PHOTOS / "chelsea.png"), "--labels", "cat", "-o", str(tmp_path / "p.json"),
        env_extra={"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")},
    )  # fmt: skip
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("groundlabel: error")]
    assert len(lines) == 1
    assert "IDEA-Research/grounding-dino-tiny" in lines[0] and "--model PATH" in lines[0]
    assert "hf download" in lines[0]


def test_unreachable_hub_fails_fast_with_the_same_advice(tmp_path):
    done = run_cli(
        "detect", str(PHOTOS / "chelsea.png"), "--labels", "cat", "-o", str(tmp_path / "p.json"),
        env_extra={"HF_HUB_OFFLINE": "0", "HF_HOME": str(tmp_path / "hf"), "HF_ENDPOINT": "http://127.0.0.1:9"},
    )  # fmt: skip
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "cannot be reached" in done.stderr and "--model PATH" in done.stderr


def test_bad_labels_exit_2_without_traceback(tiny_model_dir, tmp_path):
    done = run_cli(
        "detect", str(PHOTOS), "--labels", "cat, cat", "--model", str(tiny_model_dir), "-o", "x.json"
    )
    assert done.returncode == 2 and "listed twice" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("variable", "value", "command"),
    [
        ("GROUNDLABEL_BOX_THRESHOLD", "high", "detect"),
        ("GROUNDLABEL_TEXT_THRESHOLD", "1.5", "serve"),
        ("GROUNDLABEL_DTYPE", "fp8", "detect"),
        ("GROUNDLABEL_PORT", "http", "serve"),
    ],
)
def test_bad_environment_default_names_the_variable(variable, value, command, tmp_path):
    args = (
        ["detect", str(PHOTOS), "--labels", "cat", "-o", str(tmp_path / "p.json")]
        if command == "detect"
        else ["serve"]
    )
    done = run_cli(*args, env_extra={variable: value})
    assert done.returncode == 2
    assert variable in done.stderr and value in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "p.json").exists()


def test_an_explicit_option_overrides_a_bad_environment_default(tiny_model_dir, tmp_path):
    out = tmp_path / "p.json"
    done = run_cli(
        "detect",
        str(PHOTOS),
        "--labels",
        "cat",
        "--model",
        str(tiny_model_dir),
        "-o",
        str(out),
        "--box-threshold",
        "0.3",
        env_extra={"GROUNDLABEL_BOX_THRESHOLD": "high"},
    )
    assert done.returncode == 0, done.stderr
    assert out.exists()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"model": "/no/such/dir"}, "does not exist"),
        ({"device": "cuda"}, "no CUDA GPU"),
        ({"device": "tpu9"}, "unknown device"),
        ({"dtype": "fp16", "device": "cpu"}, "needs a CUDA device"),
    ],
)
def test_model_loading_errors_say_what_to_do(tiny_model_dir, kwargs, message):
    kwargs = {"model": str(tiny_model_dir), **kwargs}
    with pytest.raises(ModelLoadError, match=message):
        load_model(**kwargs)


def test_directory_without_config_is_explained(tmp_path):
    with pytest.raises(ModelLoadError, match=r"config\.json"):
        load_model(str(tmp_path))
