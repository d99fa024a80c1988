"""Instance masks: one encoding for the whole product, conversions to what each tool reads.

Why one module: every part that touches a mask (models, the project, the exports, the
front ends) agrees on a single in-memory and on-disk form, and conversions happen only
here, through the ecosystem's own codecs, so a mask means the same pixels everywhere.

- The product's form is **COCO RLE** as pycocotools writes it: ``{"size": [h, w],
  "counts": "<compressed str>"}`` in pixels of the image as shown (EXIF applied). It is
  compact (a few hundred bytes for a typical object), JSON-safe, and what COCO files,
  CVAT and pycocotools read.
- Polygons (COCO polygons, YOLO segmentation, Label Studio ``PolygonLabels``, CVAT
  ``conv_mask_to_poly``) come from OpenCV's contour finder (``opencv-python-headless``):
  outer contours only, in COCO's pixel-edge coordinates (see ``to_polygons``), at least
  three points each; pycocotools rasterises them back (``from_polygons``).
- Label Studio brush RLE goes through ``label_studio_sdk.converter.brush`` (the codec Label
  Studio itself decodes with), imported only when used, since the SDK is the backend's extra.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from PIL import Image

#: A mask in the product's form: pycocotools' compressed RLE with ``counts`` as a str.
RLE = dict[str, Any]


def _coco_mask() -> Any:
    from pycocotools import mask as coco_mask

    return coco_mask


def encode(mask: np.ndarray) -> RLE:
    """A 2-D boolean (or 0/1) array of the image's size -> compressed COCO RLE (JSON-safe)."""
    array = np.asarray(mask)
    if array.ndim != 2:
        raise ValueError(f"a mask must be 2-D (height, width), got shape {array.shape}")
    rle = _coco_mask().encode(np.asfortranarray(array.astype(np.uint8, copy=False)))
    return {"size": [int(rle["size"][0]), int(rle["size"][1])], "counts": rle["counts"].decode("ascii")}


#: The largest mask (pixels) the door lets through: Pillow's own decompression-bomb limit, so a
#: mask can never be larger than an image the product would open.
MAX_MASK_PIXELS = 89_478_485

#: How far outside the image a polygon point may lie, as a fraction of the image's width or
#: height, before the polygon is refused: rounding and other tools' edge conventions put points
#: a little outside (kept as they are: pycocotools clips when it rasterises), but a point
#: thousands of images away is a broken file, not an outline.
POLYGON_MARGIN = 1.0


class MaskError(ValueError):
    """A mask that cannot be what it claims (sizes, counts or values out of range). Raised by
    :func:`check` and the decoders before anything is allocated or stored; importers turn it
    into their one-line error naming the file and the annotation."""


def _check_size(height: Any, width: Any) -> tuple[int, int]:
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (height, width)):
        raise MaskError(f"the mask size must be two integers, got {[height, width]}")
    if height <= 0 or width <= 0:
        raise MaskError(f"the mask size {height}x{width} (h x w) is not positive")
    if height * width > MAX_MASK_PIXELS:
        raise MaskError(
            f"the mask size {height}x{width} (h x w) is over {MAX_MASK_PIXELS:,} pixels, "
            "more than any image groundlabel opens"
        )
    return height, width


