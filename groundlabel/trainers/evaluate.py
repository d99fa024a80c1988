"""COCO mAP on the val split with pycocotools' ``COCOeval`` (the reference implementation).

Predictions go through the processor's own ``post_process_object_detection`` (threshold 0,
the top ``num_queries`` pairs) as at inference; ground truth is the reviewed boxes. The
result holds mAP@[.5:.95], mAP@0.5 and each class's AP, for the report's table.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from groundlabel.trainers.batches import ImageCache
from groundlabel.trainers.data import Sample


@dataclass
class Evaluation:
    map: float  # mAP@[.5:.95]
    map50: float
    per_class: dict[str, dict[str, float]] = field(default_factory=dict)  # name -> {"ap", "ap50"}

    def as_dict(self) -> dict[str, Any]:
        return {"map": self.map, "map50": self.map50, "per_class": self.per_class}


def _ground_truth(samples: Sequence[Sample], sizes: list[tuple[int, int]], classes: list[str]) -> dict:
    images, annotations = [], []
    for image_id, (sample, (width, height)) in enumerate(zip(samples, sizes, strict=True), start=1):
        images.append({"id": image_id, "width": width, "height": height, "file_name": str(sample.path)})
        for box, cls in zip(sample.boxes.tolist(), sample.classes.tolist(), strict=True):
            x0, y0, x1, y1 = box
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": int(cls) + 1,
                    "bbox": [x0, y0, x1 - x0, y1 - y0],
                    "area": (x1 - x0) * (y1 - y0),
                    "iscrowd": 0,
                }
            )
    categories = [{"id": i + 1, "name": name} for i, name in enumerate(classes)]
    return {"images": images, "annotations": annotations, "categories": categories}


@torch.inference_mode()
def predict(
    model: torch.nn.Module,
    processor: Any,
    samples: Sequence[Sample],
    device: torch.device,
    batch_size: int = 8,
    cache: ImageCache | None = None,
) -> tuple[list[tuple[int, int]], list[dict]]:
    """Image sizes and COCO-style detections (category ids from 1) for ``samples``."""
    cache = cache or ImageCache(0)
    was_training = model.training
    model.eval()
    sizes, detections = [], []
    try:
        for start in range(0, len(samples), batch_size):
            chunk = samples[start : start + batch_size]
            images = [cache.get(str(s.path)) for s in chunk]
            pixels = processor(images=images, return_tensors="pt")["pixel_values"].to(device)
            outputs = model(pixel_values=pixels)
            outputs.logits, outputs.pred_boxes = (
                outputs.logits.float().cpu(),
                outputs.pred_boxes.float().cpu(),
            )
            targets = [(im.height, im.width) for im in images]
            results = processor.post_process_object_detection(outputs, threshold=0.0, target_sizes=targets)
            for offset, (image, result) in enumerate(zip(images, results, strict=True)):
                sizes.append(image.size)
                image_id = start + offset + 1
                for score, label, box in zip(
                    result["scores"].tolist(),
                    result["labels"].tolist(),
                    result["boxes"].tolist(),
                    strict=True,
                ):
                    x0, y0, x1, y1 = box
                    detections.append(
                        {
                            "image_id": image_id,
                            "category_id": int(label) + 1,
                            "bbox": [x0, y0, x1 - x0, y1 - y0],
                            "score": float(score),
                        }
                    )
    finally:
        model.train(was_training)
    return sizes, detections


def coco_map(
    samples: Sequence[Sample], sizes: list[tuple[int, int]], detections: list[dict], classes: list[str]
) -> Evaluation:
    """COCOeval's bbox mAP, mAP@0.5 and per-class AP (-1 from COCOeval: the class has no val box)."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    if not samples:
        return Evaluation(0.0, 0.0)
    with contextlib.redirect_stdout(io.StringIO()):
        truth = COCO()
        truth.dataset = _ground_truth(samples, sizes, classes)
        truth.createIndex()
        if not detections:
            return Evaluation(0.0, 0.0, {name: {"ap": 0.0, "ap50": 0.0} for name in classes})
        results = truth.loadRes(detections)
        evaluator = COCOeval(truth, results, "bbox")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    precision = evaluator.eval["precision"]  # (iou, recall, class, area, max_dets)
    per_class = {}
    for k, name in enumerate(classes):
        all_ious = precision[:, :, k, 0, -1]
        at50 = precision[0, :, k, 0, -1]
        per_class[name] = {
            "ap": float(np.mean(all_ious[all_ious > -1])) if (all_ious > -1).any() else -1.0,
            "ap50": float(np.mean(at50[at50 > -1])) if (at50 > -1).any() else -1.0,
        }
    stats = evaluator.stats
    return Evaluation(max(0.0, float(stats[0])), max(0.0, float(stats[1])), per_class)


def evaluate(
    model: torch.nn.Module,
    processor: Any,
    samples: Sequence[Sample],
    classes: list[str],
    device: torch.device,
    batch_size: int = 8,
    cache: ImageCache | None = None,
) -> Evaluation:
    sizes, detections = predict(model, processor, samples, device, batch_size, cache)
    return coco_map(samples, sizes, detections, classes)
