"""Run in the readers venv: what Ultralytics reads from a YOLO segmentation export, as JSON.

Usage: python mask_readers.py YOLO_DIR WORK_DIR > result.json

Ultralytics' own dataset check (``check_det_dataset``), its segment dataset (labels verified
by ``verify_image_label``), each object's mask rasterised by Ultralytics' ``polygon2mask``
at the image's size, and one epoch of a tiny random ``yolo11n-seg`` on the folder.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import torch_readers  # noqa: F401  (declares torchvision's nms before Ultralytics imports it)


def ultralytics_segments(yolo: Path, work: Path) -> dict:
    from ultralytics import YOLO
    from ultralytics.data.dataset import YOLODataset
    from ultralytics.data.utils import check_det_dataset, polygon2mask

    data = check_det_dataset(str(yolo / "data.yaml"))
    dataset = YOLODataset(img_path=data["train"], data=data, task="segment", imgsz=64, augment=False)
    items = {}
    for label in dataset.labels:
        height, width = label["shape"]
        objects = []
        for cls, segment in zip(label["cls"].ravel(), label["segments"], strict=True):
            points = np.asarray(segment, dtype=np.float64) * [width, height]
            mask = polygon2mask((height, width), [points.reshape(-1)], color=1, downsample_ratio=1)
            objects.append(
                {
                    "class": int(cls),
                    "segment": points.reshape(-1).tolist(),
                    "pixels": np.flatnonzero(mask).tolist(),
                }
            )
        items[Path(label["im_file"]).name] = {"shape": [height, width], "objects": objects}
    model = YOLO("yolo11n-seg.yaml")  # random weights from the architecture file: no download
    model.train(
        data=str(yolo / "data.yaml"), epochs=1, imgsz=64, batch=4, device="cpu", workers=0,
        plots=False, amp=False, project=str(work), name="seg", exist_ok=True, verbose=False,
    )  # fmt: skip
    return {
        "names": data["names"],
        "items": items,
        "task": model.task,
        "trained": (work / "seg" / "weights" / "last.pt").is_file(),
    }


if __name__ == "__main__":
    yolo_dir, work_dir = (Path(a) for a in sys.argv[1:3])
    print("MASK-READERS-JSON " + json.dumps(ultralytics_segments(yolo_dir, work_dir)))
