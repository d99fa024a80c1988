"""Pascal VOC segmentation: ``SegmentationObject/`` and ``SegmentationClass/`` palette PNGs.

Both are 8-bit palette PNGs of the image's size as shown, one per image that has a mask
(or is a reviewed negative), listed in ``ImageSets/Segmentation/<split>.txt``:

- ``SegmentationObject/<id>.png``: pixel value ``i`` is the ``i``-th ``<object>`` of the
  image's XML (1-based), 0 the background; the palette is VOC's standard instance colormap.
- ``SegmentationClass/<id>.png``: pixel value ``c`` is the class's line in ``labelmap.txt``
  (``background`` is 0), and the palette holds the labelmap's colours.

A reader of indices (PIL, torchvision's ``VOCSegmentation``) and a reader of colours
(Datumaro, which unpaints with the labelmap and VOC's instance colormap) see the same
labels. A pixel holds one object, so where masks overlap the smaller object is painted last
and wins: overlapping masks lose their shared pixels to it on a round trip, as VOC itself
cannot say otherwise. Boxes without a mask keep only their ``<object>`` (no pixels).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from groundlabel import masks
from groundlabel.formats.dataset import DatasetImage, FormatError
from groundlabel.formats.staging import write_bytes

SEGMENTATION_OBJECT, SEGMENTATION_CLASS = "SegmentationObject", "SegmentationClass"
SEGMENTATION_SETS = Path("ImageSets") / "Segmentation"


def voc_colormap(count: int = 256) -> list[tuple[int, int, int]]:
    """VOC's standard colormap: index bits spread over the high bits of r, g and b."""
    colours = []
    for index in range(count):
        r = g = b = 0
        value = index
        for shift in range(7, -1, -1):
            r |= ((value >> 0) & 1) << shift
            g |= ((value >> 1) & 1) << shift
            b |= ((value >> 2) & 1) << shift
            value >>= 3
        colours.append((r, g, b))
    return colours


def _palette(colours: list[tuple[int, int, int]]) -> list[int]:
    flat = [channel for colour in colours for channel in colour]
    return flat + [0] * (768 - len(flat))


def has_segmentation(image: DatasetImage) -> bool:
    """Whether the image gets PNGs: a box with a mask, or no box at all (a reviewed negative)."""
    return not image.boxes or any(box.mask is not None for box in image.boxes)


PALETTE_LIMIT = 254  # indices 1..254: 0 is background, 255 is VOC's "void" outline


def fits_palette(image: DatasetImage, class_index: dict[str, int]) -> bool:
    """Whether the image's PNGs can number its objects and classes in 8 bits.

    An image with more objects than that, or a mask of a class past line 254 of the
    labelmap, gets no segmentation PNGs (neither: a reader of ``ImageSets/Segmentation``
    expects both); its XML, which has no such limit, is written as for any image.
    """
    if len(image.boxes) > PALETTE_LIMIT:
        return False
    return all(class_index[b.class_name] <= PALETTE_LIMIT for b in image.boxes if b.mask is not None)


def palette_warnings(images: list[DatasetImage], class_names: list[str], shown: int = 10) -> list[str]:
    """One line naming the images left without PNGs (the first ``shown`` of them)."""
    class_index = {name: i for i, name in enumerate(class_names, start=1)}
    left_out = [i.file_name for i in images if has_segmentation(i) and not fits_palette(i, class_index)]
    if not left_out:
        return []
    names = ", ".join(left_out[:shown]) + (
        f" and {len(left_out) - shown} more" if len(left_out) > shown else ""
    )
    return [
        f"{len(left_out)} image(s) have more than {PALETTE_LIMIT} objects (or a class past line "
        f"{PALETTE_LIMIT} of labelmap.txt), more than a VOC segmentation PNG can number: their XML is "
        f"written but no SegmentationObject/SegmentationClass PNG: {names}"
    ]


def _png(indices: np.ndarray, palette: list[int]) -> bytes:
    import io

    picture = Image.fromarray(indices, mode="P")
    picture.putpalette(palette)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()


def write_segmentation(
    image: DatasetImage,
    stem: str,
    out: Path,
    class_colours: list[tuple[int, int, int]],
    class_index: dict[str, int],
) -> list[Path]:
    """The image's two PNGs; ``class_index`` gives each class its labelmap line (1-based)."""
    width, height = int(image.width or 0), int(image.height or 0)
    objects = np.zeros((height, width), dtype=np.uint8)
    classes = np.zeros((height, width), dtype=np.uint8)
    painted = [(n, box) for n, box in enumerate(image.boxes, start=1) if box.mask is not None]
    painted.sort(key=lambda pair: -masks.area(pair[1].mask))  # the largest first, the smallest on top
    for number, box in painted:
        pixels = masks.decode(box.mask)
        if pixels.shape != (height, width):
            raise FormatError(image.file_name, f"object {number}", "the mask is not of the image's size")
        objects[pixels] = number
        classes[pixels] = class_index[box.class_name]
    object_path = out / SEGMENTATION_OBJECT / f"{stem}.png"
    class_path = out / SEGMENTATION_CLASS / f"{stem}.png"
    write_bytes(object_path, _png(objects, _palette(voc_colormap())))
    write_bytes(class_path, _png(classes, _palette([(0, 0, 0), *class_colours])))
    return [object_path, class_path]


def _indices(
    path: Path, colormap: list[tuple[int, int, int]], width: int | None = None, height: int | None = None
) -> np.ndarray:
    """A label PNG as indices: a palette PNG's own, or an RGB PNG's colours looked up. Opened
    through the door (``masks.read_mask_image``): a header of another size than the image's, or
    a decompression bomb, is refused before its pixels are decoded."""
    try:
        with masks.read_mask_image(path, width, height) as picture:
            if picture.mode in ("P", "L"):
                return np.asarray(picture)
            rgb = np.asarray(picture.convert("RGB")).astype(np.int64)
    except masks.MaskError as exc:
        raise FormatError(str(path), "", str(exc)) from None
    except OSError as exc:
        raise FormatError(str(path), "", f"not a readable PNG ({exc})") from None
    keys = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
    lookup = {(r << 16) | (g << 8) | b: i for i, (r, g, b) in reversed(list(enumerate(colormap)))}
    indices = np.zeros(keys.shape, dtype=np.uint8)
    for key in np.unique(keys):
        if int(key) not in lookup:
            raise FormatError(str(path), "", f"colour #{int(key):06x} is not in the colormap")
        indices[keys == key] = lookup[int(key)]
    return indices


def read_object_masks(root: Path, stem: str, image: DatasetImage) -> dict[int, masks.RLE]:
    """Object number (1-based, XML order) -> its mask, from ``SegmentationObject/<stem>.png``.

    Index 255 (VOC's "void" outline) belongs to no object."""
    path = root / SEGMENTATION_OBJECT / f"{stem}.png"
    if not path.is_file():
        return {}
    indices = _indices(path, voc_colormap(), image.width, image.height)
    if image.width is not None and indices.shape != (image.height, image.width):
        raise FormatError(
            str(path),
            "",
            f"is {indices.shape[1]}x{indices.shape[0]} but the XML says {image.width}x{image.height}",
        )
    return {int(n): masks.encode(indices == n) for n in np.unique(indices) if 0 < n < 255}
