"""groundlabel as a CVAT tracking function: a shape drawn on one frame, followed by SAM 2.1 / EdgeTAM.

    cvat-cli function create-native "groundlabel tracker" --function-module groundlabel.cvat.tracking \\
        -p model=str:facebook/sam2.1-hiera-tiny
    cvat-cli function run-agent FUNCTION_ID --function-module groundlabel.cvat.tracking -p ...

Why this shape: cvat-cli's agent recognises a tracking function by its spec
(``cvat_sdk.auto_annotation.TrackingFunctionSpec``: the shape types it can follow) and then,
for each shape a person asks it to follow, calls ``init_tracking_state`` once with the frame the
shape is on, and ``track`` with each next frame, keeping the state object in its worker between
requests. The state here is a ``groundlabel.trackers.single_object.SingleObjectTrack``: one
streamed session of the video tracker per shape, prompted with the rectangle's box or the
mask's (polygon's) pixels, so every frame's shape is the core tracker's answer for that prompt
and those frames. Out of each frame's mask comes the shape of the type that went in: its
bounding rectangle, the mask itself, or its largest polygon (CVAT's shape is one polygon). A
frame where the model cannot see the object gives None, CVAT's "not found here".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import cvat_sdk.auto_annotation as cvataa
import numpy as np
from groundlabel.cvat.params import CvatParameterError, check_names_and_types
from PIL import Image

from groundlabel import masks as mask_codec
from groundlabel.errors import GroundlabelError
from groundlabel.model_catalog import DEFAULT_SEGMENTER
from groundlabel.trackers.single_object import SingleObjectTrack

MODULE = "groundlabel.cvat.tracking"
#: The shape types followed; each comes back as the same type (the agent checks it).
SHAPE_TYPES = ("rectangle", "polygon", "mask")
# name -> (type cvat-cli gives it, what it is)
PARAMETERS: dict[str, tuple[type, str]] = {
    "model": (
        str,
        f"video tracker: SAM 2.1, SAM 3 tracker or EdgeTAM checkpoint, hub id or folder "
        f"(default {DEFAULT_SEGMENTER})",
    ),
    "device": (str, "auto, cpu, cuda, cuda:N or mps (default auto)"),
}

__all__ = [
    "PARAMETERS",
    "SHAPE_TYPES",
    "CvatParameterError",
    "GroundlabelTrackingFunction",
    "ShapeState",
    "TrackingParameters",
    "build",
    "create",
    "parse_tracking_parameters",
]


@dataclass(frozen=True)
class TrackingParameters:
    model: str = DEFAULT_SEGMENTER
    device: str = "auto"


def parse_tracking_parameters(params: Mapping[str, Any]) -> TrackingParameters:
    """Names and types of the ``-p`` parameters; ``CvatParameterError`` with one line."""
    return TrackingParameters(**check_names_and_types(params, PARAMETERS, MODULE))


@dataclass
class ShapeState:
    """What the agent keeps for one followed shape between requests."""

    shape_type: str
    track: SingleObjectTrack


class GroundlabelTrackingFunction:
    """A loaded video tracker answering CVAT's ``init_tracking_state`` and ``track`` calls."""

    def __init__(self, trackers: Any) -> None:
        self.trackers = trackers  # a Sam2VideoTrackers: the checkpoint, loaded once
        self.spec = cvataa.TrackingFunctionSpec(supported_shape_types=SHAPE_TYPES)

    def preprocess_image(self, context: cvataa.TrackingFunctionContext, image: Image.Image) -> Image.Image:
        """RGB once per frame for every shape followed on it (the agent always calls this)."""
        return image if image.mode == "RGB" else image.convert("RGB")

    def init_tracking_state(
        self,
        context: cvataa.TrackingFunctionShapeContext,
        pp_image: Image.Image,
        shape: cvataa.TrackableShape,
    ) -> ShapeState:
        """Prompt a session of its own with the shape on its frame."""
        width, height = pp_image.size
        if shape.type == "rectangle":
            track = SingleObjectTrack(self.trackers, pp_image, box=rectangle_box(shape.points))
        elif shape.type == "mask":
            rle = mask_codec.from_cvat_mask(shape.points, width, height)
            track = SingleObjectTrack(self.trackers, pp_image, mask=mask_codec.decode(rle))
        elif shape.type == "polygon":
            rle = mask_codec.from_polygons([list(shape.points)], width, height)
            track = SingleObjectTrack(self.trackers, pp_image, mask=mask_codec.decode(rle))
        else:
            raise ValueError(f"{MODULE} follows {', '.join(SHAPE_TYPES)}, not a {shape.type}")
        return ShapeState(shape.type, track)

    def track(
        self,
        context: cvataa.TrackingFunctionShapeContext,
        pp_image: Image.Image,
        state: ShapeState,
    ) -> cvataa.TrackableShape | None:
        """The shape on this next frame, of the type it was drawn as; None where it is not seen."""
        found = state.track.step(pp_image)
        if found is None or found.mask is None:
            return None
        return shape_of(state.shape_type, found.mask)


