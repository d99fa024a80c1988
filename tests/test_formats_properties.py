"""Property tests: any dataset survives write -> read in every format, up to the documented rounding."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from groundlabel.formats.dataset import Dataset, DatasetBox, DatasetImage
from groundlabel.formats.registry import get_format
from groundlabel.formats.voc import from_voc_bndbox, to_voc_bndbox
from groundlabel.formats.yolo import flat_name

class_names = st.lists(
    st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=8).filter(
        # ':' is refused by VOC's labelmap with a clear error (it separates a labelmap line's fields).
        lambda n: n.strip() == n and n and ":" not in n
    ),
    min_size=1,
    max_size=4,
    unique=True,
)


@st.composite
def datasets(draw) -> Dataset:
    names = draw(class_names)
    images = []
    for index in range(draw(st.integers(1, 4))):
        width, height = draw(st.integers(1, 3000)), draw(st.integers(1, 3000))
        boxes = []
        for _ in range(draw(st.integers(0, 4))):
            x0, x1 = sorted(draw(st.tuples(st.floats(0, width), st.floats(0, width))))
            y0, y1 = sorted(draw(st.tuples(st.floats(0, height), st.floats(0, height))))
            boxes.append(DatasetBox((x0, y0, x1, y1), draw(st.sampled_from(names))))
        folder = draw(st.sampled_from(["", "a/", "a/b c/"]))
        images.append(DatasetImage(f"{folder}img{index}.png", width, height, boxes))
    return Dataset(class_names=names, images=images)


TOLERANCE = {
    "coco": lambda size: 1e-9 * size,
    "hf": lambda size: 1e-9 * size,
    "labelstudio": lambda size: 1e-9 * size,
    "yolo": lambda size: 1e-6 * size,
}


@pytest.mark.parametrize("name", ["coco", "voc", "yolo", "hf", "labelstudio"])
@settings(max_examples=25, deadline=None)
@given(dataset=datasets())
def test_write_then_read_is_lossless_up_to_rounding(name: str, dataset: Dataset) -> None:
    with tempfile.TemporaryDirectory() as out:
        get_format(name).write(dataset, Path(out), None)
        back = get_format(name).read(Path(out), None)
    by_name = {Path(i.file_name).with_suffix("").as_posix(): i for i in back.images}
    assert len(by_name) == len(dataset.images)
    for image in dataset.images:
        stem = Path(image.file_name).with_suffix("").as_posix()
        read = by_name[flat_name(stem) if name == "yolo" else stem]  # YOLO flattens subfolders
        assert [b.class_name for b in read.boxes] == [b.class_name for b in image.boxes]
        for original, got in zip(image.boxes, read.boxes, strict=True):
            if read.normalised:  # YOLO keeps fractions; the importer scales them
                got_xyxy = [got.xyxy[0] * image.width, got.xyxy[1] * image.height,
                            got.xyxy[2] * image.width, got.xyxy[3] * image.height]  # fmt: skip
            else:
                got_xyxy = list(got.xyxy)
            if name == "voc":
                expected = from_voc_bndbox(*to_voc_bndbox(original.xyxy, image.width, image.height))
                assert got_xyxy == list(expected)
                assert all(abs(a - b) <= 1.0 for a, b in zip(got_xyxy, original.xyxy, strict=True))
            else:
                size = max(image.width, image.height)
                assert got_xyxy == pytest.approx(list(original.xyxy), abs=TOLERANCE[name](size) + 1e-9)


@given(x0=st.floats(0, 1000), width=st.floats(0, 1000))
def test_voc_rounding_stays_inside_and_moves_edges_at_most_half_a_pixel(x0: float, width: float) -> None:
    x1 = min(x0 + width, 1000)
    xmin, _, xmax, _ = to_voc_bndbox((x0, 0, x1, 0), 1000, 1000)
    back = from_voc_bndbox(xmin, 1, xmax, 1)
    assert 1 <= xmin <= xmax <= 1000
    limit = 0.5 if xmax > xmin or x1 - x0 >= 1 else 1.0  # a sub-pixel box becomes one pixel
    assert abs(back[0] - x0) <= limit and abs(back[2] - x1) <= limit
