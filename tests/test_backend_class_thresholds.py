"""`groundlabel serve --class-thresholds`: per-class cuts matched to label values and aliases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from groundlabel.backend.app import create_app
from groundlabel.backend.predictor import Predictor
from groundlabel.backend.settings import BackendSettings
from groundlabel.backend.task_images import TaskImageFetcher

from groundlabel.class_thresholds import ClassThresholds
from groundlabel.cli import main
from groundlabel.detector import DetectionSettings

CONFIG = """
<View>
  <Image name="image" value="$image"/>
  <RectangleLabels name="label" toName="image">
    <Label value="Cat" predicted_values="cat,kitten"/>
    <Label value="remote control"/>
  </RectangleLabels>
</View>
"""
TASKS = [{"id": n, "data": {"image": f"/data/local-files/?d=photos/{name}"}} for n, name in
         enumerate(("chelsea.png", "astronaut.png"))]  # fmt: skip
GLOBAL = 0.9


def regions(predictor: Predictor, settings: BackendSettings) -> tuple[list[list[tuple[str, float]]], str]:
    with TestClient(create_app(predictor, settings)) as client:
        body = {"tasks": TASKS, "label_config": CONFIG, "project": "1.1"}
        results = client.post("/predict", json=body).json()["results"]
    found = [
        sorted((r["value"]["rectanglelabels"][0], r["score"]) for r in entry["result"]) for entry in results
    ]
    return found, results[0]["model_version"]


def test_thresholds_match_aliases_and_values_and_change_the_version(tiny_detector, photo_dir: Path) -> None:
    settings = BackendSettings(local_files_root=photo_dir.parent.resolve())
    fetcher = TaskImageFetcher(settings)
    everything, _ = regions(Predictor(tiny_detector, DetectionSettings(0.0, 0.0), fetcher), settings)
    cats = sorted(s for entry in everything for name, s in entry if name == "Cat" and s < GLOBAL)
    cut = round((cats[len(cats) // 2 - 1] + cats[len(cats) // 2]) / 2, 6)
    plain = Predictor(tiny_detector, DetectionSettings(GLOBAL, 0.0), fetcher)
    # "kitten" is an alias of Cat; "REMOTE CONTROL" differs from the label value only in case.
    thresholds = ClassThresholds.from_mapping({"kitten": cut, "REMOTE CONTROL": 1.0, "absent": 0.1})
    cutting = Predictor(tiny_detector, DetectionSettings(GLOBAL, 0.0), fetcher, thresholds)
    got, version = regions(cutting, settings)
    expected = [sorted((n, s) for n, s in entry if n == "Cat" and s >= cut) for entry in everything]
    assert [[n for n, _ in e] for e in got] == [[n for n, _ in e] for e in expected]
    assert [s for e in got for _, s in e] == pytest.approx([s for e in expected for _, s in e], abs=1e-6)
    assert any(s < GLOBAL for e in got for _, s in e), "a class threshold below the global one lets boxes in"
    assert version == cutting.model_version != plain.model_version
    same = Predictor(tiny_detector, DetectionSettings(GLOBAL, 0.0), fetcher, ClassThresholds.from_mapping(
        {"REMOTE CONTROL": 1.0, "absent": 0.1, "kitten": cut}))  # fmt: skip
    assert same.model_version == cutting.model_version
    nothing = Predictor(tiny_detector, DetectionSettings(GLOBAL, 0.0), fetcher, ClassThresholds({"a": None}))
    assert nothing.model_version == plain.model_version


def test_serve_rejects_a_bad_thresholds_file_in_one_line(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "t.json"
    bad.write_text(json.dumps({"Cat": "high"}))
    assert main(["serve", "--class-thresholds", str(bad), "--model", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err
    assert "threshold of class 'Cat' is 'high'" in err and "Traceback" not in err
