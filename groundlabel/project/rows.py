"""Turning database rows into records, and the column lists that match them."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from groundlabel import masks
from groundlabel.masks import RLE
from groundlabel.project.database import ProjectError
from groundlabel.project.models import BoxRecord, BoxSource, BoxStatus, ClassRecord, ImageRecord, ImageState

IMAGE_COLUMNS = (
    "id, path, state, width, height, content_hash, prediction_key, missing, changed, video, frame, timestamp"
)
IMAGE_COLUMN_COUNT = len(IMAGE_COLUMNS.split(","))
BOX_COLUMNS = (
    "id, image_id, class_id, x0, y0, x1, y1, score, source, status, model, box_threshold, text_threshold, "
    "auto_accepted, mask, mask_score, mask_model, track_id"
)
BOX_PLACEHOLDERS = ",".join("?" * len(BOX_COLUMNS.split(",")))


def image_row(row: Sequence[Any], counts: Sequence[int] = (0, 0, 0, 0)) -> ImageRecord:
    """An image row plus its (pending, accepted, rejected, masked) box counts."""
    return ImageRecord(
        id=row[0],
        path=row[1],
        state=ImageState(row[2]),
        width=row[3],
        height=row[4],
        content_hash=row[5],
        prediction_key=row[6],
        missing=bool(row[7]),
        changed=bool(row[8]),
        pending_count=counts[0] or 0,
        accepted_count=counts[1] or 0,
        rejected_count=counts[2] or 0,
        mask_count=(counts[3] if len(counts) > 3 else 0) or 0,
        video=row[9],
        frame=row[10],
        timestamp=row[11],
    )


def box_row(row: Sequence[Any]) -> BoxRecord:
    return BoxRecord(
        id=row[0],
        image_id=row[1],
        class_id=row[2],
        xyxy=(row[3], row[4], row[5], row[6]),
        score=row[7],
        source=BoxSource(row[8]),
        status=BoxStatus(row[9]),
        model=row[10],
        box_threshold=row[11],
        text_threshold=row[12],
        auto_accepted=bool(row[13]),
        mask=mask_from_column(row[14]),
        mask_score=row[15],
        mask_model=row[16],
        track_id=row[17],
    )


def mask_to_column(mask: RLE | None) -> str | None:
    """The ``boxes.mask`` text of a mask: compact JSON of the product's RLE (None stays NULL)."""
    if mask is None:
        return None
    return json.dumps(masks.normalise(mask), separators=(",", ":"))


def mask_from_column(text: str | None) -> RLE | None:
    """The stored mask; text that is not JSON (a hand edit) comes back as an RLE with no size,
    which ``masks.check`` refuses, so exports leave it out instead of failing."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return {"size": None, "counts": None}


def class_row(row: Sequence[Any]) -> ClassRecord:
    return ClassRecord(
        id=row[0], name=row[1], aliases=tuple(json.loads(row[2])), colour=row[3], position=row[4]
    )


def check_xyxy(xyxy: Sequence[float]) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = (float(v) for v in xyxy)
    if not (x1 >= x0 and y1 >= y0):
        raise ProjectError(
            f"box {[x0, y0, x1, y1]} has its corners the wrong way round (need x0<=x1, y0<=y1)"
        )
    return x0, y0, x1, y1


_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


def check_colour(colour: str) -> str:
    if not isinstance(colour, str) or not _COLOUR.match(colour):
        raise ProjectError(f"colour {colour!r} is not of the form #rrggbb")
    return colour.lower()