def compressed_counts(counts: str | bytes) -> np.ndarray:
    """The run lengths a compressed COCO RLE string holds, read without decoding any pixels.

    Why our own reader: pycocotools exposes no way to read or validate a counts string short of
    ``decode``, which allocates the whole image first and, for a string whose runs stop short of
    the image, returns a mask padded with zeros instead of an error. This reads pycocotools'
    format (6-bit characters from ``"0"``: 5 value bits and a "more" bit, the last group's top
    bit the sign; from the fourth count on, each is a difference from the count two before) in
    a few numpy operations, so the door can check the sum before anything the size of the image
    exists. Raises :class:`MaskError` for characters outside the format, a number cut off at
    the end, or a run that is negative or too long for any image.
    """
    raw = counts.encode("ascii") if isinstance(counts, str) else bytes(counts)
    codes = np.frombuffer(raw, dtype=np.uint8).astype(np.int64) - 48
    if len(codes) == 0:
        return np.zeros(0, dtype=np.int64)
    if codes.min() < 0 or codes.max() > 63:
        raise MaskError('compressed RLE counts hold characters outside "0".."o"')
    more = (codes & 0x20) != 0
    if more[-1]:
        raise MaskError("the compressed RLE counts end in the middle of a number")
    ends = np.flatnonzero(~more)
    starts = np.concatenate(([0], ends[:-1] + 1))
    lengths = ends - starts + 1
    if lengths.max() > 7:  # 35 bits: more than any run of an image under MAX_MASK_PIXELS
        raise MaskError("the compressed RLE counts hold a run too long for any image")
    position = np.arange(len(codes)) - np.repeat(starts, lengths)
    values = np.add.reduceat((codes & 0x1F) << (5 * position), starts)
    negative = (codes[ends] & 0x10) != 0
    values = values - np.where(negative, 1 << (5 * lengths), 0)
    runs = values.copy()
    for parity in (0, 1):  # count i (i >= 3) is stored as its difference from count i - 2
        first = 2 if parity == 0 else 1
        chain = runs[first::2]
        runs[first::2] = np.cumsum(chain)
    if (runs < 0).any():
        raise MaskError("the compressed RLE counts hold a negative run")
    return runs


def _check_counts(counts: Any, height: int, width: int) -> None:
    """Raise unless ``counts`` (list or compressed) are runs adding up to exactly h*w."""
    if isinstance(counts, list):
        if not all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in counts):
            raise MaskError("uncompressed RLE counts must be non-negative integers")
        total = sum(counts)
    elif isinstance(counts, (str, bytes)):
        if not counts.isascii():
            raise MaskError("compressed RLE counts must be ASCII")
        total = int(compressed_counts(counts).sum())
    else:
        raise MaskError(f"RLE counts must be a list or a string, got {type(counts).__name__}")
    if total != height * width:
        raise MaskError(
            f"the RLE counts add up to {total:,} pixels but the image has {height * width:,} ({height}x{width})"
        )


def check(rle: Any, width: int | None = None, height: int | None = None) -> RLE:
    """The door every mask passes before it is stored or written: ``rle`` must be a COCO RLE of
    exactly an image of ``width`` x ``height`` (of its own ``size`` when they are None).

    Its counts, compressed or not, must be non-negative runs adding up to exactly h*w, which is
    checked on the counts themselves, before anything the size of the image is allocated: a
    giant count or a giant size is refused, not decoded, and a string that pycocotools would
    decode to a zero-padded mask is refused too. Returns the product's form; raises
    :class:`MaskError` with the reason otherwise, so that a mask stored is a mask every export
    can decode.
    """
    if not (isinstance(rle, dict) and isinstance(rle.get("size"), (list, tuple)) and "counts" in rle):
        raise MaskError('a mask must be an RLE with "size" and "counts"')
    if len(rle["size"]) != 2:
        raise MaskError(f'the RLE "size" must be [height, width], got {list(rle["size"])}')
    mask_height, mask_width = _check_size(*rle["size"])
    if width is not None and height is not None and (mask_height, mask_width) != (height, width):
        raise MaskError(
            f"the RLE mask is [{mask_height}, {mask_width}] (h, w) but the image is [{height}, {width}]"
        )
    _check_counts(rle["counts"], mask_height, mask_width)
    return normalise({"size": [mask_height, mask_width], "counts": rle["counts"]})


def problem(rle: Any, width: int | None, height: int | None) -> str | None:
    """Why a stored mask cannot be exported (None when it can): :func:`check` as a reason."""
    try:
        check(rle, width, height)
    except MaskError as exc:
        return str(exc)
    return None


