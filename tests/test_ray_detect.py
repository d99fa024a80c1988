"""``groundlabel detect --ray``: the plain path's exact output, locally and on a two-node cluster."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

from groundlabel.cli import main

# Imported before Ray: it puts the test clusters' token in the environment Ray reads.
from ray_cluster import HEAD_IP, OBJECT_STORE_BYTES, TwoNodeCluster, short_temp_dir, sweep  # isort: skip

pytestmark = pytest.mark.slow  # a local Ray cluster per module (and a two-node one)

ray = pytest.importorskip("ray", reason="the ray extra is part of .[all]; CI installs it")

PHOTOS = Path(__file__).resolve().parents[1] / "assets" / "reference" / "photos"


@pytest.fixture(scope="module")
def image_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Nested folders, images of several sizes, a corrupt file, an empty one and a hidden one."""
    root = tmp_path_factory.mktemp("tree")
    (root / "a" / "b").mkdir(parents=True)
    (root / ".hidden").mkdir()
    cat = Image.open(PHOTOS / "chelsea.png").convert("RGB")
    astronaut = Image.open(PHOTOS / "astronaut.png").convert("RGB")
    cat.save(root / "cat.png")
    astronaut.save(root / "a" / "astronaut.jpg", quality=90)
    cat.resize((300, 451)).save(root / "a" / "b" / "tall.png")
    astronaut.resize((320, 200)).save(root / "a" / "b" / "wide.webp")
    (root / "a" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (root / "empty.jpg").write_bytes(b"")
    cat.save(root / ".hidden" / "skipped.png")
    return root


@pytest.fixture(scope="module")
def plain_output(tiny_model_dir: Path, image_tree: Path, tmp_path_factory: pytest.TempPathFactory):
    """The plain path's COCO bytes, exit code and report, one CPU thread like each Ray worker."""
    out = tmp_path_factory.mktemp("plain") / "plain.json"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the same arithmetic as a 1-thread worker, to the last bit
    try:
        code = main(
            ["detect", str(image_tree), "-l", "cat, person", "--model", str(tiny_model_dir), "-o", str(out)]
        )
    finally:
        torch.set_num_threads(threads)
    return out.read_bytes(), code


@pytest.fixture(scope="module")
def local_ray(tmp_path_factory: pytest.TempPathFactory):
    """Ray in this process, started as the product starts it (loopback), 2 CPUs, small store."""
    from groundlabel.distributed.session import start_local

    # A short path: Ray's socket paths under it must stay below the 107-byte Unix limit.
    temp_dir = short_temp_dir(tmp_path_factory)
    start_local(num_cpus=2, object_store_memory=OBJECT_STORE_BYTES, _temp_dir=str(temp_dir))
    assert ray.util.get_node_ip_address() == HEAD_IP
    yield
    ray.shutdown()
    assert sweep(str(temp_dir)) == [], "ray.shutdown left processes running"


def test_ray_gives_the_plain_output_and_exit_code(
    local_ray, tiny_model_dir, image_tree, plain_output, tmp_path, capsys
):
    out = tmp_path / "ray.json"
    capsys.readouterr()
    code = main(
        [
            "detect",
            str(image_tree),
            "-l",
            "cat, person",
            "--model",
            str(tiny_model_dir),
            "-o",
            str(out),
            "--ray",
        ]
    )
    report = capsys.readouterr().err
    plain_bytes, plain_code = plain_output
    assert out.read_bytes() == plain_bytes
    assert code == plain_code == 1
    assert "4 image(s)" in report and "2 failed" in report
    assert f"failed: {image_tree / 'a' / 'broken.png'}: not an image file Pillow can read" in report
    assert f"failed: {image_tree / 'empty.jpg'}: the file is empty" in report


def test_sharded_output_resumes_and_imports(
    local_ray, tiny_model_dir, image_tree, plain_output, tmp_path, capsys
):
    import json

    from groundlabel.formats.shards import done_files, iter_rows

    shards = tmp_path / "shards"
    base = ["detect", "-l", "cat, person", "--model", str(tiny_model_dir), "-o", f"{shards}/", "--ray"]
    assert main([*base[:1], str(image_tree / "cat.png"), *base[1:]]) == 0
    assert done_files(shards) == {"cat.png"}
    # a run stopped in the middle of a line: the torn line is ignored and its image redone
    (shards / "part-00000.jsonl").open("a").write('{"file": "a/astronaut.jpg", "wid')
    capsys.readouterr()
    code = main([*base[:1], str(image_tree), *base[1:], "--resume"])
    report = capsys.readouterr().err
    assert code == 1 and "3 image(s)" in report and "1 already done" in report
    rows = {row["file"]: row for _, row in iter_rows(shards)}
    assert set(rows) == {"cat.png", "a/astronaut.jpg", "a/b/tall.png", "a/b/wide.webp"}
    coco = json.loads(plain_output[0])
    by_name = {image["file_name"]: image["id"] for image in coco["images"]}
    for name, row in rows.items():
        expected = [a["score"] for a in coco["annotations"] if a["image_id"] == by_name[name]]
        assert sorted(row["scores"]) == sorted(expected)

    assert main(["import", str(image_tree), str(shards), "-f", "shards"]) == 0
    assert f"4 image(s), {len(coco['annotations'])} box(es) imported" in capsys.readouterr().err


def test_two_node_loopback_cluster_gives_the_plain_output(
    tiny_model_dir, image_tree, plain_output, tmp_path, tmp_path_factory
):
    # short: Ray's socket paths below it must stay under the 107-byte Unix limit
    cluster = TwoNodeCluster(short_temp_dir(tmp_path_factory))
    try:
        cluster.start()
        out = tmp_path / "cluster.json"
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "groundlabel",
                "detect",
                str(image_tree),
                "-l",
                "cat, person",
                "--model",
                str(tiny_model_dir),
                "-o",
                str(out),
                "--ray",
                "--address",
                cluster.address,
                "--workers",
                "2",
            ],
            capture_output=True,
            text=True,
            timeout=400,
            env={**os.environ, "RAY_ADDRESS": ""},
        )
    finally:
        left = cluster.stop()
    assert done.returncode == plain_output[1], done.stderr
    assert out.read_bytes() == plain_output[0]
    assert "2 failed" in done.stderr and "Traceback" not in done.stderr
    assert "INFO" not in done.stderr  # no log lines from Ray's workers or its executor
    assert left == [] or all(not Path(f"/proc/{pid}").exists() for pid in left)


