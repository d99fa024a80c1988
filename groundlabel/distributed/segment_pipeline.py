"""``segment --ray``: a pool of actors, each with the segmenter loaded once, masks the plan's images.

The driver keeps the project (SQLite) and writes each image's masks as its result comes
back, one ``SetMasks`` per image as without Ray, so Ctrl+C keeps every finished image and a
rerun goes on. Workers read the image files themselves (paths every node can read) and run
the plain path's ``masks_for_image`` on the plain path's ``load_image``: the same masks.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

XYXY = tuple[float, float, float, float]


@dataclass(frozen=True)
class SegmentJob:
    """What an actor needs to build its segmenter (sent to every worker)."""

    model: str
    device: str
    dtype: str
    threads: int
    max_pixels: int


class SegmentActor:
    def __init__(self, job: SegmentJob) -> None:
        import torch

        from groundlabel.cli import _quiet_libraries
        from groundlabel.segmenters import load_segmenter

        _quiet_libraries()
        torch.set_num_threads(job.threads)
        self.job = job
        self.segmenter = load_segmenter(job.model, device=job.device, dtype=job.dtype)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from groundlabel.errors import ImageLoadError
        from groundlabel.images import load_image
        from groundlabel.segmenters.refine import masks_for_image

        rows = []
        for index, path, boxes in zip(batch["index"], batch["path"], batch["boxes"], strict=True):
            row: dict[str, Any] = {"index": int(index), "masks": [], "scores": [], "error": None}
            try:
                image = load_image(str(path), max_pixels=self.job.max_pixels)
                row["masks"], row["scores"] = masks_for_image(self.segmenter, image, json.loads(boxes))
            except ImageLoadError as exc:
                row["error"] = exc.reason
            rows.append(json.dumps(row))
        return {"result": np.asarray(rows, dtype=object)}


def segment_on_ray(
    items: Sequence[tuple[str, list[XYXY]]], job: SegmentJob, workers: int, gpus_per_worker: float = 0.0
) -> Iterator[dict[str, Any]]:
    """One ``{"index", "masks", "scores", "error"}`` per item, as each is done (any order)."""
    import ray.data

    if not items:
        return
    dataset = ray.data.from_items(
        [
            {"index": i, "path": p, "boxes": json.dumps([list(b) for b in boxes])}
            for i, (p, boxes) in enumerate(items)
        ],
        override_num_blocks=min(len(items), 1000),
    )
    options: dict[str, Any] = {"num_gpus": gpus_per_worker} if gpus_per_worker > 0 else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # max_restarts, as in detect_pipeline
        dataset = dataset.map_batches(
            SegmentActor,
            fn_constructor_kwargs={"job": job},
            batch_size=1,  # one image per call: results stream back image by image
            batch_format="numpy",
            concurrency=workers,
            num_cpus=job.threads,
            max_restarts=0,
            **options,
        )
    for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
        for text in batch["result"]:
            yield json.loads(text)
