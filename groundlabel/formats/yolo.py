"""YOLO as Ultralytics reads it: ``images/<split>/``, ``labels/<split>/*.txt``, ``data.yaml``.

Each line is ``class cx cy w h``, coordinates normalised by the image size as shown and
written with 6 decimals, so a round trip moves an edge by at most 1e-6 of the image size
(0.002 px on a 2000 px image). Class ids are the project's class order, 0-based; they are
stable as long as the class order is. A reviewed-empty image gets an empty label file
(a negative). ``data.yaml`` names one entry per split and ``names``, and no ``path`` (Ultralytics
then resolves the splits from the yaml's own folder, so a moved export still trains); Ultralytics
requires ``val``, so without a split of that name ``val`` points at the training images.
Reading also accepts the older layout, where ``labels/`` mirrors the image folder.

**Segmentation** (Ultralytics' seg layout): when the export holds masks, each line is
``class x1 y1 x2 y2 ...``, the mask's outline normalised (``masks.to_polygons``, COCO's
pixel-edge coordinates divided by the size, as Ultralytics' own ``convert_coco`` writes
them). A row holds one polygon, so a mask in several parts is joined by zero-width bridges
(out to each part and back along the same line), as ``convert_coco`` does. Ultralytics drops
every segment of a dataset whose box and segment counts differ, so in such an export a box
without a mask is written as its rectangle (4 corners), and reading takes an axis-aligned
4-corner row back as a plain box. The box of a seg row is its mask's pixel bounds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import yaml

from groundlabel import masks
from groundlabel.formats.dataset import Dataset, DatasetBox, DatasetImage, FormatError, Progress, tick
from groundlabel.formats.images_out import ImagePlacer
from groundlabel.formats.staging import write_text

LABELS, IMAGES = "labels", "images"
# Images below a subfolder are flattened into images/<split>/ with this between the parts
# (sub/deep/a.png -> sub__deep__a.png): Datumaro's YOLO reader looks only directly in
# images/<split>/ and labels/<split>/. Import turns the separator back into "/".
FLAT_SEPARATOR = "__"


def flat_name(file_name: str) -> str:
    return file_name.replace("/", FLAT_SEPARATOR)


DATA_YAML = "data.yaml"


def yolo_line(class_index: int, xyxy: tuple[float, float, float, float], width: int, height: int) -> str:
    x0, y0, x1, y1 = xyxy
    cx, cy = (x0 + x1) / 2 / width, (y0 + y1) / 2 / height
    w, h = (x1 - x0) / width, (y1 - y0) / height
    return f"{class_index} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}"


def _joined_outline(polygons: Sequence[Sequence[float]]) -> list[float]:
    """Several outlines as one row: each part is entered at its point nearest the previous
    part and left at the same point, and the way back retraces the bridges (zero width)."""
    parts = [np.asarray(p, dtype=np.float64).reshape(-1, 2) for p in polygons]
    path = [parts[0], parts[0][:1]]
    stops = [parts[0][0]]
    for part in parts[1:]:
        start = int(np.argmin(np.linalg.norm(part - stops[-1], axis=1)))
        loop = np.concatenate([part[start:], part[:start], part[start : start + 1]])
        path.append(loop)
        stops.append(loop[0])
    path.extend(stop[None, :] for stop in reversed(stops[1:-1]))
    return [float(v) for v in np.concatenate(path).reshape(-1)]


def yolo_segment_line(
    class_index: int, xyxy: tuple[float, float, float, float], mask: masks.RLE | None, width: int, height: int
) -> str:
    """``class x1 y1 x2 y2 ...`` of a mask's outline (its box's rectangle when it has none)."""
    polygons = masks.to_polygons(mask) if mask is not None else []
    if polygons:
        flat = polygons[0] if len(polygons) == 1 else _joined_outline(polygons)
    else:
        x0, y0, x1, y1 = xyxy
        flat = [x0, y0, x1, y0, x1, y1, x0, y1]
    scale = (width, height)
    return " ".join([str(class_index), *(f"{v / scale[i % 2]:.6f}" for i, v in enumerate(flat))])


def _val_split(splits: list[str]) -> str:
    """Ultralytics requires ``val``: the split named so, else the first that is not train."""
    if "val" in splits:
        return "val"
    return next((s for s in splits if s != "train"), splits[0])


def data_yaml(class_names: list[str], splits: list[str]) -> str:
    """No ``path``: Ultralytics then takes the dataset root from the folder holding this file,
    so the export still trains after it is moved or copied to another machine."""
    header = (
        "# Written by groundlabel export, the layout Ultralytics reads: images/<split>/... and\n"
        "# labels/<split>/... (class cx cy w h, or class x1 y1 x2 y2 ... for masks; normalised).\n"
        "# No `path`: Ultralytics finds the images from the folder holding this file, so the\n"
        "# folder can be moved or copied as it is.\n"
    )
    body: dict[str, Any] = {}
    for split in splits:
        body[split] = f"{IMAGES}/{split}"
    if "val" not in splits:
        body["val"] = f"{IMAGES}/{_val_split(splits)}"
    body["nc"] = len(class_names)
    body["names"] = dict(enumerate(class_names))
    return header + yaml.safe_dump(body, sort_keys=False, allow_unicode=True, default_flow_style=False)


def write_yolo(
    dataset: Dataset,
    out: Path,
    progress: Progress | None = None,
    placer: ImagePlacer | None = None,
    final_out: Path | None = None,
) -> list[Path]:
    """``images/<split>/<flat path>``, ``labels/<split>/<flat path without extension>.txt``, ``data.yaml``.

    ``final_out`` (where the staged folder will be renamed to) is not needed since ``data.yaml``
    names no absolute ``path``; the export job still passes it.
    """
    index = {name: i for i, name in enumerate(dataset.class_names)}
    written = []
    segments = dataset.has_masks
    for image in dataset.images:
        width, height = int(image.width or 0), int(image.height or 0)
        if segments:
            lines = [
                yolo_segment_line(index[b.class_name], b.xyxy, b.mask, width, height) for b in image.boxes
            ]
        else:
            lines = [yolo_line(index[b.class_name], b.xyxy, width, height) for b in image.boxes]
        flat = flat_name(image.file_name)
        target = out / LABELS / image.split / f"{PurePosixPath(flat).with_suffix('')}.txt"
        write_text(target, "".join(f"{line}\n" for line in lines))
        if placer is not None:
            placer.place(image.file_name, out / IMAGES / image.split / flat)
        written.append(target)
        tick(progress)
    yaml_path = out / DATA_YAML
    write_text(yaml_path, data_yaml(dataset.class_names, dataset.splits))
    written.append(yaml_path)
    return written


def _read_data_yaml(root: Path) -> dict[str, Any]:
    yaml_path = root / DATA_YAML
    if not yaml_path.is_file():
        return {}
    try:
        document: Any = yaml.safe_load(yaml_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise FormatError(str(yaml_path), "", f"not readable YAML ({exc})") from None
    return document if isinstance(document, dict) else {"names": None}


def _split_label_folders(root: Path, document: dict[str, Any]) -> dict[str, Path]:
    """Split name -> its labels folder, from data.yaml's ``images/<split>`` entries."""
    folders: dict[str, Path] = {}
    for key, value in document.items():
        if key in ("path", "nc", "names", "download") or not isinstance(value, str):
            continue
        parts = PurePosixPath(value).parts
        if IMAGES not in parts:
            continue
        labels = root.joinpath(*[LABELS if p == IMAGES else p for p in parts])
        if labels.is_dir() and labels not in folders.values():
            folders[key] = labels
    return folders