def rectangle_box(points: Any) -> tuple[float, float, float, float]:
    """CVAT's rectangle ``[xtl, ytl, xbr, ybr]`` as a box, refused when it cannot be one."""
    values = [float(v) for v in points]
    if len(values) != 4 or not all(np.isfinite(values)) or values[2] <= values[0] or values[3] <= values[1]:
        raise ValueError(f"a rectangle's points are xtl, ytl, xbr, ybr with some area, not {values}")
    x0, y0, x1, y1 = values
    return x0, y0, x1, y1


def shape_of(shape_type: str, rle: dict) -> cvataa.TrackableShape | None:
    """The shape of ``shape_type`` CVAT receives for a frame's mask (None: no polygon in it)."""
    if shape_type == "rectangle":
        return cvataa.TrackableShape(type="rectangle", points=list(mask_codec.bbox(rle)))
    if shape_type == "mask":
        return cvataa.TrackableShape(type="mask", points=mask_codec.to_cvat_mask(rle))
    polygons = mask_codec.to_polygons(rle)
    if not polygons:
        return None
    return cvataa.TrackableShape(type="polygon", points=max(polygons, key=polygon_area))


def polygon_area(points: list[float]) -> float:
    """Shoelace area of a flat ``[x0, y0, x1, y1, ...]`` polygon."""
    xs, ys = np.asarray(points[0::2]), np.asarray(points[1::2])
    return 0.5 * abs(float(np.dot(xs, np.roll(ys, -1)) - np.dot(ys, np.roll(xs, -1))))


def build(**params: Any) -> GroundlabelTrackingFunction:
    """Check the parameters, load the tracker checkpoint, return the function."""
    from groundlabel.segmenters.loading import read_config
    from groundlabel.trackers.sam2_video import MODEL_TYPES, Sam2VideoTrackers

    parsed = parse_tracking_parameters(params)
    model_type = read_config(parsed.model).get("model_type")
    if model_type not in MODEL_TYPES:  # before the loader, whose advice is the track command's
        raise CvatParameterError(
            f"parameter model {parsed.model}: a {model_type or 'unknown'} checkpoint, not a video tracker; "
            "give a SAM 2.1, SAM 3 tracker or EdgeTAM checkpoint, e.g. -p model=str:facebook/sam2.1-hiera-tiny"
        )
    return GroundlabelTrackingFunction(Sam2VideoTrackers(parsed.model, parsed.device))


def create(**params: Any) -> GroundlabelTrackingFunction:
    """cvat-cli's entry point: ``build``, with any user error as one line and exit status 1."""
    try:
        return build(**params)
    except GroundlabelError as exc:
        raise SystemExit(f"{MODULE}: {exc}") from None
