"""Which reader and writer each ``--format`` name uses."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from groundlabel.formats.dataset import Dataset, Progress


@dataclass(frozen=True)
class DatasetFormat:
    name: str
    # write(dataset, out, progress, placer, **format options) -> the files written; a placer
    # (``images_out.ImagePlacer``) puts the images beside them, None writes annotations only
    write: Callable[..., list[Path]]
    # read(path, progress) -> dataset
    read: Callable[[Path, Progress | None], Dataset]


def get_format(name: str) -> DatasetFormat:
    from groundlabel.formats import coco, hf, labelstudio, shards, voc, yolo

    formats = {
        "coco": DatasetFormat("coco", coco.write_coco_dataset, coco.read_coco),
        "voc": DatasetFormat("voc", voc.write_voc, voc.read_voc),
        "yolo": DatasetFormat("yolo", yolo.write_yolo, yolo.read_yolo),
        "hf": DatasetFormat("hf", hf.write_hf, hf.read_hf),
        "labelstudio": DatasetFormat(
            "labelstudio", labelstudio.write_labelstudio, labelstudio.read_labelstudio
        ),
        "shards": DatasetFormat("shards", shards.write_shards, shards.read_shards),
    }
    return formats[name]
