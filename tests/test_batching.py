"""Batching never changes a result: only images of the same resized shape share a batch."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from groundlabel.batching import bucket_by_shape, window_size, windows
from groundlabel.labels import LabelSet

PHOTOS = Path(__file__).resolve().parents[1] / "assets" / "reference" / "photos"
LABELS = LabelSet.parse("cat, person, rocket")


def test_bucket_by_shape_groups_equal_shapes_in_first_seen_order():
    shapes = [(2, 3), (4, 4), None, (2, 3), (4, 4), (2, 3), (2, 3)]
    assert bucket_by_shape(shapes, 2) == [[0, 3], [5, 6], [1, 4]]
    assert bucket_by_shape(shapes, 1) == [[0], [3], [5], [6], [1], [4]]
    assert list(windows(range(5), 2)) == [[0, 1], [2, 3], [4]]
    assert window_size(1) == 1


@pytest.fixture(scope="module")
def mixed_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Five images of three sizes, interleaved, plus a broken file in the middle."""
    folder = tmp_path_factory.mktemp("mixed")
    cat = Image.open(PHOTOS / "chelsea.png").convert("RGB")
    astronaut = Image.open(PHOTOS / "astronaut.png").convert("RGB")
    images = [
        cat,
        astronaut,
        cat.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
        astronaut.resize((640, 360)),
        astronaut.rotate(90),
    ]
    for i, image in enumerate(images):
        image.save(folder / f"{i:02d}.png")
    (folder / "02b.png").write_bytes(b"\x89PNG broken")
    return folder


def test_every_batch_size_gives_the_single_image_result(tiny_detector, mixed_folder):
    """Same boxes, classes and sizes; numbers equal up to float32 rounding of batched matrix products.

    Padding (the old rule) moved scores by up to 0.1 and changed box counts; a batched
    GEMM may round the last bit differently (measured: at most 4e-7), hence the 1e-5 bound.
    """

    def run(batch_size: int) -> list:
        return list(
            tiny_detector.detect(
                mixed_folder, LABELS, box_threshold=0.05, text_threshold=0.05, batch_size=batch_size
            )
        )

    single = run(1)
    assert len(single) == 6 and sum(not r.ok for r in single) == 1
    assert sum(len(r.boxes) for r in single) > 10  # the comparison is about real boxes
    for batch_size in (3,):  # one window: batches of equal shape run out of input order
        for one, batched in zip(single, run(batch_size), strict=True):
            assert (batched.source, batched.image_size, batched.error) == (
                one.source,
                one.image_size,
                one.error,
            )
            assert batched.labels == one.labels, f"batch size {batch_size} changed {one.source}"
            assert batched.scores == pytest.approx(one.scores, abs=1e-5, rel=0)
            for box, reference in zip(batched.boxes, one.boxes, strict=True):
                assert box == pytest.approx(reference, abs=1e-3, rel=0)  # pixels


def test_batches_hold_only_images_of_one_shape(tiny_detector, mixed_folder):
    sources = sorted(mixed_folder.glob("*.png"))
    units = list(tiny_detector._batches(sources, 10**9, 3))
    sizes = []
    for unit in units:
        for indices, pixels in unit.batches:
            shapes = {unit.items[i].image.size for i in indices}
            assert len(shapes) == 1  # equal image sizes here mean equal resized shapes
            assert pixels["pixel_mask"].all()  # nothing was padded
            sizes.append(len(indices))
    assert max(sizes) == 2  # images of one shape do share a batch
