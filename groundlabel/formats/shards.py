"""Sharded JSON Lines: ``groundlabel detect -o DIR/`` output for runs too big for one JSON.

A COCO file is written once, at the end, from results held in memory; ten million
images need neither. Here every finished image is one line appended (and flushed) to
``DIR/part-NNNNN.jsonl``, a new shard every ``SHARD_LINES`` lines, and
``DIR/manifest.json`` says which classes, model and thresholds made them. A crash loses
at most the line being written: a last line without its newline is ignored on reading,
so ``--resume`` can read the names done and skip them. Images that failed are not
written, so a rerun retries them.

One line: ``{"file": "sub/a.jpg", "width": 640, "height": 480, "boxes": [[x0, y0, x1,
y1], ...], "scores": [...], "classes": ["cat", ...]}`` (pixels of the image as shown), plus
``"masks": [RLE | null, ...]`` and ``"mask_scores"`` when the run made masks (exact COCO RLE).
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from groundlabel.atomic import write_json_atomic
from groundlabel.errors import GroundlabelError
from groundlabel.formats.dataset import Dataset, DatasetBox, DatasetImage, FormatError, Progress, tick
from groundlabel.masks import MaskError, check, normalise

MANIFEST = "manifest.json"
FORMAT_TAG = "groundlabel-shards"
SHARD_LINES = 10_000
_SHARD_NAME = re.compile(r"part-(\d+)\.jsonl$")


def is_sharded_output(text: str) -> bool:
    """``-o`` names a shard folder when it ends with a slash or is an existing folder."""
    return text.endswith(("/", os.sep)) or Path(text).is_dir()


def result_row(
    file_name: str,
    size: tuple[int, int],
    boxes: Sequence[Sequence[float]],
    scores: Sequence[float],
    classes: Sequence[str],
    masks: Sequence[dict | None] = (),
    mask_scores: Sequence[float | None] = (),
) -> dict[str, Any]:
    row = {
        "file": file_name,
        "width": size[0],
        "height": size[1],
        "boxes": [list(b) for b in boxes],
        "scores": list(scores),
        "classes": list(classes),
    }
    if any(m is not None for m in masks):
        row["masks"] = [None if m is None else normalise(m) for m in masks]
        row["mask_scores"] = list(mask_scores) or [None] * len(masks)
    return row


def shard_files(folder: Path) -> list[Path]:
    """The folder's shards in write order."""
    found = [(int(m.group(1)), p) for p in folder.glob("part-*.jsonl") if (m := _SHARD_NAME.search(p.name))]
    return [p for _, p in sorted(found)]


