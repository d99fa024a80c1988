"""YOLO as Ultralytics reads it: ``images/<split>/``, ``labels/<split>/*.txt``, ``data.yaml``.

Each line is ``class cx cy w h``, coordinates normalised by the image size as shown and
written with 6 decimals, so a round trip moves an edge by at most 1e-6 of the image size
(0.002 px on a 2000 px image). Class ids are the project's class order, 0-based; they are
stable as long as the class order is. A reviewed-empty image gets an empty label file
(a negative). ``data.yaml`` names one entry per split and ``names``, and no ``path`` (Ultralytics
then resolves the splits from the yaml's own folder, so a moved export still trains); Ultralytics
requires ``val``, so without a split of that name ``val`` points at the training images.
Reading also accepts the older layout, where ``labels/`` mirrors the image folder.
"""

from __future__ import annotations

import math
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

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
        "# labels/<split>/... (class cx cy w h, normalised). No `path`: Ultralytics finds the\n"
        "# images from the folder holding this file, so the folder can be moved or copied as it is.\n"
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
    for image in dataset.images:
        width, height = int(image.width or 0), int(image.height or 0)
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
