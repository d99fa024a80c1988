"""Issue 30: every importer fuzzed with malformed and hostile entries.

Each example starts from files a real export wrote (COCO, Label Studio, HF, shards, VOC with
its PNGs; YOLO and YOLO-seg lines are drawn whole), breaks them where hypothesis says (a mask's
counts, sizes, polygon points, brush bytes, boxes, PNG bytes, ...), and imports them through the
real CLI into a project that already holds work. Then one of two things must be true:

- the import failed with exit 2 and one ``groundlabel: error:`` line, no traceback, and the
  project's database files are byte for byte what they were; or
- it succeeded, the project holds no mask the door would refuse, it exports in that format, and
  its COCO RLE export re-imported into a copy of the original project gives the same boxes and
  masks.

Examples are few (CI time is tight) but each breaks a file in a new place. The memory and
decompression bombs are in ``test_mask_door.py``, measured in a child process.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from groundlabel import masks
from groundlabel.cli import main
from groundlabel.formats.coco import read_coco
from groundlabel.formats.export_job import export_dataset
from groundlabel.project.exchange import import_dataset, project_dataset
from groundlabel.project.mask_check import find_bad_masks
from groundlabel.project.models import BoxStatus
from groundlabel.project.store import ReviewProject

SIZES = {"a.png": (48, 32), "b.png": (30, 20)}  # (width, height)
FUZZ = settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)


def _cli(*argv: object) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main([str(a) for a in argv])
    return code, err.getvalue()


def _state(folder: Path) -> str:
    files = sorted((folder / ".groundlabel").glob("project.db*"))
    return "|".join(f"{p.name}:{hashlib.sha256(p.read_bytes()).hexdigest()}" for p in files)


def _content(folder: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Each image's boxes: class, corners (to 1e-4 px) and the mask's RLE text (or None)."""
    content: dict[str, list[tuple[Any, ...]]] = {}
    with ReviewProject.open(folder, scan=False) as project:
        names = {c.id: c.name for c in project.classes()}
        for image in project.images():
            rows = [
                (
                    names[b.class_id],
                    tuple(round(v, 4) for v in b.xyxy),
                    None if b.mask is None else b.mask["counts"],
                )
                for b in project.boxes(image.id, include_rejected=False)
            ]
            content[image.path] = sorted(rows, key=repr)
    return content


def _disc(width: int, height: int, cx: int, cy: int, r: int) -> np.ndarray:
    ys, xs = np.mgrid[:height, :width]
    return (xs - cx) ** 2 + (ys - cy) ** 2 <= r * r


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict[str, Path]:
    """``target``: a project holding a reviewed box (what an import must not damage); ``sources``:
    one export per format of another project whose boxes have masks (what gets broken)."""
    root = tmp_path_factory.mktemp("fuzz")
    source = root / "source"
    source.mkdir()
    for name, (width, height) in SIZES.items():
        Image.new("RGB", (width, height), "gray").save(source / name)
    target = root / "target"
    shutil.copytree(source, target)
    document = {
        "images": [
            {"id": i, "file_name": name, "width": w, "height": h}
            for i, (name, (w, h)) in enumerate(SIZES.items(), start=1)
        ],
        "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [4, 4, 20, 14],
             "segmentation": masks.encode(_disc(48, 32, 14, 11, 7)), "iscrowd": 0},
            {"id": 2, "image_id": 1, "category_id": 2, "bbox": [30, 2, 10, 10],
             "segmentation": [[30, 2, 40, 2, 40, 12]], "iscrowd": 0},
            {"id": 3, "image_id": 2, "category_id": 2, "bbox": [2, 2, 8, 6], "iscrowd": 0},
            {"id": 4, "image_id": 2, "category_id": 1, "bbox": [10, 5, 12, 10],
             "segmentation": masks.encode(_disc(30, 20, 16, 10, 5)), "iscrowd": 0},
        ],
    }  # fmt: skip
    (root / "source.json").write_text(json.dumps(document))
    assert _cli("import", source, root / "source.json", "-f", "coco")[0] == 0
    (root / "target.json").write_text(
        json.dumps(
            {
                "images": [{"id": 1, "file_name": "a.png", "width": 48, "height": 32}],
                "categories": [{"id": 1, "name": "bird"}],
                "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 5, 5]}],
            }
        )
    )
    assert _cli("import", target, root / "target.json", "-f", "coco")[0] == 0
    sources = {}
    for fmt in ("coco", "labelstudio", "hf", "shards", "voc"):
        out = root / "exports" / (f"{fmt}.json" if fmt in ("coco", "labelstudio") else fmt)
        options = ["--ls-masks", "brush"] if fmt == "labelstudio" else ["--coco-masks", "rle"]
        code, err = _cli(
            "export", source, "-f", fmt, "-o", out, "--images", "none", "--include", "all", *options
        )
        assert code == 0, err
        sources[fmt] = out
    return {"root": root, "target": target, **sources}


