"""``groundlabel train``: the known answer on synthetic shapes, checkpoints, resume, errors, report.

The known answer: a tiny RT-DETRv2 trained from scratch on CPU for a short run on the
synthetic shapes project must lower its loss and beat a fixed mAP@0.5 floor on val (a random
model scores about 0), with a fixed seed.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
import torch

from groundlabel import Detector, LabelSet
from groundlabel.cli import main as cli_main
from groundlabel.devtools.synthetic_shapes import SHAPE_CLASSES, write_shapes_project
from groundlabel.trainers.data import training_data
from groundlabel.trainers.loop import Hooks, TrainingInterrupted, TrainOptions, train

#: mAP@0.5 on val that the short run must beat (untrained: 0.0; this run reaches about 0.25).
MAP50_FLOOR = 0.1
SIZE = 64


def _options(folder: Path, output: Path, **changes) -> TrainOptions:
    settings = {
        "from_scratch": True, "config_file": Path("tiny"), "epochs": 2, "image_size": SIZE,
        "batch_size": 8, "lr": 2e-3, "device": "cpu", "seed": 0,
    }  # fmt: skip
    settings.update(changes)
    return TrainOptions(folder=folder, output=output, **settings)


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread: the same arithmetic on every machine, and no contention on a busy one."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


ONE_WORKER = True  # the known-answer training (``trained``) runs once, on one pytest-xdist worker


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Path:
    """Ten images, for the tests of checkpoints and errors (not of learning)."""
    return write_shapes_project(
        tmp_path_factory.mktemp("small") / "project", 10, seed=1, size=SIZE, max_shapes=1
    )


@pytest.fixture(scope="module")
def shapes(tmp_path_factory) -> Path:
    return write_shapes_project(
        tmp_path_factory.mktemp("shapes") / "project", 40, seed=0, size=SIZE, max_shapes=1
    )


@pytest.fixture(scope="module")
def trained(shapes, tmp_path_factory):
    """The known-answer run (shared by the tests that read what it wrote)."""
    out = tmp_path_factory.mktemp("trained") / "model"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # module-scoped, so before the autouse fixture
    try:
        return train(_options(shapes, out, epochs=KNOWN_ANSWER_EPOCHS), Hooks(show_progress=False))
    finally:
        torch.set_num_threads(threads)


KNOWN_ANSWER_EPOCHS = 32


@pytest.mark.slow  # trains (module fixture)
def test_a_tiny_model_learns_the_synthetic_shapes(trained):
    history = trained.history
    assert len(history) == KNOWN_ANSWER_EPOCHS
    assert min(r.loss for r in history[-3:]) < 0.5 * history[0].loss
    assert trained.best.map50 > MAP50_FLOOR, [round(r.map50, 3) for r in history]
    assert set(trained.per_class) == set(SHAPE_CLASSES)


@pytest.mark.slow  # trains (module fixture)
def test_the_trained_model_is_a_plain_save_pretrained_folder_detect_runs(trained, shapes):
    config = json.loads((trained.output / "config.json").read_text())
    assert config["model_type"] == "rt_detr_v2"
    assert [config["id2label"][str(i)] for i in range(3)] == list(SHAPE_CLASSES)
    detector = Detector.load(str(trained.output), device="cpu")
    image = sorted(shapes.glob("*.png"))[0]
    (result,) = detector.detect([image], LabelSet.parse(", ".join(SHAPE_CLASSES)), box_threshold=0.3)
    assert result.ok and result.boxes
    page = (trained.output / "train_report.html").read_text()
    assert "data:image/png;base64" in page and "AP@0.5" in page


@pytest.mark.slow  # trains (module fixture)
def test_groundlabel_report_shows_the_training(trained, shapes, tmp_path):
    out = tmp_path / "report.html"
    assert cli_main(["report", str(shapes), "-o", str(out)]) == 0
    page = out.read_text()
    assert f"Training: {trained.output}" in page
    assert "mAP@0.5" in page


def test_train_and_val_are_the_images_export_puts_there(shapes, tmp_path):
    data = training_data(shapes, "train=0.8,val=0.2", seed=3)
    assert cli_main(["export", str(shapes), "-f", "coco", "-o", str(tmp_path / "x"), "--split", "train=0.8,val=0.2",
                     "--seed", "3", "--images", "none"]) == 0  # fmt: skip
    val = json.loads(next((tmp_path / "x").rglob("*val*.json")).read_text())
    assert sorted(Path(i["file_name"]).name for i in val["images"]) == sorted(s.path.name for s in data.val)
    assert len(data.train) == 32 and len(data.val) == 8


def test_stop_saves_a_checkpoint_that_resume_continues(small, tmp_path):
    out = tmp_path / "model"
    stop = threading.Event()
    with pytest.raises(TrainingInterrupted, match="--resume"):
        train(
            _options(small, out, epochs=3),
            Hooks(on_epoch=lambda record: stop.set(), stop=stop, show_progress=False),
        )
    first = json.loads((out / "train_metrics.json").read_text())["history"]
    assert [r["epoch"] for r in first] == [1]
    with pytest.raises(Exception, match="--resume"):
        train(_options(small, out, epochs=3), Hooks(show_progress=False))  # a started run is not overwritten
    result = train(_options(small, out, epochs=2, resume=True), Hooks(show_progress=False))
    assert [r.epoch for r in result.history] == [1, 2]
    assert result.history[0].loss == first[0]["loss"]


def test_ctrl_c_in_the_cli_is_one_line_and_exit_130(small, tmp_path, monkeypatch, capsys):
    import groundlabel.trainers.loop as loop

    calls = {"n": 0}
    real = loop.batch_inputs

    def interrupt_on_the_third_batch(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(loop, "batch_inputs", interrupt_on_the_third_batch)
    out = tmp_path / "model"
    argv = ["train", str(small), "-o", str(out), "--from-scratch", "--config", "tiny", "--epochs", "2",
            "--image-size", str(SIZE), "--batch-size", "2", "--device", "cpu"]  # fmt: skip
    assert cli_main(argv) == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--resume" in err[0]
    assert (out / "checkpoint" / "last.pt").is_file()
    monkeypatch.setattr(loop, "batch_inputs", real)
    assert cli_main([*argv, "--resume"]) == 0
    assert len(json.loads((out / "train_metrics.json").read_text())["history"]) == 2


def test_user_errors_are_one_line(shapes, tmp_path, capsys):
    cases = [
        (["train", str(tmp_path), "-o", str(tmp_path / "m")], "no review project"),
        # HF_HUB_OFFLINE (conftest): the default COCO checkpoint is not cached.
        (["train", str(shapes), "-o", str(tmp_path / "m")], "--from-scratch"),
        (["train", str(shapes), "-o", str(tmp_path / "m"), "--resume"], "no training checkpoint"),
        (["train", str(shapes), "-o", str(tmp_path / "m"), "--from", str(tmp_path)], "no config.json"),
        (["train", str(shapes), "-o", str(tmp_path / "m"), "--config", "tiny"], "--from-scratch"),
        (["train", str(shapes), "-o", str(tmp_path / "m"), "--split", "a=1,val=1"], "no 'train' split"),
        (
            ["train", str(shapes), "-o", str(tmp_path / "m"), "--from-scratch", "--image-size", "100"],
            "multiple of 32",
        ),
    ]
    for argv, message in cases:
        assert cli_main(argv) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], (argv, err)


def test_bf16_training_on_cpu_runs_or_is_refused_in_one_line(small, tmp_path):
    """`train --dtype bf16` on CPU: one epoch under bf16 autocast where the CPU has bf16 units,
    else the one-line refusal (groundlabel.precision), never a silent fp32 run."""
    import dataclasses

    from groundlabel.errors import GroundlabelError
    from groundlabel.precision import cpu_bf16_refusal

    options = dataclasses.replace(_options(small, tmp_path / "model", epochs=1), dtype="bf16")
    refusal = cpu_bf16_refusal()
    if refusal is not None:
        with pytest.raises(GroundlabelError, match="bf16 matrix units"):
            train(options, Hooks(show_progress=False))
        return
    result = train(options, Hooks(show_progress=False))
    assert len(result.history) == 1 and result.history[0].loss == result.history[0].loss  # not NaN
