"""One export, the same from the CLI and the desktop: splits, images, layout, summary.

Assigns every image its split (``splits``; an earlier export in OUT with the same plan and
seed keeps its assignment, read from the folder's marker), leaves out images whose name would clash in a
layout that names files by stem, writes the format into a staged folder that replaces OUT
only when complete (``staging``), and puts the images beside the annotations
(``images_out``). ``-o x.json`` with COCO or Label Studio keeps the older single-file form:
one annotation file, no images, no split.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

from groundlabel import masks
from groundlabel.errors import GroundlabelError
from groundlabel.formats.dataset import Dataset, Progress
from groundlabel.formats.images_out import DEFAULT_IMAGE_MODE, ImagePlacer
from groundlabel.formats.registry import get_format
from groundlabel.formats.split_summary import split_table, split_warnings
from groundlabel.formats.splits import Split, assign_splits, describe, parse_splits
from groundlabel.formats.staging import read_manifest, staged_folder
from groundlabel.formats.voc_masks import palette_warnings
from groundlabel.formats.yolo import flat_name

SINGLE_FILE_FORMATS = ("coco", "labelstudio")
# Formats that name a file by the image's path without its extension.
_STEM_FORMATS = ("yolo", "voc")


@dataclass
class ExportOutcome:
    written: list[Path]
    table: str  # images and boxes per class per split
    warnings: list[str] = field(default_factory=list)  # e.g. a class with no box in a split
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (image path, reason)
    linked: int = 0
    copied: int = 0
    rewritten: int = 0  # written as shown (EXIF rotation, CMYK, 16-bit) or converted to JPEG


def is_single_file(format_name: str, out: Path) -> bool:
    return format_name in SINGLE_FILE_FORMATS and out.suffix.lower() == ".json"


def previous_assignment(out: Path, splits: list[Split], seed: int) -> dict[str, str] | None:
    """The split of each image in the earlier export at ``out``, if it used the same plan and seed."""
    manifest = read_manifest(out)
    if not manifest or manifest.get("plan") != describe(splits) or manifest.get("seed") != seed:
        return None
    images = manifest.get("images")
    return images if isinstance(images, dict) else None


def assign(dataset: Dataset, splits: list[Split], seed: int, previous: dict[str, str] | None = None) -> None:
    """Give every image its split; an image's ``group`` (a video, a chunk of its frames) is
    assigned as one unit, keyed by the group's name, so neighbouring frames share a split."""
    dataset.splits = [s.name for s in splits]
    units = {image.group or image.file_name: image for image in reversed(dataset.images)}
    earlier = None
    if previous:
        earlier = {
            unit: previous[image.file_name] for unit, image in units.items() if image.file_name in previous
        }
    assignment = assign_splits(sorted(units), splits, seed, earlier)
    for image in dataset.images:
        image.split = assignment[image.group or image.file_name]


def drop_name_clashes(dataset: Dataset, format_name: str) -> list[tuple[str, str]]:
    """Keep the first of images that share a path without extension (a.jpg, a.png) in
    YOLO and VOC, whose files are named by it; the others are reported, not overwritten."""
    if format_name not in _STEM_FORMATS:
        return []
    first: dict[str, str] = {}
    kept, skipped = [], []
    for image in dataset.images:
        name = flat_name(image.file_name) if format_name == "yolo" else image.file_name
        stem = PurePosixPath(name).with_suffix("").as_posix()
        if stem in first:
            skipped.append(
                (
                    image.file_name,
                    f"{format_name} names files without the extension, as {first[stem]}; rename one",
                )
            )
            continue
        first[stem] = image.file_name
        kept.append(image)
    dataset.images = kept
    return skipped


def drop_bad_masks(dataset: Dataset) -> list[str]:
    """Leave out the masks no export can decode (stored by an older version, or by hand), keeping
    their boxes: one bad row must not make the whole project unexportable. Returns one warning
    per such box, naming the image, the box and why (``groundlabel check`` lists and clears them)."""
    warnings = []
    for image in dataset.images:
        for n, box in enumerate(image.boxes, start=1):
            if box.mask is None:
                continue
            reason = masks.problem(box.mask, image.width, image.height)
            if reason is not None:
                image.boxes[n - 1] = replace(box, mask=None)
                warnings.append(
                    f"{image.file_name}: box {n} ({box.class_name}) exported without its mask: {reason} "
                    "(groundlabel check FOLDER --clear-bad-masks clears it)"
                )
    return warnings


def export_dataset(
    dataset: Dataset,
    out: Path,
    format_name: str,
    source_root: Path,
    *,
    splits: list[Split] | None = None,
    seed: int = 0,
    image_mode: str = DEFAULT_IMAGE_MODE,
    progress: Progress | None = None,
    options: dict[str, Any] | None = None,
) -> ExportOutcome:
    """Write ``dataset`` to ``out`` as ``format_name``; images come from ``source_root``."""
    splits = splits or parse_splits(None)
    options = dict(options or {})
    dataset_format = get_format(format_name)
    skipped = drop_name_clashes(dataset, format_name)
    mask_warnings = drop_bad_masks(dataset)
    single = is_single_file(format_name, out)
    assign(dataset, splits, seed, None if single else previous_assignment(out, splits, seed))
    if single:
        if len(splits) > 1:
            raise GroundlabelError(f"--split needs a folder for -o, not the file {out}")
        written = dataset_format.write(dataset, out, progress, None, **options)
        return ExportOutcome(written, split_table(dataset), mask_warnings + split_warnings(dataset), skipped)
    placer = ImagePlacer(source_root, image_mode, dataset.files)
    if format_name == "yolo":
        options["final_out"] = out.absolute()
    manifest = {
        "format": format_name,
        "plan": describe(splits),
        "seed": seed,
        "images": {image.file_name: image.split for image in dataset.images},
    }
    with staged_folder(out, manifest) as staging:
        written = dataset_format.write(dataset, staging, progress, placer, **options)
    written = [out.absolute() / path.relative_to(staging) for path in written]
    outcome = ExportOutcome(written, split_table(dataset), mask_warnings + split_warnings(dataset), skipped)
    if format_name == "voc" and dataset.has_masks:
        outcome.warnings += palette_warnings(dataset.images, dataset.class_names)
    outcome.linked, outcome.copied, outcome.rewritten = placer.linked, placer.copied, placer.rewritten
    return outcome
