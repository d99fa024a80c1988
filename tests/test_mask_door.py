"""Issue 30: a malformed mask is refused at the door (one line, project unchanged), and a project
that already holds one (written by an older version) still exports, saying what it left out;
``groundlabel check`` lists such masks and clears them undoably."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from groundlabel import masks
from groundlabel.cli import main

H, W = 400, 600


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    Image.new("RGB", (W, H), "gray").save(folder / "a.png")
    Image.new("RGB", (300, 200), "white").save(folder / "b.png")
    return folder


def _coco(tmp_path: Path, segmentation: object, name: str = "in.json") -> Path:
    document = {
        "images": [
            {"id": 1, "file_name": "a.png", "width": W, "height": H},
            {"id": 2, "file_name": "b.png", "width": 300, "height": 200},
        ],
        "categories": [{"id": 1, "name": "cat"}],
        "annotations": [
            {
                "id": 7,
                "image_id": 1,
                "category_id": 1,
                "bbox": [10, 10, 50, 40],
                "iscrowd": 1,
                "area": 1,
                "segmentation": segmentation,
            },
            {"id": 8, "image_id": 2, "category_id": 1, "bbox": [5, 5, 20, 20], "area": 1},
        ],
    }
    path = tmp_path / name
    path.write_text(json.dumps(document))
    return path


def _state(folder: Path) -> str:
    db = folder / ".groundlabel"
    return "".join(hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(db.glob("project.db*")))


def _good_mask() -> dict:
    mask = np.zeros((H, W), bool)
    mask[10:50, 10:60] = True
    return masks.encode(mask)


BAD_COCO = [
    pytest.param({"size": [H, W], "counts": [10, 20, 30]}, "add up to 60 pixels", id="short-counts"),
    pytest.param({"size": [H, W], "counts": [H * W, H * W]}, "add up to 480,000", id="double-counts"),
    pytest.param(
        {"size": [H, W], "counts": "@@@@!!!~~~"}, 'characters outside "0".."o"', id="garbage-string"
    ),
    # [10, 20, 30] compressed: pycocotools decodes it to a zero-padded mask without a word.
    pytest.param({"size": [H, W], "counts": ":d0n0"}, "add up to 60 pixels", id="short-compressed"),
    pytest.param({"size": [H, W], "counts": [10**15]}, "add up to", id="memory-bomb"),
]


@pytest.mark.parametrize(("segmentation", "said"), BAD_COCO)
def test_a_bad_coco_rle_is_one_line_and_the_project_is_unchanged(
    tmp_path, capsys, segmentation, said
) -> None:
    folder = _folder(tmp_path)
    assert (
        main(
            [
                "import",
                str(folder),
                str(_coco(tmp_path, {"size": [H, W], "counts": _good_mask()["counts"]}, "ok.json")),
                "-f",
                "coco",
            ]
        )
        == 0
    )
    before = _state(folder)
    capsys.readouterr()
    assert main(["import", str(folder), str(_coco(tmp_path, segmentation)), "-f", "coco"]) == 2
    err = capsys.readouterr().err
    assert said in err and "Traceback" not in err
    assert "in.json" in err and len([line for line in err.splitlines() if "error" in line.lower()]) == 1
    assert _state(folder) == before
    for fmt in ("coco", "yolo"):
        assert main(["export", str(folder), "-f", fmt, "-o", str(tmp_path / f"out-{fmt}")]) == 0


def _labelstudio(tmp_path: Path, rle: list[int], width: int, height: int) -> Path:
    task = {
        "data": {"image": "a.png"},
        "annotations": [
            {
                "result": [
                    {
                        "id": "r1",
                        "type": "brushlabels",
                        "from_name": "tag",
                        "to_name": "image",
                        "original_width": width,
                        "original_height": height,
                        "value": {"format": "rle", "rle": rle, "brushlabels": ["cat"]},
                    }
                ]
            }
        ],
    }
    path = tmp_path / "ls.json"
    path.write_text(json.dumps([task]))
    return path


def _brush_overflow(values: int) -> list[int]:
    """A brush RLE claiming ``values`` values, with 32-bit words and one run of 0xFFFFFFFF."""
    bits = f"{values:032b}" + "11111" + "0000" * 4 + "1" + "00" + "1" + "1" * 32
    bits += "0" * (-len(bits) % 8)
    return [int(bits[i : i + 8], 2) for i in range(0, len(bits), 8)]


@pytest.mark.parametrize(
    ("rle", "width", "height", "said"),
    [
        pytest.param([255] * 64, 50000, 50000, "over 89,478,485 pixels", id="giant-size"),
        pytest.param([255] * 64, W, H, "claims 4,294,967,295 values", id="run-of-255s"),
        pytest.param([0, 0, 0, 1, 300], W, H, "integers from 0 to 255", id="not-bytes"),
        # The right value count, then 32-bit words: the SDK's OverflowError of the issue.
        pytest.param(_brush_overflow(W * H * 4), W, H, "does not decode", id="word-of-255s"),
    ],
)
def test_a_bad_labelstudio_brush_is_one_line(tmp_path, capsys, rle, width, height, said) -> None:
    folder = _folder(tmp_path)
    main(["import", str(folder), str(_coco(tmp_path, None, "ok.json")), "-f", "coco"])
    before = _state(folder)
    capsys.readouterr()
    assert (
        main(["import", str(folder), str(_labelstudio(tmp_path, rle, width, height)), "-f", "labelstudio"])
        == 2
    )
    err = capsys.readouterr().err
    assert said in err and "Traceback" not in err
    assert "ls.json" in err and len([line for line in err.splitlines() if "error" in line.lower()]) == 1
    assert _state(folder) == before
    for fmt in ("coco", "yolo"):
        assert main(["export", str(folder), "-f", fmt, "-o", str(tmp_path / f"out-{fmt}")]) == 0


def test_a_project_holding_a_bad_mask_exports_and_check_clears_it_undoably(tmp_path, capsys) -> None:
    folder = _folder(tmp_path)
    assert main(["import", str(folder), str(_coco(tmp_path, _good_mask())), "-f", "coco"]) == 0
    # What an older version stored without checking (or a hand edit): counts of 60 pixels.
    with sqlite3.connect(folder / ".groundlabel" / "project.db") as db:
        (count,) = db.execute("SELECT COUNT(*) FROM boxes WHERE mask IS NOT NULL").fetchone()
        assert count == 1
        db.execute(
            "UPDATE boxes SET mask = ? WHERE mask IS NOT NULL",
            (json.dumps({"size": [H, W], "counts": [10, 20, 30]}),),
        )
    capsys.readouterr()
    for fmt in ("coco", "yolo", "voc", "labelstudio"):
        assert main(["export", str(folder), "-f", fmt, "-o", str(tmp_path / f"out-{fmt}")]) == 0, fmt
        err = capsys.readouterr().err
        assert "a.png: box 1 (cat) exported without its mask: the RLE counts add up to 60 pixels" in err, err
    coco = json.loads(next((tmp_path / "out-coco").rglob("*.json")).read_text())
    assert len(coco["annotations"]) == 2 and not any(a.get("segmentation") for a in coco["annotations"])

    assert main(["check", str(folder)]) == 1
    out = capsys.readouterr()
    assert "a.png: box" in out.out and "add up to 60 pixels" in out.out
    assert main(["check", str(folder), "--clear-bad-masks"]) == 0
    err = capsys.readouterr().err
    backup = Path(err.split("--restore ")[1].strip())
    assert backup.is_file()
    assert main(["check", str(folder)]) == 0
    assert main(["export", str(folder), "-f", "coco", "-o", str(tmp_path / "again")]) == 0
    assert "without its mask" not in capsys.readouterr().err
    # Undo: the exact stored value comes back.
    assert main(["check", str(folder), "--restore", str(backup)]) == 0
    with sqlite3.connect(folder / ".groundlabel" / "project.db") as db:
        (stored,) = db.execute("SELECT mask FROM boxes WHERE mask IS NOT NULL").fetchone()
    assert json.loads(stored) == {"size": [H, W], "counts": [10, 20, 30]}
    assert main(["check", str(folder)]) == 1


def test_unreadable_mask_text_is_left_out_too(tmp_path, capsys) -> None:
    folder = _folder(tmp_path)
    assert main(["import", str(folder), str(_coco(tmp_path, _good_mask())), "-f", "coco"]) == 0
    with sqlite3.connect(folder / ".groundlabel" / "project.db") as db:
        db.execute("UPDATE boxes SET mask = 'not json' WHERE mask IS NOT NULL")
    assert main(["export", str(folder), "-f", "coco", "-o", str(tmp_path / "out")]) == 0
    assert "exported without its mask" in capsys.readouterr().err
    assert main(["check", str(folder)]) == 1
    assert "not JSON" in capsys.readouterr().out


def test_check_refuses_before_allocating() -> None:
    with pytest.raises(masks.MaskError, match="add up to"):
        masks.check({"size": [H, W], "counts": [2**62, 2**62]}, W, H)
    with pytest.raises(masks.MaskError, match="pixels"):
        masks.check({"size": [100000, 100000], "counts": "0"}, 100000, 100000)
    good = _good_mask()
    assert masks.check(good, W, H) == good
    assert masks.check({"size": [H, W], "counts": [H * W]}, W, H)["size"] == [H, W]


def test_polygons_far_outside_or_not_finite_are_refused(tmp_path, capsys) -> None:
    folder = _folder(tmp_path)
    far = [[10, 10, 50, 10, 1e6, 30]]  # the box is in the image, one point of the outline is not
    assert main(["import", str(folder), str(_coco(tmp_path, far)), "-f", "coco"]) == 2
    err = capsys.readouterr().err
    assert "(1e+06, 30), more than the image's own size outside the 600x400 image" in err
    assert "Traceback" not in err
    # A little outside (rounding, other tools' pixel edges) is kept; rasterising clips it.
    near = [[-3, 10, 50, 10, 603, 30]]
    assert main(["import", str(folder), str(_coco(tmp_path, near)), "-f", "coco"]) == 0
    with pytest.raises(masks.MaskError, match="not a finite number"):
        masks.from_polygons([[0, 0, float("nan"), 1, 2, 2]], W, H)
    with pytest.raises(masks.MaskError, match="at least 3 points"):
        masks.from_polygons([[0, 0, 1, 1]], W, H)


def test_the_store_refuses_a_bad_mask_from_any_writer(tmp_path) -> None:
    from groundlabel.project.database import ProjectError
    from groundlabel.project.store import ReviewProject

    folder = _folder(tmp_path)
    with ReviewProject.open(folder) as project:
        image = project.image_by_path("a.png")
        project.ensure_image_info(image.id, with_hash=False)
        cat = project.ensure_classes(["cat"])["cat"]
        box = project.insert_box(image.id, cat, (1, 1, 9, 9), mask=_good_mask())
        for bad in ({"size": [H, W], "counts": [10, 20, 30]}, {"size": [H, W], "counts": ":d0n0"}):
            with pytest.raises(ProjectError, match="add up to 60 pixels"):
                project.update_box(box.id, mask=bad)
        assert project.box(box.id).mask == _good_mask()


def test_clearing_bad_masks_is_one_step_of_the_undo_history(tmp_path) -> None:
    from groundlabel.project.mask_check import clear_bad_masks, find_bad_masks
    from groundlabel.project.store import ReviewProject

    folder = _folder(tmp_path)
    assert main(["import", str(folder), str(_coco(tmp_path, _good_mask())), "-f", "coco"]) == 0
    bad_text = json.dumps({"size": [H, W], "counts": "@@@@!!!~~~"})
    with sqlite3.connect(folder / ".groundlabel" / "project.db") as db:
        db.execute("UPDATE boxes SET mask = ? WHERE mask IS NOT NULL", (bad_text,))
    with ReviewProject.open(folder, scan=False) as project:
        bad = find_bad_masks(project)
        assert [(b.image, b.class_name) for b in bad] == [("a.png", "cat")]
        clear_bad_masks(project, bad)
        assert find_bad_masks(project) == [] and project.box(bad[0].box_id).mask is None
        assert project.history.undo_description == "clear 1 bad mask(s)"
        project.history.undo()
        assert [b.column for b in find_bad_masks(project)] == [bad_text]
        project.history.redo()
        assert find_bad_masks(project) == []


BOMB_SCRIPT = r"""
import json, resource, sys
from pathlib import Path
from groundlabel.cli import main

