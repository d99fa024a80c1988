"""``train --ray --workers 2``: Ray Train's TorchTrainer (gloo on CPU), two workers on loopback."""

from __future__ import annotations

import json

import pytest

from groundlabel.cli import main
from groundlabel.devtools.synthetic_shapes import write_shapes_project

# Imported before Ray: it puts the test clusters' token in the environment Ray reads.
from ray_cluster import HEAD_IP, OBJECT_STORE_BYTES, short_temp_dir, sweep  # isort: skip

pytestmark = pytest.mark.slow  # Ray Train with two workers

ray = pytest.importorskip("ray", reason="the ray extra is part of .[all]; CI installs it")
pytest.importorskip("ray.train", reason="Ray Train is part of the ray extra")


@pytest.fixture(scope="module")
def local_ray(tmp_path_factory):
    from groundlabel.distributed.session import start_local

    temp_dir = short_temp_dir(tmp_path_factory)
    start_local(num_cpus=2, object_store_memory=OBJECT_STORE_BYTES, _temp_dir=str(temp_dir))
    assert ray.util.get_node_ip_address() == HEAD_IP
    yield
    ray.shutdown()
    assert sweep(str(temp_dir)) == [], "ray.shutdown left processes running"


def test_two_workers_train_data_parallel_into_the_same_model_folder(local_ray, tmp_path, capsys):
    folder = write_shapes_project(tmp_path / "shapes", 12, seed=2, size=64, max_shapes=1)
    out = tmp_path / "model"
    argv = ["train", str(folder), "-o", str(out), "--from-scratch", "--config", "tiny", "--epochs", "2",
            "--image-size", "64", "--batch-size", "2", "--device", "cpu", "--ray", "--workers", "2"]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    metrics = json.loads((out / "train_metrics.json").read_text())
    assert [r["epoch"] for r in metrics["history"]] == [1, 2]
    assert all(r["map50"] is not None for r in metrics["history"])
    assert (out / "config.json").is_file() and (out / "train_report.html").is_file()
    assert "best epoch" in capsys.readouterr().err


def test_detect_ray_runs_a_trained_model_without_labels(local_ray, closed_set_model, tmp_path):
    import torch

    model = closed_set_model()
    folder = write_shapes_project(tmp_path / "shapes", 4, seed=3, size=64, max_shapes=1)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a Ray worker's arithmetic
    try:
        assert main(["detect", str(folder), "--model", str(model), "-o", str(tmp_path / "plain.json")]) == 0
    finally:
        torch.set_num_threads(threads)
    assert (
        main(["detect", str(folder), "--model", str(model), "-o", str(tmp_path / "ray.json"), "--ray"]) == 0
    )
    plain, distributed = (json.loads((tmp_path / n).read_text()) for n in ("plain.json", "ray.json"))
    assert [c["name"] for c in distributed["categories"]] == ["square", "disc", "triangle"]
    assert distributed["info"]["family"] == "rt_detr_v2"
    key = lambda a: (a["image_id"], a["category_id"], round(a["score"], 4))  # noqa: E731
    assert sorted(map(key, distributed["annotations"])) == sorted(map(key, plain["annotations"]))
    assert plain["annotations"]
