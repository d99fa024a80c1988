"""Splits, staged writes and round trips of the dataset-folder exports."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from dataset_folder import make_dataset_folder
from PIL import Image
from test_project_helpers import copy_images_only

from groundlabel.cli import main
from groundlabel.errors import GroundlabelError
from groundlabel.formats import images_out
from groundlabel.formats.coco import read_coco
from groundlabel.formats.registry import get_format
from groundlabel.formats.splits import Split, assign_splits, parse_splits
from groundlabel.formats.staging import MARKER
from groundlabel.project import BoxSource, BoxStatus, ImageState, ReviewProject

FORMATS = ["coco", "voc", "yolo", "hf", "labelstudio"]


@pytest.fixture
def folder(tmp_path: Path):
    images = tmp_path / "images"
    return images, make_dataset_folder(images)


def export(folder: Path, fmt: str, out: Path, *extra: str) -> int:
    return main(["export", str(folder), "-f", fmt, "-o", str(out), *extra])


def files(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def test_parse_splits() -> None:
    assert parse_splits(None) == [Split("train", 1.0)]
    plan = parse_splits("train=0.8,val=0.2,test=0.1")  # weights: 8:2:1
    assert [s.name for s in plan] == ["train", "val", "test"]
    assert [s.ratio for s in plan] == pytest.approx([8 / 11, 2 / 11, 1 / 11])
    for bad, message in [
        ("train", "not NAME=RATIO"),
        ("train=x", "not a number"),
        ("train=0", "positive"),
        ("train=1,train=2", "named twice"),
        ("a b=1", "not NAME=RATIO"),
    ]:
        with pytest.raises(GroundlabelError, match=message):
            parse_splits(bad)


def within_one_image(assignment: dict[str, str], plan: list[Split]) -> bool:
    counts = Counter(assignment.values())
    return all(abs(counts[s.name] - s.ratio * len(assignment)) <= 1 for s in plan)


@pytest.mark.parametrize("text", ["train=0.8,val=0.2", "train=0.7,val=0.2,test=0.1", "a=1,b=1,c=1,d=1"])
def test_split_sizes_match_the_ratios_within_one_image(text: str) -> None:
    plan = parse_splits(text)
    for n in [*range(1, 40), 101, 1_000, 10_000]:
        for seed in (0, 1, 7):
            assert within_one_image(assign_splits([f"d/{i}.jpg" for i in range(n)], plan, seed), plan)


def test_splits_are_a_function_of_paths_and_seed_and_survive_additions() -> None:
    plan = parse_splits("train=0.7,val=0.2,test=0.1")
    paths = [f"dir{i % 7}/img_{i}.jpg" for i in range(5_000)]
    first = assign_splits(paths, plan, seed=0)
    assert assign_splits(list(reversed(paths)), plan, seed=0) == first  # the hash orders, not the input
    assert assign_splits(paths, plan, seed=1) != first
    grown = dict(first)
    for batch in range(5):  # images arrive in batches; every export keeps the earlier assignment
        added = [f"new{batch}/{i}.png" for i in range(37 * (batch + 1))]
        again = assign_splits([*grown, *added], plan, seed=0, previous=grown)
        assert {p: again[p] for p in grown} == grown
        assert within_one_image(again, plan)
        grown = again
    # A plan or seed that changed ignores the old assignment at the caller (export_job); here a
    # split name the plan no longer has is simply reassigned.
    renamed = assign_splits(paths, parse_splits("train=0.5,holdout=0.5"), 0, previous=first)
    assert set(renamed.values()) == {"train", "holdout"}


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_same_seed_gives_byte_identical_exports(folder, tmp_path: Path, fmt: str) -> None:
    images, _ = folder
    out = tmp_path / "out"
    assert export(images, fmt, out, "--split", "train=0.7,val=0.3", "--seed", "5") == 0
    first = files(out)
    assert MARKER in first and any(name.endswith((".png", ".jpg")) for name in first)
    assert export(images, fmt, out, "--split", "train=0.7,val=0.3", "--seed", "5") == 0
    assert files(out) == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["images", "out"]  # no staging left


def test_adding_images_keeps_earlier_split_assignments(folder, tmp_path: Path) -> None:
    images, expected = folder
    out = tmp_path / "out"
    args = ("--split", "train=0.6,val=0.2,test=0.2", "--seed", "3")
    assert export(images, "coco", out, *args) == 0
    before = {i.file_name: i.split for i in read_coco(out).images}
    assert set(before) == set(expected) and set(before.values()) == {"train", "val", "test"}
    for n in range(15):
        Image.new("RGB", (20, 20), "gray").save(images / f"added_{n}.png")
    with ReviewProject.open(images) as project:
        for n in range(15):
            project.set_image_state(project.image_by_path(f"added_{n}.png").id, ImageState.REVIEWED_EMPTY)
    assert export(images, "coco", out, *args) == 0
    after = {i.file_name: i.split for i in read_coco(out).images}
    assert len(after) == len(before) + 15
    assert {name: after[name] for name in before} == before
    assert within_one_image(after, parse_splits("train=0.6,val=0.2,test=0.2"))
    assert within_one_image(before, parse_splits("train=0.6,val=0.2,test=0.2"))
    # Another seed starts over (and still meets the ratios).
    assert export(images, "coco", out, "--split", "train=0.6,val=0.2,test=0.2", "--seed", "4") == 0
    reseeded = {i.file_name: i.split for i in read_coco(out).images}
    assert reseeded != after and within_one_image(reseeded, parse_splits("train=0.6,val=0.2,test=0.2"))


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_layout_imports_back_into_a_fresh_folder(folder, tmp_path: Path, fmt: str) -> None:
    images, expected = folder
    out = tmp_path / "out"
    assert export(images, fmt, out, "--split", "train=0.5,val=0.5", "--images", "copy") == 0
    fresh = tmp_path / "fresh"
    copy_images_only(images, fresh)
    assert main(["import", str(fresh), str(out), "-f", fmt]) == 0
    tolerance = {"voc": 1.0, "yolo": 1e-6 * 512}.get(fmt, 1e-9)
    with ReviewProject.open(fresh) as project:
        names = {c.id: c.name for c in project.classes()}
        for image in project.images():
            if image.path not in expected:
                assert image.state is ImageState.NEW
                continue
            boxes = sorted((names[b.class_id], b.xyxy) for b in project.boxes(image.id))
            want = sorted(expected[image.path])
            assert [c for c, _ in boxes] == [c for c, _ in want], image.path
            for (_, got), (_, xyxy) in zip(boxes, want, strict=True):
                assert got == pytest.approx(xyxy, abs=tolerance)
            assert {(b.source, b.status) for b in project.boxes(image.id)} <= {
                (BoxSource.IMPORT, BoxStatus.ACCEPTED)
            }
            assert image.state is (ImageState.REVIEWED if want else ImageState.REVIEWED_EMPTY)


def test_an_interrupted_export_never_looks_complete(folder, tmp_path: Path, monkeypatch) -> None:
    images, _ = folder
    out = tmp_path / "out"
    assert export(images, "yolo", out) == 0
    previous = files(out)
    calls = []

    def failing_copy(source, target):
        calls.append(target)
        if len(calls) == 5:
            raise KeyboardInterrupt  # Ctrl-C half way
        return Path(target).write_bytes(Path(source).read_bytes())

    monkeypatch.setattr(images_out.shutil, "copyfile", failing_copy)
    assert export(images, "yolo", out, "--images", "copy", "--split", "train=0.5,val=0.5") == 130
    assert len(calls) == 5
    assert files(out) == previous  # the earlier, complete export is untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["images", "out"]

    fresh_out = tmp_path / "never"
    calls.clear()
    assert export(images, "coco", fresh_out, "--images", "copy") == 130
    assert not fresh_out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["images", "out"]


def test_labelstudio_export_holds_the_images_its_urls_name(folder, tmp_path: Path) -> None:
    images, expected = folder
    out = tmp_path / "ls"
    assert export(images, "labelstudio", out, "--split", "train=0.5,val=0.5") == 0
    tasks = json.loads((out / "tasks.json").read_text())
    assert {t["data"]["file_name"] for t in tasks} == set(expected)
    for task in tasks:
        assert task["data"]["image"] == f"/data/local-files/?d={task['data']['file_name']}"
        assert (out / task["data"]["file_name"]).is_file()
        assert task["data"]["split"] in ("train", "val")


def test_the_table_counts_images_and_boxes_per_class_per_split(folder, tmp_path: Path, capsys) -> None:
    images, expected = folder
    assert export(images, "coco", tmp_path / "out", "--split", "train=0.5,val=0.5") == 0
    err = capsys.readouterr().err
    header = next(line for line in err.splitlines() if line.startswith("class"))
    assert "train img/box" in header and "val img/box" in header
    rows = {
        line.split()[0]: line.split()[-2:] for line in err.splitlines() if line.startswith(("cat ", "all "))
    }
    train, val = (tuple(map(int, cell.split("/"))) for cell in rows["all"])
    assert train[0] + val[0] == len(expected) and train[1] + val[1] == sum(map(len, expected.values()))
    assert "warning: class 'unused' has no box in split 'train'" in err


def test_images_whose_names_clash_without_extension_are_reported(folder, tmp_path: Path, capsys) -> None:
    images, _ = folder
    Image.new("RGB", (8, 8)).save(images / "chelsea.jpg")
    with ReviewProject.open(images) as project:
        project.set_image_state(project.image_by_path("chelsea.jpg").id, ImageState.REVIEWED_EMPTY)
    assert export(images, "yolo", tmp_path / "out") == 1
    err = capsys.readouterr().err
    assert "skipped: chelsea.png: yolo names files without the extension, as chelsea.jpg" in err
    assert (tmp_path / "out" / "data.yaml").is_file()  # the rest is exported


def test_bad_options_are_one_line(folder, tmp_path: Path, capsys) -> None:
    images, _ = folder
    assert export(images, "coco", tmp_path / "x", "--split", "train=0") == 2
    assert "--split: the ratio of 'train' must be a positive number" in capsys.readouterr().err
    assert export(images, "coco", tmp_path / "x.json", "--split", "train=1,val=1") == 2
    assert "--split needs a folder for -o" in capsys.readouterr().err
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "notes.txt").write_text("mine")
    assert export(images, "hf", taken) == 2
    err = capsys.readouterr().err
    assert "not a groundlabel export" in err and "Traceback" not in err
    assert get_format("hf").name == "hf"


def test_symlink_and_none_image_modes(folder, tmp_path: Path) -> None:
    images, expected = folder
    linked = tmp_path / "linked"
    assert export(images, "coco", linked, "--images", "symlink") == 0
    astronaut = linked / "images" / "train" / "astronaut.png"
    assert astronaut.is_symlink() and astronaut.resolve() == (images / "astronaut.png").resolve()
    rotated = linked / "images" / "train" / "rotated.jpg"  # written as shown: a file, not a link
    assert not rotated.is_symlink() and Image.open(rotated).size == (20, 40)
    bare = tmp_path / "bare"
    assert export(images, "voc", bare, "--images", "none") == 0
    assert not (bare / "JPEGImages").exists()
    assert len(list((bare / "Annotations").rglob("*.xml"))) == len(expected)


def test_an_export_inside_the_folder_is_not_scanned_as_new_images(folder, tmp_path: Path) -> None:
    """The desktop exports into FOLDER/export by default: its image copies are not the folder's images."""
    images, _ = folder
    with ReviewProject.open(images) as project:
        before = sorted(i.path for i in project.images())
    assert export(images, "coco", images / "export", "--images", "copy", "--split", "train=0.5,val=0.5") == 0
    assert any((images / "export" / "images").rglob("*.png"))
    with ReviewProject.open(images) as project:
        assert project.rescan() == (0, 0)
        assert sorted(i.path for i in project.images()) == before