def check_polygons(polygons: Any, width: int, height: int) -> list[list[float]]:
    """Flat pixel polygons of a ``width`` x ``height`` image, checked before rasterising: each a
    list of at least 3 finite x, y pairs, no point more than ``POLYGON_MARGIN`` of the image's
    size outside it (refused, not clipped: a point that far out is a broken file, and clipping
    it would invent an outline). Points a little outside are kept; rasterising clips them."""
    _check_size(height, width)
    if not isinstance(polygons, (list, tuple)):
        raise MaskError("polygons must be a list of [x0, y0, x1, y1, ...] lists")
    checked = []
    for polygon in polygons:
        if not isinstance(polygon, (list, tuple)) or len(polygon) % 2:
            raise MaskError("a polygon must be a flat list of x, y pairs")
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in polygon):
            raise MaskError("polygon coordinates must be numbers")
        points = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
        if not np.isfinite(points).all():
            raise MaskError("a polygon has a coordinate that is not a finite number")
        if len(points) < 3:
            raise MaskError("a polygon needs at least 3 points")
        margin_x, margin_y = POLYGON_MARGIN * width, POLYGON_MARGIN * height
        xs, ys = points[:, 0], points[:, 1]
        far = (xs < -margin_x) | (xs > width + margin_x) | (ys < -margin_y) | (ys > height + margin_y)
        if far.any():
            x, y = points[np.argmax(far)]
            raise MaskError(
                f"a polygon has the point ({x:g}, {y:g}), more than the image's own size outside "
                f"the {width}x{height} image"
            )
        checked.append([float(v) for v in polygon])
    return checked


def read_mask_image(path: Path, width: int | None, height: int | None) -> Image.Image:
    """A label PNG (VOC's SegmentationObject/Class) opened through the door: its header's size
    is read first, without decoding, and must be the image's (when known) and within
    ``MAX_MASK_PIXELS``, so a decompression bomb (a small file whose header claims 50000x50000)
    is refused before any pixel is allocated. Returns the loaded picture; any failure to read
    it is a :class:`MaskError` naming why."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            picture = Image.open(path)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise MaskError(f"not a readable PNG ({exc})") from None
    try:
        picture_width, picture_height = picture.size
        _check_size(picture_height, picture_width)
        if width is not None and height is not None and (picture_width, picture_height) != (width, height):
            raise MaskError(f"is {picture_width}x{picture_height} but the image is {width}x{height}")
        picture.load()
    except MaskError:
        picture.close()
        raise
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError) as exc:
        picture.close()
        raise MaskError(f"not a readable PNG ({exc})") from None
    return picture


def _native(rle: RLE) -> dict[str, Any]:
    """pycocotools' own form of an RLE: bytes counts; uncompressed (list) counts are compressed."""
    height, width = (int(v) for v in rle["size"])
    counts = rle["counts"]
    if isinstance(counts, list):
        return _coco_mask().frPyObjects({"size": [height, width], "counts": counts}, height, width)
    if isinstance(counts, str):
        counts = counts.encode("ascii")
    return {"size": [height, width], "counts": counts}


def normalise(rle: RLE) -> RLE:
    """Any COCO RLE (compressed, bytes or uncompressed list counts) -> the product's form."""
    native = _native(rle)
    counts = native["counts"]
    return {
        "size": [int(native["size"][0]), int(native["size"][1])],
        "counts": counts.decode("ascii") if isinstance(counts, bytes) else counts,
    }


def decode(rle: RLE) -> np.ndarray:
    """COCO RLE -> boolean array (height, width)."""
    return _coco_mask().decode(_native(rle)).astype(bool)


def size(rle: RLE) -> tuple[int, int]:
    """(width, height) of the image the mask belongs to."""
    height, width = (int(v) for v in rle["size"])
    return width, height


def area(rle: RLE) -> int:
    """Number of mask pixels."""
    return int(_coco_mask().area(_native(rle)))


def bbox(rle: RLE) -> tuple[float, float, float, float]:
    """Tight xyxy box of the mask's pixels (all zeros for an empty mask)."""
    x, y, w, h = (float(v) for v in _coco_mask().toBbox(_native(rle)))
    return x, y, x + w, y + h


