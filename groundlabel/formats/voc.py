"""Pascal VOC: ``JPEGImages/``, ``Annotations/``, ``ImageSets/Main/<split>.txt``, ``labelmap.txt``.

VOC readers (torchvision's ``VOCDetection``, Datumaro) look for ``JPEGImages/<id>.jpg``, so
images that are not JPEG are converted to JPEG at quality 95 (``images_out.JPEG_QUALITY``);
JPEGs keep their bytes. ``labelmap.txt`` (Datumaro's ``name:r,g,b::`` lines, ``background``
first) declares the classes, custom ones included.

Rounding (VOC stores 1-based, inclusive integer pixel indices): an edge at pixel
coordinate ``v`` (0-based, continuous) is written as ``xmin = round(x0) + 1``,
``xmax = round(x1)`` (halves round up), clamped to 1..width; reading gives
``x0 = xmin - 1``, ``x1 = xmax``. So a round trip moves each edge by at most 0.5 px, and
integer boxes come back exactly. A box that would round to nothing (under a pixel wide)
becomes the one pixel holding its centre, so its edges move by at most 1 px.

Each XML sits at ``Annotations/<image path without extension>.xml``; ``<filename>`` is the
image's name, ``<folder>`` its folder, ``<path>`` its path relative to the image folder
(what import matches on). Text is XML-escaped, so any class name survives.

With masks, ``SegmentationObject/`` and ``SegmentationClass/`` palette PNGs and
``ImageSets/Segmentation/<split>.txt`` are written too, and ``<segmented>1`` marks the
images that have them (see ``voc_masks``). Class colours in ``labelmap.txt`` are made
distinct (a repeated colour gets VOC's colour for its index), so the class PNG's colours
name one class each.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from pathlib import Path, PurePosixPath
from xml.sax.saxutils import escape

from groundlabel import masks
from groundlabel.formats.dataset import Dataset, DatasetBox, DatasetImage, FormatError, Progress, tick
from groundlabel.formats.images_out import ImagePlacer
from groundlabel.formats.staging import write_text
from groundlabel.formats.voc_masks import (
    SEGMENTATION_SETS,
    fits_palette,
    has_segmentation,
    read_object_masks,
    voc_colormap,
    write_segmentation,
)

ANNOTATIONS, JPEG_IMAGES, LABELMAP = "Annotations", "JPEGImages", "labelmap.txt"
IMAGE_SETS = Path("ImageSets") / "Main"


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


def image_xml(image: DatasetImage, stored_name: str | None = None, segmented: bool = False) -> str:
    """``<path>`` is the image's path in the project folder (import matches on it);
    ``<filename>`` the file's path below ``JPEGImages/`` (``stored_name``, after conversion),
    which is where Datumaro looks for the image.

    Written from a template (ElementTree took 1 ms an image, a third of a large export);
    text is escaped as ElementTree escapes it, so any class name survives."""
    width, height = int(image.width or 0), int(image.height or 0)
    lines = [
        "<annotation>",
        f"  <folder>{JPEG_IMAGES}</folder>",
        f"  <filename>{escape(stored_name or image.file_name)}</filename>",
        f"  <path>{escape(image.file_name)}</path>",
        "  <source>",
        "    <database>groundlabel</database>",
        "  </source>",
        "  <size>",
        f"    <width>{width}</width>",
        f"    <height>{height}</height>",
        "    <depth>3</depth>",  # groundlabel reads every image as 8-bit RGB
        "  </size>",
        f"  <segmented>{int(segmented)}</segmented>",
    ]
    for box in image.boxes:
        xmin, ymin, xmax, ymax = to_voc_bndbox(box.xyxy, width, height)
        lines += [
            "  <object>",
            f"    <name>{escape(box.class_name)}</name>",
            "    <pose>Unspecified</pose>",
            "    <truncated>0</truncated>",
            "    <difficult>0</difficult>",
            "    <bndbox>",
            f"      <xmin>{xmin}</xmin>",
            f"      <ymin>{ymin}</ymin>",
            f"      <xmax>{xmax}</xmax>",
            f"      <ymax>{ymax}</ymax>",
            "    </bndbox>",
            "  </object>",
        ]
    lines.append("</annotation>")
    return "\n".join(lines) + "\n"


def _colour(hex_colour: str | None, index: int) -> tuple[int, int, int]:
    if hex_colour and len(hex_colour) == 7 and hex_colour.startswith("#"):
        r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
        return r, g, b
    return (index * 67) % 256, (index * 131) % 256, (index * 193) % 256


def class_colours(class_names: list[str], colours: dict[str, str]) -> list[tuple[int, int, int]]:
    """One distinct colour per class (never background's black): a class PNG's colour names one class."""
    taken = {(0, 0, 0)}
    standard = voc_colormap()
    chosen = []
    for i, name in enumerate(class_names, start=1):
        colour = _colour(colours.get(name), i)
        if colour in taken:
            colour = next(c for c in standard[i:] + standard[1:i] if c not in taken)
        taken.add(colour)
        chosen.append(colour)
    return chosen


def labelmap(class_names: list[str], colours: dict[str, str]) -> str:
    lines = ["# label:color_rgb:parts:actions", "background:0,0,0::"]
    for name, colour in zip(class_names, class_colours(class_names, colours), strict=True):
        if ":" in name or "\n" in name:
            raise FormatError(LABELMAP, name, "a VOC class name cannot hold ':'; rename the class")
        lines.append(f"{name}:{','.join(str(c) for c in colour)}::")
    return "".join(f"{line}\n" for line in lines)


def write_voc(
    dataset: Dataset, out: Path, progress: Progress | None = None, placer: ImagePlacer | None = None
) -> list[Path]:
    written = []
    ids: dict[str, list[str]] = {split: [] for split in dataset.splits}
    segmented_ids: dict[str, list[str]] = {split: [] for split in dataset.splits}
    with_masks = dataset.has_masks
    colours = class_colours(dataset.class_names, dataset.colours)
    class_index = {name: i for i, name in enumerate(dataset.class_names, start=1)}
    for image in dataset.images:
        stem = PurePosixPath(image.file_name).with_suffix("").as_posix()
        stored = image.file_name
        if placer is not None:
            stored = placer.target_name(image.file_name, jpeg=True)
            placer.place(image.file_name, out / JPEG_IMAGES / stored, jpeg=True)
        segmented = with_masks and has_segmentation(image) and fits_palette(image, class_index)
        target = out / ANNOTATIONS / f"{stem}.xml"
        write_text(target, image_xml(image, stored, segmented))
        written.append(target)
        ids[image.split].append(stem)
        if segmented:
            written += write_segmentation(image, stem, out, colours, class_index)
            segmented_ids[image.split].append(stem)
        tick(progress)
    for split, stems in ids.items():
        image_set = out / IMAGE_SETS / f"{split}.txt"
        write_text(image_set, "".join(f"{i}\n" for i in stems))
        written.append(image_set)
    if with_masks:
        for split, stems in segmented_ids.items():
            image_set = out / SEGMENTATION_SETS / f"{split}.txt"
            write_text(image_set, "".join(f"{i}\n" for i in stems))
            written.append(image_set)
    write_text(out / LABELMAP, labelmap(dataset.class_names, dataset.colours))
    written.append(out / LABELMAP)
    return written


def _int(element: ET.Element, tag: str, file: str, where: str) -> int:
    text = element.findtext(tag)
    try:
        return int(float(text.strip())) if text is not None else int("missing")
    except (ValueError, OverflowError):  # OverflowError: "inf"
        raise FormatError(file, where, f"<{tag}> must be a number (finite), got {text!r}") from None


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
    root = path if path.is_dir() else path.parent
    names = _labelmap_names(root / LABELMAP)
    splits = _image_sets(root / IMAGE_SETS)
    images = []
    for file in files:
        image = read_voc_file(file, base)
        stem = file.relative_to(base).with_suffix("").as_posix()
        image.split = splits.get(stem, "train")
        _attach_masks(image, read_object_masks(root, stem, image), str(file))
        images.append(image)
        names.extend(b.class_name for b in image.boxes if b.class_name not in names)
        tick(progress)
    split_names = list(dict.fromkeys(splits.values())) or ["train"]
    return Dataset(class_names=names, images=images, source=str(path), splits=split_names)


def _attach_masks(image: DatasetImage, object_masks: dict[int, masks.RLE], file: str) -> None:
    """Give the n-th ``<object>`` the pixels numbered n in its SegmentationObject PNG."""
    extra = sorted(n for n in object_masks if n > len(image.boxes))
    if extra:
        raise FormatError(
            file, "", f"SegmentationObject has object {extra[0]} but the XML has {len(image.boxes)}"
        )
    for number, mask in object_masks.items():
        box = image.boxes[number - 1]
        image.boxes[number - 1] = DatasetBox(box.xyxy, box.class_name, box.score, box.entry, mask=mask)


def _labelmap_names(path: Path) -> list[str]:
    """Class names in ``labelmap.txt`` order, without ``background``; none when it is absent."""
    if not path.is_file():
        return []
    names = []
    for line in path.read_text(encoding="utf-8").splitlines():
        name = line.split(":", 1)[0].strip()
        if name and not line.startswith("#") and name != "background":
            names.append(name)
    return names


def _image_sets(folder: Path) -> dict[str, str]:
    """Image id -> split, from ``ImageSets/Main/<split>.txt`` (class-specific lists skipped)."""
    splits: dict[str, str] = {}
    if not folder.is_dir():
        return splits
    for file in sorted(folder.glob("*.txt")):
        lines = [line.strip() for line in file.read_text(encoding="utf-8").splitlines() if line.strip()]
        if any(line.rsplit(None, 1)[-1] in ("-1", "0", "1") and " " in line for line in lines):
            continue  # a <class>_<split>.txt list of the original VOC ("id  1")
        for line in lines:
            splits.setdefault(line, file.stem)
    return splits