def read_manifest(folder: Path) -> dict[str, Any] | None:
    path = folder / MANIFEST
    if not path.exists():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FormatError(str(path), "", f"not readable JSON ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_TAG:
        raise FormatError(str(path), "", f'not a groundlabel shard manifest (no "format": "{FORMAT_TAG}")')
    return manifest


def iter_rows(folder: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, row) for every complete line of every shard; a torn last line is skipped."""
    for shard in shard_files(folder):
        text = shard.read_text(encoding="utf-8", errors="replace")
        lines = text.split("\n")
        complete = lines[:-1]  # the part after the last newline was being written when stopped
        for number, line in enumerate(complete, start=1):
            if not line.strip():
                continue
            where = f"{shard.name}:{number}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise FormatError(str(folder), where, f"not a JSON line ({exc})") from None
            if not isinstance(row, dict) or not isinstance(row.get("file"), str):
                raise FormatError(str(folder), where, 'needs an object with a text "file"')
            yield where, row


def done_files(folder: Path) -> set[str]:
    """File names already in the folder's shards (what ``--resume`` skips)."""
    return {row["file"] for _, row in iter_rows(folder)} if folder.is_dir() else set()


class ShardWriter:
    """Appends result rows to new shards of ``folder``; never rewrites a line already there."""

    def __init__(
        self, folder: Path, manifest: dict[str, Any], *, resume: bool, lines_per_shard: int = SHARD_LINES
    ) -> None:
        self.folder = folder
        self.lines_per_shard = lines_per_shard
        manifest = {"format": FORMAT_TAG, **manifest}
        existing = read_manifest(folder) if folder.is_dir() else None
        if existing is not None and not resume:
            raise GroundlabelError(
                f"{folder} already holds groundlabel output: pass --resume to continue it, "
                "or choose an empty folder"
            )
        if existing is not None and existing != manifest:
            changed = sorted(k for k in set(existing) | set(manifest) if existing.get(k) != manifest.get(k))
            raise GroundlabelError(
                f"{folder} was made with other settings ({', '.join(changed)} differ); resume with the "
                "same model, classes and thresholds, or choose an empty folder"
            )
        folder.mkdir(parents=True, exist_ok=True)
        if existing is None:
            write_json_atomic(folder / MANIFEST, manifest)
        shards = shard_files(folder)
        self._next_index = int(_SHARD_NAME.search(shards[-1].name).group(1)) + 1 if shards else 0
        self._handle: IO[str] | None = None
        self._lines = 0
        self.written: list[Path] = []

    def write(self, row: dict[str, Any]) -> None:
        if self._handle is None or self._lines >= self.lines_per_shard:
            self._rotate()
        assert self._handle is not None
        self._handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        self._handle.flush()
        self._lines += 1

    def _rotate(self) -> None:
        self._close_shard()
        path = self.folder / f"part-{self._next_index:05d}.jsonl"
        self._next_index += 1
        self._handle = path.open("x", encoding="utf-8")
        self._lines = 0
        self.written.append(path)

    def _close_shard(self) -> None:
        if self._handle is not None:
            os.fsync(self._handle.fileno())
            self._handle.close()
            self._handle = None

    def close(self) -> None:
        self._close_shard()

    def __enter__(self) -> ShardWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _checked(mask: Any, width: int, height: int, file: str, where: str) -> dict[str, Any]:
    """A row's mask through the door (``groundlabel.masks.check``), as one line naming the row."""
    try:
        return check(mask, width, height)
    except MaskError as exc:
        raise FormatError(file, where, str(exc)) from None


def read_shards(path: Path, progress: Progress | None = None) -> Dataset:
    """A shard folder as a ``Dataset`` of scored predictions (``groundlabel import -f shards``)."""
    folder = path if path.is_dir() else path.parent
    manifest = read_manifest(folder)
    if manifest is None:
        raise FormatError(
            str(folder), "", f"no {MANIFEST}: not a folder written by groundlabel detect -o DIR/"
        )
    classes = manifest.get("classes")
    if not isinstance(classes, list) or not all(isinstance(c, str) for c in classes):
        raise FormatError(str(folder / MANIFEST), "classes", "must be a list of class names")
    images: list[DatasetImage] = []
    for where, row in iter_rows(folder):
        width, height = row.get("width"), row.get("height")
        if not (isinstance(width, int) and isinstance(height, int) and width > 0 and height > 0):
            raise FormatError(str(folder), where, '"width" and "height" must be positive integers')
        boxes, scores, names = row.get("boxes", []), row.get("scores", []), row.get("classes", [])
        if not (
            all(isinstance(v, list) for v in (boxes, scores, names))
            and len(boxes) == len(scores) == len(names)
        ):
            raise FormatError(
                str(folder), where, '"boxes", "scores" and "classes" must be lists of one length'
            )
        image = DatasetImage(row["file"], width, height, entry=where, file=str(folder / where.split(":")[0]))
        row_masks = row.get("masks") or [None] * len(boxes)
        row_mask_scores = row.get("mask_scores") or [None] * len(boxes)
        if not (
            isinstance(row_masks, list)
            and isinstance(row_mask_scores, list)
            and len(row_masks) == len(boxes) == len(row_mask_scores)
        ):
            raise FormatError(str(folder), where, '"masks" and "mask_scores" must have one entry per box')
        for i, (box, score, name) in enumerate(zip(boxes, scores, names, strict=True)):
            if name not in classes:
                raise FormatError(str(folder), f"{where} boxes[{i}]", f"class {name!r} is not in {MANIFEST}")
            if not (isinstance(box, list) and len(box) == 4 and all(_finite(v) for v in box)):
                raise FormatError(
                    str(folder), f"{where} boxes[{i}]", "a box is [x0, y0, x1, y1], finite numbers"
                )
            if score is not None and not _finite(score):
                raise FormatError(str(folder), f"{where} scores[{i}]", "a score is a finite number or null")
            mask = row_masks[i]
            if mask is not None and not (isinstance(mask, dict) and mask.get("size") == [height, width]):
                raise FormatError(
                    str(folder), f"{where} masks[{i}]", f"must be an RLE of size [{height}, {width}]"
                )
            mask_score = row_mask_scores[i] if mask is not None else None
            if mask_score is not None and not _finite(mask_score):
                raise FormatError(
                    str(folder), f"{where} mask_scores[{i}]", "a mask score is a finite number or null"
                )
            image.boxes.append(
                DatasetBox(
                    tuple(float(v) for v in box),
                    name,
                    None if score is None else float(score),
                    entry=where,
                    mask=None
                    if mask is None
                    else _checked(mask, width, height, str(folder), f"{where} masks[{i}]"),
                    mask_score=None if mask_score is None else float(mask_score),
                )
            )
        images.append(image)
        tick(progress)
    return Dataset(
        list(classes),
        images,
        source=str(folder),
        model=manifest.get("model") if isinstance(manifest.get("model"), str) else None,
        box_threshold=manifest.get("box_threshold") if _finite(manifest.get("box_threshold")) else None,
        text_threshold=manifest.get("text_threshold") if _finite(manifest.get("text_threshold")) else None,
    )


def write_shards(
    dataset: Dataset, out: Path, progress: Progress | None = None, placer: object = None, **_options: object
) -> list[Path]:
    """A dataset as one shard folder (``groundlabel export -f shards``).

    Shards hold detection results that name the source folder's files, not a training set, so
    no images are placed beside them (``placer`` and the layout options are not used)."""
    manifest = {"classes": dataset.class_names, "model": dataset.model}
    with ShardWriter(out, manifest, resume=False) as writer:
        for image in dataset.images:
            writer.write(
                result_row(
                    image.file_name,
                    (image.width, image.height),
                    [b.xyxy for b in image.boxes],
                    [b.score for b in image.boxes],
                    [b.class_name for b in image.boxes],
                    [b.mask for b in image.boxes],
                    [b.mask_score for b in image.boxes],
                )
            )
            tick(progress)
    return [out / MANIFEST, *writer.written]