def iou(a: RLE, b: RLE) -> float:
    """Intersection over union of two masks of the same image (1.0 for two empty masks)."""
    if area(a) == 0 and area(b) == 0:
        return 1.0
    return float(_coco_mask().iou([_native(a)], [_native(b)], [0])[0][0])


def to_polygons(mask: np.ndarray | RLE, min_points: int = 3) -> list[list[float]]:
    """Outer contours of a mask as flat ``[x0, y0, x1, y1, ...]`` lists, in COCO's pixel-edge
    coordinates (pixel ``(i, j)`` spans ``[i, i + 1] x [j, j + 1]``), one polygon per part.

    Why the offset: OpenCV's contour finder returns the centres of the boundary pixels, so a
    polygon through them cuts every boundary pixel in half and a rasteriser (pycocotools,
    Datumaro, a browser canvas) gives back a mask half a pixel thinner all round (a 20x15
    square came back 19x14, IoU 0.89). Each contour vertex is therefore moved half a pixel
    outward (a mitred offset of the centre polygon), which puts straight runs exactly on the
    pixel edges; a part one pixel thin (no area) becomes the rectangle around it. The result
    rasterises back (``from_polygons``) to the same pixels on straight edges and to IoU >= 0.98
    on realistic objects. Holes are not kept (COCO, YOLO and Label Studio polygons cannot
    express them): formats that need exact pixels use RLE.
    """
    import cv2

    array = decode(mask) if isinstance(mask, dict) else np.asarray(mask, dtype=bool)
    height, width = array.shape
    contours, _ = cv2.findContours(array.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    polygons = []
    for contour in contours:
        centres = contour.reshape(-1, 2).astype(np.float64)
        points = _outline_of_pixel_centres(centres)
        if len(points) < min_points:
            continue
        points[:, 0] = np.clip(points[:, 0], 0.0, width)
        points[:, 1] = np.clip(points[:, 1], 0.0, height)
        polygons.append([round(float(v), 3) for v in points.reshape(-1)])
    return polygons


def _outline_of_pixel_centres(centres: np.ndarray, half: float = 0.5) -> np.ndarray:
    """The polygon ``half`` a pixel outside a contour through pixel centres, in edge coordinates."""
    x, y = centres[:, 0], centres[:, 1]
    doubled_area = float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y))
    if len(centres) < 3 or doubled_area == 0.0:
        # A lone pixel or a line one pixel thin: the rectangle of pixel edges around it.
        x0, y0 = centres.min(axis=0)
        x1, y1 = centres.max(axis=0) + 1.0
        return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
    sign = 1.0 if doubled_area > 0 else -1.0
    edges = np.roll(centres, -1, axis=0) - centres  # edge i runs from vertex i to vertex i + 1
    lengths = np.linalg.norm(edges, axis=1)
    keep = lengths > 0
    centres, edges, lengths = centres[keep], edges[keep], lengths[keep]
    tangents = edges / lengths[:, None]
    # The outward normal of each edge: to the right of travel for a positively oriented contour.
    normals = sign * np.stack([tangents[:, 1], -tangents[:, 0]], axis=1)
    before, after = np.roll(normals, 1, axis=0), normals  # normals of the edges into/out of a vertex
    cosine = np.sum(before * after, axis=1)
    miter = (before + after) / np.maximum(1.0 + cosine, 1e-9)[:, None]
    outline = centres + half * miter + 0.5
    sharp = np.flatnonzero(cosine < -0.5)
    if len(sharp) == 0:
        return outline
    # A spike (the contour turns back along a part one pixel thin) or a very sharp turn: a
    # square cap of two corners, instead of a mitre running far out.
    incoming = np.roll(tangents, 1, axis=0)
    pieces: list[np.ndarray] = []
    last = 0
    for i in sharp:
        pieces.append(outline[last:i])
        cap = np.stack([before[i] + incoming[i], after[i] - tangents[i]])
        pieces.append(centres[i] + half * cap + 0.5)
        last = i + 1
    pieces.append(outline[last:])
    return np.concatenate(pieces)


