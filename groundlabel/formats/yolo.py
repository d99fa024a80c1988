"""YOLO detection labels: ``labels/<image path without extension>.txt`` and ``data.yaml``.

Each line is ``class cx cy w h``, coordinates normalised by the image size as shown and
written with 6 decimals, so a round trip moves an edge by at most 1e-6 of the image size
(0.002 px on a 2000 px image). Class ids are the project's class order, 0-based; they are
stable as long as the class order is. A reviewed-empty image gets an empty label file
(a negative). Images are not copied: the label tree mirrors the image folder.
"""

from __future__ import annotations

import math
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from groundlabel.atomic import write_text_atomic
from groundlabel.formats.dataset import Dataset, DatasetBox, DatasetImage, FormatError, Progress, tick
from groundlabel.formats.stale import remove_stale_outputs

LABELS = "labels"
DATA_YAML = "data.yaml"


def yolo_line(class_index: int, xyxy: tuple[float, float, float, float], width: int, height: int) -> str:
    x0, y0, x1, y1 = xyxy
    cx, cy = (x0 + x1) / 2 / width, (y0 + y1) / 2 / height
    w, h = (x1 - x0) / width, (y1 - y0) / height
    return f"{class_index} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}"


def data_yaml(class_names: list[str]) -> str:
    header = (
        "# Written by groundlabel export. labels/ mirrors the image folder: the labels of\n"
        "# <folder>/a/b.jpg are in labels/a/b.txt (class cx cy w h, normalised).\n"
    )
    body = {"nc": len(class_names), "names": dict(enumerate(class_names))}
    return header + yaml.safe_dump(body, sort_keys=False, allow_unicode=True, default_flow_style=False)


def write_yolo(dataset: Dataset, out: Path, progress: Progress | None = None) -> list[Path]:
    index = {name: i for i, name in enumerate(dataset.class_names)}
    written = []
    for image in dataset.images:
        width, height = int(image.width or 0), int(image.height or 0)
        lines = [yolo_line(index[b.class_name], b.xyxy, width, height) for b in image.boxes]
        target = out / LABELS / f"{PurePosixPath(image.file_name).with_suffix('').as_posix()}.txt"
        write_text_atomic(target, "".join(f"{line}\n" for line in lines))
        written.append(target)
        tick(progress)
    yaml_path = out / DATA_YAML
    write_text_atomic(yaml_path, data_yaml(dataset.class_names))
    written.append(yaml_path)
    remove_stale_outputs(out, out / LABELS, ".txt", written)
    return written


def _class_names(root: Path) -> list[str]:
    """Names from ``data.yaml`` (list or {id: name}), else ``classes.txt`` (one per line)."""
    yaml_path, classes_txt = root / DATA_YAML, root / "classes.txt"
    if yaml_path.is_file():
        try:
            document: Any = yaml.safe_load(yaml_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise FormatError(str(yaml_path), "", f"not readable YAML ({exc})") from None
        names = document.get("names") if isinstance(document, dict) else None
        if isinstance(names, dict) and all(isinstance(k, int) for k in names):
            if sorted(names) != list(range(len(names))):
                raise FormatError(str(yaml_path), "names", "class ids must be 0, 1, 2, ... without gaps")
            names = [names[i] for i in range(len(names))]
        if not isinstance(names, list) or not all(isinstance(n, str) and n.strip() for n in names):
            raise FormatError(
                str(yaml_path), "names", "must be a list of class names or a {id: name} mapping"
            )
        return names
    if classes_txt.is_file():
        return [line.strip() for line in classes_txt.read_text(encoding="utf-8").splitlines() if line.strip()]
    raise FormatError(str(root), "", f"no {DATA_YAML} or classes.txt with the class names")


def read_yolo_file(path: Path, file_name: str, class_names: list[str]) -> DatasetImage:
    image = DatasetImage(file_name, None, None, file=str(path), normalised=True)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FormatError(str(path), "", f"cannot read it ({exc})") from None
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"line {number}"
        parts = line.split()
        if len(parts) != 5:
            raise FormatError(str(path), where, f"expected 'class cx cy w h', got {line.strip()!r}")
        try:
            class_index = int(parts[0])
            cx, cy, w, h = (float(p) for p in parts[1:])
        except ValueError:
            raise FormatError(str(path), where, f"not numbers: {line.strip()!r}") from None
        if not 0 <= class_index < len(class_names):
            raise FormatError(
                str(path), where, f"unknown class: id {class_index} (data.yaml has {len(class_names)})"
            )
        if not all(math.isfinite(v) for v in (cx, cy, w, h)) or w < 0 or h < 0:
            raise FormatError(str(path), where, "coordinates must be finite, with width and height >= 0")
        xyxy = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
        image.boxes.append(DatasetBox(xyxy, class_names[class_index], None, where))
    return image


def read_yolo(path: Path, progress: Progress | None = None) -> Dataset:
    """Read a YOLO folder holding ``data.yaml`` (or ``classes.txt``) and ``labels/``."""
    if not path.is_dir():
        raise FormatError(str(path), "", "expected the folder holding data.yaml and labels/")
    class_names = _class_names(path)
    labels = path / LABELS if (path / LABELS).is_dir() else path
    images = []
    for file in sorted(labels.rglob("*.txt")):
        if file.name == "classes.txt" and file.parent == path:
            continue
        file_name = file.relative_to(labels).with_suffix("").as_posix()
        images.append(read_yolo_file(file, file_name, class_names))
        tick(progress)
    return Dataset(class_names=class_names, images=images, source=str(path))