def _export(project: Path, fmt: str, out: Path, **options: Any) -> list[str]:
    """Export every image of a project (the core path ``groundlabel export`` takes); its warnings."""
    with ReviewProject.open(project, scan=False) as opened:
        dataset = project_dataset(opened, "all").dataset
    outcome = export_dataset(dataset, out, fmt, project, image_mode="none", options=options)
    return outcome.warnings


def _attempt(world: dict[str, Path], fmt: str, make: Callable[[Path], Path]) -> str:
    """Import what ``make`` writes into a copy of the target project and check the two outcomes."""
    work = Path(tempfile.mkdtemp(dir=world["root"]))
    try:
        project = work / "project"
        shutil.copytree(world["target"], project)
        source = make(work)
        before = _state(project)
        code, err = _cli("import", project, source, "-f", fmt, "--as", "accepted")
        assert "Traceback" not in err
        if code != 0:
            errors = [line for line in err.splitlines() if line.startswith("groundlabel: error:")]
            assert code == 2 and len(errors) == 1, err
            assert _state(project) == before, "a failed import changed the project"
            return "refused"
        with ReviewProject.open(project, scan=False) as opened:
            assert find_bad_masks(opened) == []
        _export(project, fmt, work / ("out.json" if fmt in ("coco", "labelstudio") else "out"))
        assert not any(
            "without its mask" in w for w in _export(project, "coco", work / "rt.json", coco_masks="rle")
        )
        again = work / "again"
        shutil.copytree(world["target"], again)
        with ReviewProject.open(again, scan=False) as opened:
            import_dataset(opened, read_coco(work / "rt.json"), BoxStatus.ACCEPTED)
        assert _content(again) == _content(project)
        return "stored"
    finally:
        shutil.rmtree(work, ignore_errors=True)


# ------------------------------------------------------------------ hostile values


def _hostile_values(width: int = 48, height: int = 32) -> st.SearchStrategy[Any]:
    pixels = width * height
    fixed = [
        math.nan, math.inf, -math.inf, -1, 0, 1, 0.5, 1e308, 10**15, 2**32, 2**64, True, None, "", "x",
        "@@@@!!!~~~", ":d0n0", "0", "é", [], {}, [[]], [10, 20, 30], [pixels, pixels], [pixels], [0, pixels],
        [pixels - 1, 2], [50000, 50000], [height, width], [width, height], [-1, 5], [1, 2, 3],
        [[0, 0, 1e308, 0, 0, 1e308]], [[0, 0, math.nan, 1, 2, 2]], [[-1e6, 0, 5, 5, 0, 5]], [[1, 1, 2, 2]],
        {"size": [height, width], "counts": "@@"}, {"size": [50000, 50000], "counts": [2_500_000_000]},
        {"size": [height, width], "counts": [10**15]}, [255] * 12, [0, 0, 0, 16, 255, 255], [300, 1],
    ]  # fmt: skip
    return st.one_of(
        st.sampled_from(fixed),
        st.integers(-(2**40), 2**40),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=6),
        st.lists(st.integers(-3, 2**33), max_size=6),
        st.lists(st.floats(-1e9, 1e9), min_size=1, max_size=8),
    )


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list) and len(value) <= 16:
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    elif isinstance(value, list):
        found += [(*prefix, 0), (*prefix, len(value) - 1)]
    return found