def from_polygons(polygons: Sequence[Sequence[float]], width: int, height: int) -> RLE:
    """Flat pixel polygons (as ``to_polygons`` writes them) -> one RLE of their union; through
    the door first (``check_polygons``: finite, at least 3 points, none far outside)."""
    coco_mask = _coco_mask()
    usable = check_polygons(polygons, width, height)
    if not usable:
        return encode(np.zeros((height, width), dtype=bool))
    merged = coco_mask.merge(coco_mask.frPyObjects(usable, height, width))
    return normalise(merged)


def merge(rles: Sequence[RLE]) -> RLE:
    """The union of masks of one image (the parts of one object read from several regions)."""
    if not rles:
        raise ValueError("merge needs at least one mask")
    if len(rles) == 1:
        return normalise(rles[0])
    return normalise(_coco_mask().merge([_native(r) for r in rles], intersect=0))


def _brush_codec() -> Any:
    """Label Studio's own brush codec; the SDK is the backend extra, so say how to get it."""
    try:
        from label_studio_sdk.converter import brush
    except ImportError:
        from groundlabel.errors import GroundlabelError

        raise GroundlabelError(
            "Label Studio brush masks need the Label Studio SDK: pip install 'groundlabel[backend]' "
            "(or export the masks as polygons: --ls-masks polygons)"
        ) from None
    return brush


def to_labelstudio_brush(mask: np.ndarray | RLE) -> list[int]:
    """Label Studio ``BrushLabels`` RLE (the ``rle`` list of a result value) for a mask."""
    mask2rle = _brush_codec().mask2rle

    array = decode(mask) if isinstance(mask, dict) else np.asarray(mask, dtype=bool)
    return [int(v) for v in mask2rle(array.astype(np.uint8) * 255)]


def from_labelstudio_brush(rle: Sequence[int], width: int, height: int) -> RLE:
    """A Label Studio brush RLE of an image of that size -> the product's RLE."""
    decode_rle = _brush_codec().decode_rle

    _check_size(height, width)
    if not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 255 for v in rle):
        raise MaskError("a brush RLE holds bytes: integers from 0 to 255")
    # The codec allocates the value count its first 32 bits claim: read it first (memory bomb).
    claimed = int.from_bytes(bytes(rle[:4]), "big") if len(rle) >= 4 else -1
    if claimed != height * width * 4:
        raise MaskError(
            f"the brush RLE claims {max(claimed, 0):,} values, not {width}x{height}x4 = {width * height * 4:,}"
        )
    try:
        flat = np.asarray(decode_rle(list(rle)), dtype=np.uint8)
    except (ValueError, IndexError, OverflowError, TypeError) as exc:
        raise MaskError(f"the brush RLE does not decode ({exc})") from None
    if flat.size != height * width * 4:
        raise MaskError(
            f"the brush RLE decodes to {flat.size // 4:,} pixels, not {width}x{height} = {width * height:,}"
        )
    return encode(flat.reshape(height, width, 4)[:, :, 3] > 127)


def to_cvat_mask(mask: np.ndarray | RLE) -> list[float]:
    """CVAT's mask ``points`` (run lengths of the mask's bounding box, then its corners), made by
    cvat-sdk's own encoder (``cvat_sdk.masks.encode_mask``), imported only when used (the ``cvat`` extra)."""
    from cvat_sdk.masks import encode_mask

    array = decode(mask) if isinstance(mask, dict) else np.asarray(mask, dtype=bool)
    return [float(v) for v in encode_mask(array)]


def from_cvat_mask(points: Sequence[float], width: int, height: int) -> RLE:
    """CVAT mask ``points`` of an image of that size -> the product's RLE (cvat-sdk's decoder)."""
    from cvat_sdk.masks import decode_mask

    return encode(decode_mask(list(points), image_width=width, image_height=height))
