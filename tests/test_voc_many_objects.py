"""VOC export of an image with more objects than a segmentation PNG can number (issue 30).

The XML has no limit, so every image's XML is written; an image with more than 254
objects gets no segmentation PNGs and the export names it, instead of refusing the dataset.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from groundlabel import masks
from groundlabel.cli import main
from groundlabel.formats.registry import get_format
from groundlabel.project import BoxSource, BoxStatus, ImageState, ReviewProject


def _masked(width: int, height: int, x: int, y: int) -> dict:
    pixels = np.zeros((height, width), dtype=bool)
    pixels[y : y + 2, x : x + 2] = True
    return {
        "class_id": 1,
        "xyxy": (x, y, x + 2, y + 2),
        "source": BoxSource.HAND,
        "status": BoxStatus.ACCEPTED,
        "mask": masks.encode(pixels),
    }


def test_an_image_with_too_many_objects_keeps_its_xml_and_is_named(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "images"
    folder.mkdir()
    for name in ("dense.png", "sparse.png"):
        Image.new("RGB", (80, 60), "gray").save(folder / name)
    with ReviewProject.open(folder) as project:
        class_id = project.insert_class("cell").id
        assert class_id == 1
        for image in project.images():
            project.ensure_image_info(image.id, with_hash=False)
            count = 260 if image.path == "dense.png" else 3
            project.insert_boxes(image.id, [_masked(80, 60, i % 26 * 3, i // 26 * 3) for i in range(count)])
            project.set_image_state(image.id, ImageState.REVIEWED)
    out = tmp_path / "voc"
    assert main(["export", str(folder), "--format", "voc", "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "1 image(s) have more than 254 objects" in err and "dense.png" in err
    assert (out / "Annotations" / "dense.xml").read_text().count("<object>") == 260
    assert "<segmented>0</segmented>" in (out / "Annotations" / "dense.xml").read_text()
    assert not (out / "SegmentationObject" / "dense.png").exists()
    assert not (out / "SegmentationClass" / "dense.png").exists()
    assert (out / "SegmentationObject" / "sparse.png").exists()
    assert (out / "ImageSets" / "Segmentation" / "train.txt").read_text().split() == ["sparse"]
    read = {image.file_name: image for image in get_format("voc").read(out, None).images}
    assert len(read["dense.png"].boxes) == 260 and all(b.mask is None for b in read["dense.png"].boxes)
    assert sum(b.mask is not None for b in read["sparse.png"].boxes) == 3