def test_ray_options_need_ray_and_a_missing_extra_is_one_line(
    tiny_model_dir, image_tree, tmp_path, capsys, monkeypatch
):
    args = ["detect", str(image_tree), "-l", "cat", "--model", str(tiny_model_dir)]
    assert main([*args, "-o", str(tmp_path / "x.json"), "--workers", "2"]) == 2
    assert "--workers only work with --ray" in capsys.readouterr().err
    assert main([*args, "-o", str(tmp_path / "x.json"), "--resume"]) == 2
    assert "--resume needs a shard folder" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "ray", None)  # as if the extra were not installed
    assert main([*args, "-o", str(tmp_path / "x.json"), "--ray"]) == 2
    err = capsys.readouterr().err
    assert "pip install 'groundlabel[ray]'" in err and "Traceback" not in err


def test_masks_on_ray_equal_the_plain_run_and_resume(local_ray, tiny_model_dir, image_tree, tmp_path, capsys):
    """``detect --masks --ray``: the workers' masks are the plain path's, RLE string for string."""
    import json

    from groundlabel.devtools.random_segmenters import save_random_segmenter
    from groundlabel.formats.shards import iter_rows

    sam = save_random_segmenter("sam", tmp_path / "sam")
    base = ["-l", "cat, person", "--model", str(tiny_model_dir), "--box-threshold", "0.0"]
    base += ["--max-detections", "2", "--masks", str(sam)]
    plain = tmp_path / "plain.json"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the arithmetic of a 1-thread worker, to the last bit
    try:
        assert main(["detect", str(image_tree), *base, "-o", str(plain)]) == 1
    finally:
        torch.set_num_threads(threads)
    on_ray = tmp_path / "ray.json"
    assert main(["detect", str(image_tree), *base, "-o", str(on_ray), "--ray"]) == 1
    expected, got = json.loads(plain.read_text()), json.loads(on_ray.read_text())
    assert len(expected["annotations"]) == 8 and all("segmentation" in a for a in expected["annotations"])
    assert got == expected  # boxes, RLE counts, mask scores, info["mask_model"]: all equal
    # shards: stopped after one image, resumed on Ray, the masks are still the plain ones
    shards = tmp_path / "shards"
    assert main(["detect", str(image_tree / "cat.png"), *base, "-o", f"{shards}/", "--ray"]) == 0
    capsys.readouterr()
    assert main(["detect", str(image_tree), *base, "-o", f"{shards}/", "--ray", "--resume"]) == 1
    assert "3 image(s)" in capsys.readouterr().err
    ids = {image["file_name"]: image["id"] for image in expected["images"]}
    for _, row in iter_rows(shards):
        want = [a for a in expected["annotations"] if a["image_id"] == ids[row["file"]]]
        assert [m["counts"] for m in row["masks"]] == [a["segmentation"]["counts"] for a in want]


def test_segment_on_ray_equals_the_plain_run_and_resumes(local_ray, tmp_path, capsys):
    """``segment --ray``: the project gets the plain run's masks; a rerun has nothing to do."""
    import shutil

    from groundlabel import masks as mask_codec
    from groundlabel.devtools.random_segmenters import save_random_segmenter
    from groundlabel.project.models import BoxSource, BoxStatus
    from groundlabel.project.store import ReviewProject

    sam = save_random_segmenter("sam", tmp_path / "sam")
    folders = []
    for name in ("plain", "ray"):
        folder = tmp_path / name
        folder.mkdir()
        shutil.copy(PHOTOS / "chelsea.png", folder / "a.png")
        shutil.copy(PHOTOS / "astronaut.png", folder / "b.png")
        with ReviewProject.open(folder) as project:
            thing = project.ensure_classes(["thing"])["thing"]
            for image in project.images():
                project.ensure_image_info(image.id)
                for xyxy in ((20.0, 30.0, 200.0, 250.0), (100.0, 50.0, 300.0, 280.0)):
                    project.insert_box(
                        image.id, thing, xyxy, source=BoxSource.MODEL, status=BoxStatus.ACCEPTED
                    )
        folders.append(folder)

    def masks(folder: Path) -> list[tuple]:
        with ReviewProject.open(folder) as project:
            return [
                (
                    image.path,
                    box.xyxy,
                    mask_codec.normalise(box.mask)["counts"],
                    box.mask_score,
                    box.mask_model,
                )
                for image in project.images()
                for box in project.boxes(image.id)
            ]

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert main(["segment", str(folders[0]), "--masks", str(sam), "--device", "cpu"]) == 0
    finally:
        torch.set_num_threads(threads)
    command = ["segment", str(folders[1]), "--masks", str(sam), "--device", "cpu", "--ray"]
    capsys.readouterr()
    assert main(command) == 0
    assert "4 mask(s) on 2 image(s)" in capsys.readouterr().err
    assert masks(folders[1]) == masks(folders[0])
    assert main(command) == 0
    assert "nothing to do" in capsys.readouterr().err