def _class_names(root: Path, document: dict[str, Any]) -> list[str]:
    """Names from ``data.yaml`` (list or {id: name}), else ``classes.txt`` (one per line)."""
    yaml_path, classes_txt = root / DATA_YAML, root / "classes.txt"
    if document:
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
        if len(parts) != 5 and (len(parts) < 7 or len(parts) % 2 == 0):
            raise FormatError(
                str(path),
                where,
                f"expected 'class cx cy w h' or 'class x1 y1 x2 y2 x3 y3 ...', got {line.strip()!r}",
            )
        try:
            class_index = int(parts[0])
            values = [float(p) for p in parts[1:]]
        except ValueError:
            raise FormatError(str(path), where, f"not numbers: {line.strip()!r}") from None
        if not 0 <= class_index < len(class_names):
            raise FormatError(
                str(path), where, f"unknown class: id {class_index} (data.yaml has {len(class_names)})"
            )
        if not all(math.isfinite(v) for v in values):
            raise FormatError(str(path), where, "coordinates must be finite")
        if len(values) == 4:
            cx, cy, w, h = values
            if w < 0 or h < 0:
                raise FormatError(str(path), where, "width and height must be >= 0")
            xyxy = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
            image.boxes.append(DatasetBox(xyxy, class_names[class_index], None, where))
            continue
        xs, ys = values[0::2], values[1::2]
        xyxy = (min(xs), min(ys), max(xs), max(ys))
        polygon = None if _is_box_rectangle(xs, ys, xyxy) else (tuple(values),)
        image.boxes.append(
            DatasetBox(
                xyxy,
                class_names[class_index],
                None,
                where,
                polygons=polygon,
                box_from_mask=polygon is not None,
            )
        )
    return image


def _is_box_rectangle(xs: list[float], ys: list[float], xyxy: tuple[float, float, float, float]) -> bool:
    """A 4-corner axis-aligned row: how a box without a mask is written in a seg export."""
    x0, y0, x1, y1 = xyxy
    return len(xs) == 4 and all(x in (x0, x1) for x in xs) and all(y in (y0, y1) for y in ys)


def read_yolo(path: Path, progress: Progress | None = None) -> Dataset:
    """Read a YOLO folder holding ``data.yaml`` (or ``classes.txt``) and ``labels/``."""
    if not path.is_dir():
        raise FormatError(str(path), "", "expected the folder holding data.yaml and labels/")
    document = _read_data_yaml(path)
    class_names = _class_names(path, document)
    folders = _split_label_folders(path, document)
    if not folders:  # an older export, or labels beside the images: labels/ mirrors the folder
        folders = {"train": path / LABELS if (path / LABELS).is_dir() else path}
    images = []
    for split, labels in folders.items():
        for file in sorted(labels.rglob("*.txt")):
            if file.name == "classes.txt" and file.parent == path:
                continue
            file_name = file.relative_to(labels).with_suffix("").as_posix()
            image = read_yolo_file(file, file_name, class_names)
            image.split = split
            images.append(image)
            tick(progress)
    return Dataset(class_names=class_names, images=images, source=str(path), splits=list(folders))
