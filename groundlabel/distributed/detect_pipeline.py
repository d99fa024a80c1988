"""``detect --ray``: Ray Data reads the files' bytes, a pool of actors decodes and detects.

Each actor loads the ``Detector`` once and runs the plain path's own ``detect`` on the
bytes (``EncodedImage``), so decoding, shape-bucketed batching, thresholds and error
reports are the same code as without Ray: a broken file is an error row, never a failed
job. Results stream back to the driver as they are ready, in no particular order.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from groundlabel.batching import window_size
from groundlabel.detector import DetectionResult

MAX_READ_BLOCKS = 1000


@dataclass(frozen=True)
class DetectJob:
    """Everything an actor needs to build its detector and run it (sent to every worker)."""

    model: str
    device: str
    dtype: str
    labels: str
    box_threshold: float
    text_threshold: float
    nms_iou: float | None
    max_detections: int | None
    batch_size: int
    threads: int
    masks: str | None = None  # a segmenter checkpoint: each box also gets its mask, on the worker


class DetectActor:
    """One worker of the pool: a detector loaded once, used for every batch of file bytes."""

    def __init__(self, job: DetectJob) -> None:
        import torch

        from groundlabel.cli import _quiet_libraries
        from groundlabel.detector import Detector
        from groundlabel.labels import LabelSet

        _quiet_libraries()
        torch.set_num_threads(job.threads)
        self.job = job
        self.detector = Detector.load(job.model, device=job.device, dtype=job.dtype)
        self.labels = LabelSet.parse(job.labels)
        self.segmenter = None
        if job.masks:
            from groundlabel.segmenters import load_segmenter

            self.segmenter = load_segmenter(job.masks, device=job.device, dtype=job.dtype)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from groundlabel.images import EncodedImage

        sources = [EncodedImage(str(p), bytes(b)) for p, b in zip(batch["path"], batch["bytes"], strict=True)]
        job = self.job
        results = self.detector.detect(
            sources,
            self.labels,
            box_threshold=job.box_threshold,
            text_threshold=job.text_threshold,
            nms_iou=job.nms_iou,
            max_detections=job.max_detections,
            batch_size=job.batch_size,
        )
        if self.segmenter is not None:
            results = [self._with_masks(result, sources) for result in results]
        rows = [json.dumps(asdict(result)) for result in results]
        return {"result": np.asarray(rows, dtype=object)}

    def _with_masks(self, result: DetectionResult, sources: list[Any]) -> DetectionResult:
        """The plain path's ``MaskRefiner.refine``, decoding the bytes already here (not the path)."""
        from groundlabel.images import load_image
        from groundlabel.segmenters.refine import add_masks

        if not result.ok or not result.boxes:
            return result
        encoded = next(s for s in sources if s.name == result.source)
        return add_masks(self.segmenter, load_image(encoded), result)


def default_workers(threads: int, gpus_per_worker: float) -> int:
    """As many actors as the cluster has room for: its GPUs, or else its CPUs, divided up."""
    import ray

    resources = ray.cluster_resources()
    if gpus_per_worker > 0:
        return max(1, int(resources.get("GPU", 0) // gpus_per_worker))
    return max(1, int(resources.get("CPU", 1) // threads))


def detect_on_ray(
    files: Sequence[str], job: DetectJob, workers: int, gpus_per_worker: float = 0.0
) -> Iterator[DetectionResult]:
    """Results for ``files`` (local paths every node can read, or ``s3://``/``gs://`` URIs)."""
    import ray.data

    if not files:
        return
    # Reading bytes takes no CPU slot: the actors hold them all, and a read task waiting
    # for a free CPU would stall the pipeline.
    dataset = ray.data.read_binary_files(
        list(files),
        include_paths=True,
        num_cpus=0,
        concurrency=2,
        # enough blocks that every actor gets work from the start, even for a few files
        override_num_blocks=min(len(files), MAX_READ_BLOCKS),
    )
    options: dict[str, Any] = {"num_gpus": gpus_per_worker} if gpus_per_worker > 0 else {}
    with warnings.catch_warnings():
        # Ray 2.60 calls max_restarts "deprecated" but has no other way to set it (the
        # ray extra stays below 2.64, where it goes).
        warnings.simplefilter("ignore", DeprecationWarning)
        dataset = _map(dataset, job, workers, options)
    for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
        for text in batch["result"]:
            row = json.loads(text)
            row["image_size"] = tuple(row["image_size"])
            yield DetectionResult(**row)


def _map(dataset: Any, job: DetectJob, workers: int, options: dict[str, Any]) -> Any:
    return dataset.map_batches(
        DetectActor,
        fn_constructor_kwargs={"job": job},
        batch_size=window_size(job.batch_size),
        batch_format="numpy",
        concurrency=workers,
        num_cpus=job.threads,
        # Ray's core warns on every run when a restartable actor has constructor arguments;
        # a lost actor fails the run instead, and --resume (with -o DIR/) continues it.
        max_restarts=0,
        **options,
    )
