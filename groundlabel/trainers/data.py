"""What ``train`` learns from: the images and boxes ``export`` would write, in the same split.

The selection is ``project.exchange.project_dataset`` (accepted and hand-drawn boxes of
reviewed images, reviewed-empty images as negatives) and the split is ``export``'s
(``formats.export_job.assign``: the same plan and seed put every image in the same split),
so a model trained here is evaluated on exactly the images an exported val set holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from groundlabel.errors import GroundlabelError
from groundlabel.trainers.base import DEFAULT_TRAIN_SPLIT  # re-exported: the value lives there


@dataclass(frozen=True)
class Sample:
    """One image: its path, xyxy pixel boxes (as shown) and class indices into ``TrainingData.classes``."""

    path: Path
    boxes: np.ndarray
    classes: np.ndarray


@dataclass
class TrainingData:
    classes: list[str]
    train: list[Sample]
    val: list[Sample]
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (image path, reason)


def training_data(
    folder: str | Path,
    split: str | None = DEFAULT_TRAIN_SPLIT,
    seed: int = 0,
    split_by: str = "auto",
    chunk_frames: int | None = None,
) -> TrainingData:
    """The reviewed images of the project in ``folder``, split as ``export --split SPLIT --seed SEED``.

    ``train`` must be one of the splits; ``val`` is optional (without it nothing is evaluated).
    A video's frames are split by whole videos or chunks of contiguous frames (``split_by``,
    as ``export --split-by``), never frame by frame.
    """
    from groundlabel.cli.export import project_database_must_exist
    from groundlabel.formats.export_job import assign
    from groundlabel.formats.splits import parse_splits
    from groundlabel.project.exchange import project_dataset
    from groundlabel.project.store import ReviewProject

    folder = Path(folder)
    project_database_must_exist(folder)
    splits = parse_splits(split or DEFAULT_TRAIN_SPLIT)
    if "train" not in [s.name for s in splits]:
        raise GroundlabelError(
            f"--split {split!r} has no 'train' split; write e.g. --split train=0.8,val=0.2"
        )
    with ReviewProject.open(folder) as project:
        report = project_dataset(project, "reviewed", None, split_by, chunk_frames)
    dataset = report.dataset
    assign(dataset, splits, seed)
    classes = list(dataset.class_names)
    index = {name: i for i, name in enumerate(classes)}
    parts: dict[str, list[Sample]] = {"train": [], "val": []}
    for image in dataset.images:
        if image.split not in parts:
            continue
        boxes = np.array([b.xyxy for b in image.boxes], dtype=np.float32).reshape(-1, 4)
        labels = np.array([index[b.class_name] for b in image.boxes], dtype=np.int64)
        path = dataset.files.get(image.file_name, folder / image.file_name)  # a frame: decoded
        parts[image.split].append(Sample(path, boxes, labels))
    if not parts["train"]:
        raise GroundlabelError(
            f"{folder}: no reviewed image falls in the train split; review some images first "
            "(only reviewed images are trained on, as export takes them)"
        )
    if not classes or not any(len(s.boxes) for s in parts["train"]):
        raise GroundlabelError(f"{folder}: the reviewed train images hold no accepted or hand-drawn box")
    return TrainingData(classes, parts["train"], parts["val"], list(report.failures))