MASK_PLACES = re.compile(r"segmentation|counts|size|rle|masks|original_|points")
BOX_PLACES = re.compile(r"bbox|boxes|width|height|value|\bx\b|\by\b")


@st.composite
def _edits(draw, document: Any, count: int = 3) -> list[tuple[tuple[Any, ...], Any]]:
    """A few (place, hostile value) pairs in a JSON document: mostly in masks, then in boxes
    and sizes, then anywhere."""
    places = _paths(document)
    named = [(p, " ".join(map(str, p))) for p in places]
    in_masks = [p for p, text in named if MASK_PLACES.search(text)] or places
    in_boxes = [p for p, text in named if BOX_PLACES.search(text)] or places
    edits = []
    for _ in range(draw(st.integers(0, count))):
        pool = draw(st.sampled_from([in_masks, in_masks, in_boxes, places]))
        edits.append((draw(st.sampled_from(pool)), draw(_hostile_values())))
    return edits


def _apply(document: Any, edits: list[tuple[tuple[Any, ...], Any]]) -> Any:
    document = json.loads(json.dumps(document))
    for place, value in edits:
        node = document
        try:
            for key in place[:-1]:
                node = node[key]
            node[place[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue  # an earlier edit replaced the way there
    return document


# ------------------------------------------------------------------ the formats


def _json_fuzz(world, data, fmt: str) -> None:
    """One JSON format's file, edited by Hypothesis, through the importer (COCO, Label Studio)."""
    document = json.loads(world[fmt].read_text())
    edits = data.draw(_edits(document))

    def make(work: Path) -> Path:
        path = work / "in.json"
        path.write_text(json.dumps(_apply(document, edits)))
        return path

    _attempt(world, fmt, make)


@FUZZ
@given(data=st.data())
def test_coco_fuzz(world, data) -> None:
    _json_fuzz(world, data, "coco")


@FUZZ
@given(data=st.data())
def test_labelstudio_fuzz(world, data) -> None:
    _json_fuzz(world, data, "labelstudio")


def _jsonl_fuzz(world: dict[str, Path], fmt: str, data: st.DataObject) -> None:
    folder = world[fmt]
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in (".jsonl", ".json"))
    file = data.draw(st.sampled_from(files))
    whole = file.suffix == ".json"  # a manifest: one document; else one JSON row a line
    lines = [file.read_text()] if whole else file.read_text().splitlines()
    number = data.draw(st.integers(0, len(lines) - 1))
    row = json.loads(lines[number])
    edits = data.draw(_edits(row))
    cut = data.draw(st.sampled_from([None, None, None, 1, 7]))  # sometimes a torn or broken line

    def make(work: Path) -> Path:
        copy = work / "src"
        shutil.copytree(folder, copy)
        text = json.dumps(_apply(row, edits))
        changed = [*lines[:number], text if cut is None else text[:-cut], *lines[number + 1 :]]
        (copy / file.relative_to(folder)).write_text("\n".join(changed) + "\n")
        return copy

    _attempt(world, fmt, make)


@FUZZ
@given(data=st.data())
def test_hf_fuzz(world, data) -> None:
    _jsonl_fuzz(world, "hf", data)


@FUZZ
@given(data=st.data())
def test_shards_fuzz(world, data) -> None:
    _jsonl_fuzz(world, "shards", data)


_NUMBER_TOKENS = [
    "0",
    "0.5",
    "1",
    "-0.1",
    "1.5",
    "nan",
    "inf",
    "-inf",
    "1e308",
    "1e-320",
    "x",
    "",
    "0x10",
    "2",
]


@st.composite
def _yolo_line(draw) -> str:
    """``class cx cy w h`` or ``class x1 y1 ... xn yn`` (seg), numbers mostly plausible."""
    plausible = st.floats(0, 1).map(lambda v: f"{v:.4f}")
    token = st.one_of(plausible, plausible, plausible, st.sampled_from(_NUMBER_TOKENS), st.floats().map(repr))
    count = draw(st.sampled_from([4, 4, 6, 8, 10, 3, 5]))
    klass = draw(st.sampled_from(["0", "1", "0", "1", "2", "-1", "x", "1.0"]))
    return " ".join([klass, *(draw(token) for _ in range(count))])


@FUZZ
@given(
    lines=st.dictionaries(st.sampled_from(["a", "b", "c"]), st.lists(_yolo_line(), max_size=4), max_size=2)
)
def test_yolo_and_yolo_seg_fuzz(world, lines) -> None:
    def make(work: Path) -> Path:
        folder = work / "yolo"
        (folder / "labels" / "train").mkdir(parents=True)
        (folder / "data.yaml").write_text("path: .\ntrain: images/train\nnames: [cat, dog]\n")
        for stem, rows in lines.items():
            (folder / "labels" / "train" / f"{stem}.txt").write_text("\n".join(rows) + "\n")
        return folder

    _attempt(world, "yolo", make)


def _png_bomb(width: int = 50000, height: int = 50000) -> bytes:
    """A valid PNG signature and header claiming ``width`` x ``height`` with a tiny body."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


def _png(array: np.ndarray, mode: str = "P") -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array.astype(np.uint8), mode=mode if array.ndim == 2 else "RGB").save(buffer, "PNG")
    return buffer.getvalue()


def _hostile_png(draw) -> bytes:
    kind = draw(st.sampled_from(["bomb", "wrong-size", "garbage", "truncated", "rgb", "many-objects", "big"]))
    if kind == "bomb":
        return _png_bomb()
    if kind == "big":
        return _png_bomb(draw(st.sampled_from([48, 60000])), draw(st.sampled_from([32, 70000])))
    if kind == "wrong-size":
        return _png(np.ones((33, 48)))
    if kind == "garbage":
        return draw(st.binary(max_size=64))
    if kind == "rgb":
        return _png(np.full((32, 48, 3), draw(st.integers(0, 255)), dtype=np.uint8))
    if kind == "many-objects":
        return _png(np.arange(48 * 32).reshape(32, 48) % 256)
    whole = _png(np.ones((32, 48)))
    return whole[: draw(st.integers(8, len(whole) - 1))]


@FUZZ
@given(data=st.data())
def test_voc_and_its_pngs_fuzz(world, data) -> None:
    folder = world["voc"]
    xmls = sorted((folder / "Annotations").glob("*.xml"))
    pngs = sorted((folder / "SegmentationObject").glob("*.png"))
    xml = data.draw(st.sampled_from(xmls))
    text = xml.read_text()
    fields = list(re.finditer(r"<(width|height|xmin|ymin|xmax|ymax|name|depth)>([^<]*)</\1>", text))
    changes = data.draw(
        st.lists(
            st.tuples(
                st.sampled_from(fields), st.sampled_from(["nan", "inf", "-5", "0", "99999", "1e308", "x", ""])
            ),
            max_size=2,
        )
    )
    broken = {png.name: _hostile_png(data.draw) for png in pngs if data.draw(st.booleans())}

    def make(work: Path) -> Path:
        copy = work / "voc"
        shutil.copytree(folder, copy)
        changed = text
        for match, value in sorted(changes, key=lambda c: -c[0].start()):
            changed = changed[: match.start(2)] + value + changed[match.end(2) :]
        (copy / "Annotations" / xml.name).write_text(changed)
        for name, body in broken.items():
            (copy / "SegmentationObject" / name).write_bytes(body)
        return copy

    _attempt(world, "voc", make)