folder, sources = Path(sys.argv[1]), [Path(p) for p in sys.argv[2:]]
main(["import", str(folder), str(sources[0]), "-f", "coco"])  # warm up: imports, the project
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
codes = [main(["import", str(folder), str(p), "-f", p.name.split("-")[0]]) for p in sources[1:]]
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"codes": codes, "grew_kib": after - before}))
"""


def test_memory_and_decompression_bombs_are_refused_with_bounded_memory(tmp_path) -> None:
    """Each bomb would take gigabytes if decoded; the child's peak memory may grow 150 MB at most."""
    import struct
    import subprocess
    import sys
    import zlib

    folder = _folder(tmp_path)
    sources = [_coco(tmp_path, None, "coco-warm.json")]
    giant = {"size": [50000, 50000], "counts": [2_500_000_000]}
    for n, segmentation in enumerate(
        [
            {"size": [H, W], "counts": [10**15, 10**15]},
            {"size": [H, W], "counts": [H * W] * 100_000},
            {"size": [H, W], "counts": "o" * 6 + "0"},
            giant,
        ]
    ):
        document = json.loads(_coco(tmp_path, segmentation).read_text())
        if segmentation is giant:
            document["images"][0].update(width=50000, height=50000)
        path = tmp_path / f"coco-{n}.json"
        path.write_text(json.dumps(document))
        sources.append(path)
    for n, (rle, width, height) in enumerate([([255] * 64, 50000, 50000), ([255] * 64, W, H)]):
        path = _labelstudio(tmp_path, rle, width, height)
        sources.append(path.rename(tmp_path / f"labelstudio-{n}.json"))

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    voc = tmp_path / "voc-bomb"
    (voc / "Annotations").mkdir(parents=True)
    (voc / "SegmentationObject").mkdir()
    (voc / "Annotations" / "a.xml").write_text(
        f"<annotation><filename>a.png</filename><size><width>{W}</width><height>{H}</height></size>"
        "<object><name>cat</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>9</xmax><ymax>9</ymax></bndbox>"
        "</object></annotation>"
    )
    bomb = struct.pack(">IIBBBBB", 50000, 50000, 8, 0, 0, 0, 0)
    (voc / "SegmentationObject" / "a.png").write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", bomb)
        + chunk(b"IDAT", zlib.compress(b"\0" * 4096))
        + chunk(b"IEND", b"")
    )
    sources.append(voc)
    done = subprocess.run(
        [sys.executable, "-c", BOMB_SCRIPT, str(folder), *map(str, sources)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["codes"] == [2] * (len(sources) - 1), done.stderr
    assert "Traceback" not in done.stderr
    assert result["grew_kib"] < 150 * 1024, result


def test_check_needs_a_project_and_says_so(tmp_path, capsys) -> None:
    folder = _folder(tmp_path)
    assert main(["check", str(folder)]) == 2
    assert "has no review project yet" in capsys.readouterr().err
    assert not (folder / ".groundlabel").exists()
    assert main(["import", str(folder), str(_coco(tmp_path, _good_mask())), "-f", "coco"]) == 0
    capsys.readouterr()
    assert main(["check", str(folder)]) == 0
    assert "every stored mask decodes" in capsys.readouterr().err
    assert main(["check", str(folder), "--restore", str(tmp_path / "in.json")]) == 2
    assert "not a file written by `groundlabel check --clear-bad-masks`" in capsys.readouterr().err


@settings(max_examples=200, deadline=None, derandomize=True)
@given(runs=st.lists(st.integers(0, 5000), min_size=1, max_size=30))
def test_compressed_counts_reads_what_pycocotools_writes(runs) -> None:
    """Any runs (zero runs too, so non-canonical strings), compressed by pycocotools, read back."""
    from pycocotools import mask as coco_mask

    total = sum(runs)
    if total == 0:
        return
    compressed = coco_mask.frPyObjects({"size": [1, total], "counts": runs}, 1, total)["counts"]
    assert masks.compressed_counts(compressed).tolist() == runs


@settings(max_examples=300, deadline=None, derandomize=True)
@given(text=st.text(st.characters(min_codepoint=48, max_codepoint=111), min_size=1, max_size=12))
def test_a_string_compressed_counts_accepts_decodes_to_the_same_pixels(text) -> None:
    """For any string of pycocotools' characters: refused, or read as runs that pycocotools
    decodes to exactly those pixels (so the door's sum is the decoder's)."""
    from pycocotools import mask as coco_mask

    try:
        runs = masks.compressed_counts(text)
    except masks.MaskError:
        return
    total = int(runs.sum())
    if not 0 < total <= 1_000_000:
        return
    decoded = coco_mask.decode({"size": [1, total], "counts": text.encode()})
    expected = np.repeat(np.arange(len(runs)) % 2, runs).astype(np.uint8)
    assert decoded.ravel().tolist() == expected.tolist()
