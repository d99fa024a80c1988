"""Pascal VOC: one XML per image under ``Annotations/``, plus ``ImageSets/Main/default.txt``.

Rounding (VOC stores 1-based, inclusive integer pixel indices): an edge at pixel
coordinate ``v`` (0-based, continuous) is written as ``xmin = round(x0) + 1``,
``xmax = round(x1)`` (halves round up), clamped to 1..width; reading gives
``x0 = xmin - 1``, ``x1 = xmax``. So a round trip moves each edge by at most 0.5 px, and
integer boxes come back exactly. A box that would round to nothing (under a pixel wide)
becomes the one pixel holding its centre, so its edges move by at most 1 px.

Each XML sits at ``Annotations/<image path without extension>.xml``; ``<filename>`` is the
image's name, ``<folder>`` its folder, ``<path>`` its path relative to the image folder
(what import matches on). XML is written with ElementTree, so any class name survives.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from pathlib import Path, PurePosixPath

from groundlabel.atomic import write_text_atomic
from groundlabel.formats.dataset import Dataset, DatasetBox, DatasetImage, FormatError, Progress, tick
from groundlabel.formats.stale import remove_stale_outputs

ANNOTATIONS = "Annotations"
IMAGE_SET = Path("ImageSets") / "Main" / "default.txt"


def _round_half_up(value: float) -> int:
    return math.floor(value + 0.5)


def _voc_span(low: float, high: float, size: int) -> tuple[int, int]:
    first, last = _round_half_up(low) + 1, _round_half_up(high)
    if last < first:  # under a pixel: the pixel holding its centre
        first = last = math.floor((low + high) / 2) + 1
    return min(max(first, 1), size), min(max(last, 1), size)


def to_voc_bndbox(
    xyxy: tuple[float, float, float, float], width: int, height: int
) -> tuple[int, int, int, int]:
    x0, y0, x1, y1 = xyxy
    (xmin, xmax), (ymin, ymax) = _voc_span(x0, x1, width), _voc_span(y0, y1, height)
    return xmin, ymin, xmax, ymax


def from_voc_bndbox(xmin: int, ymin: int, xmax: int, ymax: int) -> tuple[float, float, float, float]:
    return float(xmin - 1), float(ymin - 1), float(xmax), float(ymax)


def _sub(parent: ET.Element, tag: str, text: str | int) -> ET.Element:
    element = ET.SubElement(parent, tag)
    element.text = str(text)
    return element


def image_xml(image: DatasetImage) -> str:
    path = PurePosixPath(image.file_name)
    root = ET.Element("annotation")
    _sub(root, "folder", path.parent.as_posix() if str(path.parent) != "." else "")
    _sub(root, "filename", path.name)
    _sub(root, "path", image.file_name)
    source = ET.SubElement(root, "source")
    _sub(source, "database", "groundlabel")
    size = ET.SubElement(root, "size")
    _sub(size, "width", int(image.width or 0))
    _sub(size, "height", int(image.height or 0))
    _sub(size, "depth", 3)  # groundlabel reads every image as 8-bit RGB
    _sub(root, "segmented", 0)
    for box in image.boxes:
        obj = ET.SubElement(root, "object")
        _sub(obj, "name", box.class_name)
        _sub(obj, "pose", "Unspecified")
        _sub(obj, "truncated", 0)
        _sub(obj, "difficult", 0)
        bndbox = ET.SubElement(obj, "bndbox")
        values = to_voc_bndbox(box.xyxy, int(image.width or 0), int(image.height or 0))
        for tag, value in zip(("xmin", "ymin", "xmax", "ymax"), values, strict=True):
            _sub(bndbox, tag, value)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode") + "\n"


def write_voc(dataset: Dataset, out: Path, progress: Progress | None = None) -> list[Path]:
    written = []
    ids = []
    for image in dataset.images:
        stem = PurePosixPath(image.file_name).with_suffix("").as_posix()
        target = out / ANNOTATIONS / f"{stem}.xml"
        write_text_atomic(target, image_xml(image))
        written.append(target)
        ids.append(stem)
        tick(progress)
    image_set = out / IMAGE_SET
    write_text_atomic(image_set, "".join(f"{i}\n" for i in ids))
    written.append(image_set)
    remove_stale_outputs(out, out / ANNOTATIONS, ".xml", written)
    return written


def _int(element: ET.Element, tag: str, file: str, where: str) -> int:
    text = element.findtext(tag)
    try:
        return int(float(text.strip())) if text is not None else int("missing")
    except ValueError:
        raise FormatError(file, where, f"<{tag}> must be a number, got {text!r}") from None


def read_voc_file(path: Path, relative_to: Path) -> DatasetImage:
    file = str(path)
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as exc:
        raise FormatError(file, "", f"not readable XML ({exc})") from None
    if root.tag != "annotation":
        raise FormatError(file, "", f"not Pascal VOC: the root element is <{root.tag}>, not <annotation>")
    size = root.find("size")
    if size is None:
        raise FormatError(file, "", "no <size> element")
    width, height = _int(size, "width", file, "<size>"), _int(size, "height", file, "<size>")
    file_name = (root.findtext("path") or "").strip()
    if not file_name or Path(file_name).is_absolute():
        folder = (root.findtext("folder") or "").strip()
        filename = (root.findtext("filename") or "").strip()
        if not filename:
            raise FormatError(file, "", "no <filename> element")
        # The XML's place under Annotations/ mirrors the image's folder.
        parent = (
            path.relative_to(relative_to).parent.as_posix() if path.is_relative_to(relative_to) else folder
        )
        file_name = f"{parent}/{filename}" if parent not in ("", ".") else filename
    image = DatasetImage(file_name, width, height, file=file)
    for i, obj in enumerate(root.findall("object"), start=1):
        name = (obj.findtext("name") or "").strip()
        where = f"<object> #{i}" + (f" ({name})" if name else "")
        if not name:
            raise FormatError(file, where, "no <name>")
        bndbox = obj.find("bndbox")
        if bndbox is None:
            raise FormatError(file, where, "no <bndbox>")
        xmin, ymin, xmax, ymax = (_int(bndbox, t, file, where) for t in ("xmin", "ymin", "xmax", "ymax"))
        if xmax < xmin or ymax < ymin:
            raise FormatError(
                file, where, f"bndbox {xmin},{ymin},{xmax},{ymax} has its corners the wrong way round"
            )
        image.boxes.append(
            DatasetBox(from_voc_bndbox(xmin, ymin, xmax, ymax), name, None, f"{file}: {where}")
        )
    return image


def read_voc(path: Path, progress: Progress | None = None) -> Dataset:
    """Read a VOC folder (``Annotations/**/*.xml``, or the XMLs directly under ``path``) or one XML."""
    if path.is_file():
        files, base = [path], path.parent
    elif path.is_dir():
        base = path / ANNOTATIONS if (path / ANNOTATIONS).is_dir() else path
        files = sorted(base.rglob("*.xml"))
        if not files:
            raise FormatError(str(path), "", "no VOC .xml files found (looked in Annotations/)")
    else:
        raise FormatError(str(path), "", "no such file or folder")
    images = []
    names: list[str] = []
    for file in files:
        image = read_voc_file(file, base)
        images.append(image)
        names.extend(b.class_name for b in image.boxes if b.class_name not in names)
        tick(progress)
    return Dataset(class_names=names, images=images, source=str(path))
