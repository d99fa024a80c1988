"""Run in the readers venv: what torchvision and Ultralytics read from an export, as JSON.

Usage: python torch_readers.py COCO_DIR YOLO_DIR WORK_DIR > result.json

The PyPI torchvision is a CUDA build whose C++ ops cannot load next to the CPU torch; its
import then fails on the missing ``torchvision::nms`` schema. This script declares that
schema and backs it with Ultralytics' pure-PyTorch NMS (documented to match torchvision's),
which is all the dataset readers and the validation step of a training run need.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch

_lib = torch.library.Library("torchvision", "DEF")
_lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
_lib.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")


def _nms(dets: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    from ultralytics.utils.nms import TorchNMS

    return TorchNMS.nms(dets, scores, iou_threshold)


_lib.impl("nms", _nms, "CPU")
import torchvision  # noqa: E402
import torchvision.extension  # noqa: E402

torchvision.extension._has_ops = lambda: True  # nms now has a CPU kernel


def grey(array: np.ndarray) -> list[float]:
    """A channel-order-free fingerprint: the mean over channels, 8x8 block means."""
    g = array.astype(np.float64)
    if g.ndim == 3:
        g = g.mean(axis=2)
    h, w = g.shape
    return [
        float(g[i * h // 8 : (i + 1) * h // 8, j * w // 8 : (j + 1) * w // 8].mean())
        for i in range(8)
        for j in range(8)
    ]


def torchvision_coco(coco: Path) -> dict:
    from torchvision.datasets import CocoDetection

    result = {}
    for ann in sorted((coco / "annotations").glob("instances_*.json")):
        split = ann.stem.removeprefix("instances_")
        dataset = CocoDetection(str(coco / "images" / split), str(ann))
        names = {c["id"]: c["name"] for c in dataset.coco.loadCats(dataset.coco.getCatIds())}
        items = {}
        for index in range(len(dataset)):
            image, targets = dataset[index]
            info = dataset.coco.loadImgs(dataset.ids[index])[0]
            items[info["file_name"]] = {
                "size": list(image.size),
                "grey": grey(np.asarray(image.convert("RGB"))),
                "boxes": [[names[t["category_id"]], *t["bbox"]] for t in targets],
            }
        result[split] = items
    return result


def ultralytics_yolo(yolo: Path, work: Path) -> dict:
    import cv2
    from ultralytics import YOLO
    from ultralytics.data.dataset import YOLODataset
    from ultralytics.data.utils import check_det_dataset

    data = check_det_dataset(str(yolo / "data.yaml"))
    result: dict = {"names": data["names"], "nc": data["nc"], "splits": {}}
    for split in ("train", "val", "test"):
        if not data.get(split):
            continue
        dataset = YOLODataset(img_path=data[split], data=data, task="detect", imgsz=64, augment=False)
        items = {}
        for label in dataset.labels:
            image = cv2.imread(label["im_file"])  # Ultralytics' own reader
            items[Path(label["im_file"]).name] = {
                "shape": list(label["shape"]),  # (h, w) after EXIF, as Ultralytics checks it
                "decoded": list(image.shape[:2]),
                "grey": grey(image),
                "boxes": [
                    [int(c), *map(float, b)]
                    for c, b in zip(label["cls"].ravel(), label["bboxes"], strict=True)
                ],
            }
        result["splits"][split] = items
    model = YOLO("yolo11n.yaml")  # random weights from the architecture file: no download
    model.train(
        data=str(yolo / "data.yaml"), epochs=1, imgsz=64, batch=4, device="cpu", workers=0,
        plots=False, amp=False, project=str(work), name="run", exist_ok=True, verbose=False,
    )  # fmt: skip
    result["trained"] = (work / "run" / "weights" / "last.pt").is_file()
    return result


if __name__ == "__main__":
    coco_dir, yolo_dir, work_dir = (Path(a) for a in sys.argv[1:4])
    output = {"torchvision": torchvision_coco(coco_dir), "ultralytics": ultralytics_yolo(yolo_dir, work_dir)}
    print("READERS-JSON " + json.dumps(output))
