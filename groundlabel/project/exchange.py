"""Between a project and the format-neutral ``Dataset``: what export takes, what import gives.

Export takes accepted and hand-drawn boxes (never pending or rejected) of reviewed images
(or of all images), and reviewed-empty images as negatives. Import checks the whole file
against the folder first (every image found, sizes agree, boxes inside) and then writes it
in one transaction, so a bad entry leaves the project untouched.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from groundlabel import masks
from groundlabel.errors import ImageLoadError
from groundlabel.formats.dataset import Dataset, DatasetBox, DatasetImage, FormatError, Progress, tick
from groundlabel.formats.names import DEFAULT_CHUNK_FRAMES, MIN_CHUNK_FRAMES, SPLIT_UNITS
from groundlabel.formats.yolo import FLAT_SEPARATOR
from groundlabel.project.models import BoxRecord, BoxSource, BoxStatus, ImageRecord, ImageState
from groundlabel.project.store import ReviewProject

REVIEWED_STATES = (ImageState.REVIEWED, ImageState.REVIEWED_EMPTY)
# Boxes may overhang the image by this much (float noise of normalised formats); they are clamped.
EDGE_TOLERANCE_PX = 0.01


# With fewer videos than this, "auto" splits each video by chunks: 80/20 needs five units.
AUTO_VIDEO_SPLIT_MIN = 5


@dataclass
class ExportReport:
    dataset: Dataset
    failures: list[tuple[str, str]] = field(default_factory=list)  # (image path, reason)


def project_dataset(
    project: ReviewProject,
    images: str = "reviewed",
    progress: Progress | None = None,
    split_by: str = "auto",
    chunk_frames: int | None = None,
) -> ExportReport:
    """The dataset an export writes; ``images`` is "reviewed" (default) or "all".

    Sizes come from the image headers as shown (EXIF-rotated); an unreadable image is
    reported in ``failures`` and left out, the rest goes on. A video's frames become images
    named ``clip/000123.png``, decoded from the clip in one pass, and are split by
    ``split_by`` (see ``split_group``).
    """
    classes = project.classes()
    names = {c.id: c.name for c in classes}
    dataset = Dataset(
        class_names=[c.name for c in classes],
        source=str(project.root),
        model=project.model,
        colours={c.name: c.colour for c in classes},
    )
    report = ExportReport(dataset)
    selected = project.images(state=None if images == "all" else REVIEWED_STATES, include_missing=True)
    if any(record.video for record in selected):
        dataset.files = _frame_files(project, selected, report)
        unit = _split_unit(project, split_by)
        sizes = _chunk_sizes(selected, chunk_frames)
        groups = {r.id: split_group(r, unit, sizes[str(r.video)]) for r in selected if r.video}
    else:
        groups = {}
    # One transaction for the sizes read on the way (one commit each made 10,000 images take minutes).
    with project.batch():
        _add_images(project, selected, names, report, progress, groups)
    return report


def _split_unit(project: ReviewProject, split_by: str) -> str:
    if split_by not in SPLIT_UNITS:
        raise ValueError(f"split_by must be one of {SPLIT_UNITS}, not {split_by!r}")
    if split_by != "auto":
        return split_by
    from groundlabel.project.video_frames import videos

    return "video" if len(videos(project)) >= AUTO_VIDEO_SPLIT_MIN else "chunk"


def _chunk_sizes(selected: list[ImageRecord], chunk_frames: int | None) -> dict[str, int]:
    """Frames per chunk for each video: as given, or (None) about a tenth of the video's
    selected frames, between ``MIN_CHUNK_FRAMES`` and ``DEFAULT_CHUNK_FRAMES``, so a short clip
    still has enough chunks for an 80/20 split and a long one keeps chunks of seconds."""
    counts: dict[str, int] = defaultdict(int)
    for record in selected:
        if record.video:
            counts[record.video] += 1
    if chunk_frames:
        return {video: chunk_frames for video in counts}
    return {v: max(MIN_CHUNK_FRAMES, min(DEFAULT_CHUNK_FRAMES, -(-n // 10))) for v, n in counts.items()}


def split_group(record: ImageRecord, unit: str, chunk_frames: int = DEFAULT_CHUNK_FRAMES) -> str:
    """The unit a frame is split with: its whole video, or its run of ``chunk_frames``
    contiguous frames. Never the frame alone: neighbouring frames are near copies, and a
    val frame beside a train frame would measure memory, not learning."""
    if unit == "video":
        return f"video:{record.video}"
    return f"video:{record.video}#chunk{int(record.frame or 0) // max(1, chunk_frames)}"


def _frame_files(project: ReviewProject, selected: list[ImageRecord], report: ExportReport) -> dict:
    from groundlabel.project.video_frames import decode_frames, frame_file_name

    frames = [r for r in selected if r.video and not r.missing]
    files = decode_frames(project, frames)
    return {frame_file_name(str(r.video), int(r.frame or 0)): files[r.id] for r in frames if r.id in files}


def _add_images(
    project: ReviewProject,
    selected: list[ImageRecord],
    names: dict[int, str],
    report: ExportReport,
    progress: Progress | None,
    groups: dict[int, str],
) -> None:
    from groundlabel.project.video_frames import frame_file_name

    dataset = report.dataset
    for record in selected:
        file_name = record.path
        if record.video is not None:
            file_name = frame_file_name(record.video, int(record.frame or 0))
            if not record.missing and file_name not in dataset.files:
                report.failures.append((record.path, "the video could not give this frame"))
                continue
        if record.missing:
            report.failures.append(
                (record.path, "the file is gone from the folder (its boxes stay in the project)")
            )
            continue
        tick(progress)
        try:
            info = project.ensure_image_info(record.id, with_hash=False)
        except ImageLoadError as exc:
            report.failures.append((record.path, exc.reason))
            continue
        boxes = []
        if record.state is not ImageState.REVIEWED_EMPTY:
            boxes = [
                DatasetBox(b.xyxy, names[b.class_id], b.score, mask=b.mask, mask_score=b.mask_score)
                for b in project.boxes(record.id)
                if b.exported
            ]
        dataset.images.append(
            DatasetImage(file_name, info.width, info.height, boxes, group=groups.get(record.id, ""))
        )


@dataclass
class ImportReport:
    images: int = 0
    boxes: int = 0
    duplicates: int = 0  # boxes already in the project, skipped (importing twice adds nothing)
    masks_added: int = 0  # of those, boxes that had no mask and got the file's
    classes_added: list[str] = field(default_factory=list)


class _ImageIndex:
    """Finds the project image a dataset's file name means: exact path, without extension,
    the same trailing path, or the same file name when that is unique."""

    def __init__(self, records: list[ImageRecord]) -> None:
        self.by_path = {r.path: r for r in records}
        self.by_stem: dict[str, list[ImageRecord]] = defaultdict(list)
        self.by_name: dict[str, list[ImageRecord]] = defaultdict(list)
        for record in records:
            path = PurePosixPath(record.path)
            self.by_stem[path.with_suffix("").as_posix()].append(record)
            self.by_name[path.name].append(record)

    def find(self, file_name: str) -> ImageRecord:
        """The one image meant, or ``LookupError`` saying why none (or several) fit."""
        name = file_name.replace("\\", "/")
        while name.startswith("./"):
            name = name[2:]
        path = PurePosixPath(name)
        if path.as_posix() in self.by_path:
            return self.by_path[path.as_posix()]
        same_stem = self.by_stem.get(path.as_posix(), [])
        if len(same_stem) == 1:
            return same_stem[0]
        if len(same_stem) > 1:
            raise LookupError(f"{file_name!r} matches several images: {', '.join(r.path for r in same_stem)}")
        parts = path.parts
        for start in range(1, len(parts)):  # an absolute path or another root: match the tail
            tail = PurePosixPath(*parts[start:]).as_posix()
            if tail in self.by_path:
                return self.by_path[tail]
        same_name = self.by_name.get(path.name, [])
        if len(same_name) == 1:
            return same_name[0]
        if len(same_name) > 1:
            raise LookupError(f"{file_name!r} matches several images: {', '.join(r.path for r in same_name)}")
        if FLAT_SEPARATOR in name:  # a YOLO export's flattened subfolder path
            return self.find(name.replace(FLAT_SEPARATOR, "/"))
        raise LookupError(f"missing image: no {file_name!r}")


def _scaled_box(box: DatasetBox, image: DatasetImage, width: int, height: int, file: str) -> DatasetBox:
    x0, y0, x1, y1 = box.xyxy
    if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in box.xyxy):
        raise FormatError(
            file, box.entry or image.entry, f"box {list(box.xyxy)} has a corner that is not a finite number"
        )
    if image.normalised:
        x0, y0, x1, y1 = x0 * width, y0 * height, x1 * width, y1 * height
    tolerance = EDGE_TOLERANCE_PX
    if x0 < -tolerance or y0 < -tolerance or x1 > width + tolerance or y1 > height + tolerance:
        raise FormatError(
            file,
            box.entry or image.entry,
            f"box [{x0:g}, {y0:g}, {x1:g}, {y1:g}] lies outside the {width}x{height} image {image.file_name}",
        )
    clamped = (
        min(max(x0, 0.0), width),
        min(max(y0, 0.0), height),
        min(max(x1, 0.0), width),
        min(max(y1, 0.0), height),
    )
    mask = _box_mask(box, image, width, height, file)
    if box.box_from_mask and mask is not None and masks.area(mask):
        clamped = masks.bbox(mask)
    return DatasetBox(clamped, box.class_name, box.score, box.entry, mask, box.mask_score)


def _box_mask(box: DatasetBox, image: DatasetImage, width: int, height: int, file: str) -> masks.RLE | None:
    """The box's mask in pixels of the project image: normalised polygons are scaled and
    rasterised now that the size is known; a mask of another size is refused."""
    if box.polygons:
        scaled = [[v * (width if i % 2 == 0 else height) for i, v in enumerate(p)] for p in box.polygons]
        try:
            return masks.from_polygons(scaled, width, height)
        except masks.MaskError as exc:
            raise FormatError(file, box.entry or image.entry, f"{image.file_name}: {exc}") from None
    if box.mask is None:
        return None
    if masks.size(box.mask) != (width, height):
        mask_width, mask_height = masks.size(box.mask)
        raise FormatError(
            file,
            box.entry or image.entry,
            f"the mask is {mask_width}x{mask_height} pixels but {image.file_name} is {width}x{height}",
        )
    # The door: a mask stored is a mask every export can decode (counts, codes, size).
    try:
        return masks.check(box.mask, width, height)
    except masks.MaskError as exc:
        raise FormatError(file, box.entry or image.entry, f"{image.file_name}: {exc}") from None


DUPLICATE_TOLERANCE = 1e-6  # a box this close to one already on the image (every corner) is the same box
_BUCKET = 1e-3  # the duplicate index groups boxes by class and x0 in steps of this many pixels


class _ExistingBoxes:
    """The boxes already on an image, found by class and corners in constant time.

    Comparing each imported box with every box on the image made a dense image's import
    quadratic; here a box is compared only with the few whose x0 lies in its bucket or the
    next ones, with the same tolerance as before, and the first such box (in the image's box
    order) is the match, as before.
    """

    def __init__(self, boxes: list[BoxRecord]) -> None:
        self.buckets: dict[tuple[int, int], list[tuple[int, BoxRecord]]] = defaultdict(list)
        for order, box in enumerate(boxes):
            self.buckets[(box.class_id, math.floor(box.xyxy[0] / _BUCKET))].append((order, box))

    def find(self, class_id: int, xyxy: tuple[float, ...]) -> BoxRecord | None:
        if not self.buckets:
            return None
        bucket = math.floor(xyxy[0] / _BUCKET)
        matches = [
            (order, box)
            for near in (bucket - 1, bucket, bucket + 1)
            for order, box in self.buckets.get((class_id, near), ())
            if all(abs(p - q) < DUPLICATE_TOLERANCE for p, q in zip(box.xyxy, xyxy, strict=True))
        ]
        return min(matches, key=lambda match: match[0])[1] if matches else None


def import_dataset(
    project: ReviewProject,
    dataset: Dataset,
    status: BoxStatus | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    """Add a dataset's boxes to the project (source "import"), all or nothing: one outer
    transaction, so a failure while writing the boxes also takes back the image sizes read
    while checking them (the project stays byte for byte as it was)."""
    with project.batch():
        return _import_dataset(project, dataset, status, progress)


def _import_dataset(
    project: ReviewProject,
    dataset: Dataset,
    status: BoxStatus | None,
    progress: Progress | None,
) -> ImportReport:
    """``import_dataset``'s work, inside its transaction.

    ``status`` None: boxes a person labelled become accepted, predictions pending. Accepted
    images become reviewed (reviewed-empty when they have no box); pending ones move from new
    to predicted. A box equal to one already on the image is skipped; if it had no mask and the
    file gives one, it gets that mask (a dataset segmented elsewhere comes back).
    """
    index = _ImageIndex(project.images())
    resolved: list[tuple[DatasetImage, ImageRecord, list[DatasetBox]]] = []
    seen: dict[int, str] = {}
    # One transaction for the sizes read on the way (a commit, with its fsync, per image made
    # a COCO-sized import spend minutes on commits); a failure takes them back too.
    with project.batch():
        for image in dataset.images:
            file, where = image.file or dataset.source, image.entry
            try:
                record = index.find(image.file_name)
            except LookupError as exc:
                raise FormatError(file, where, f"{exc} in {project.root}") from None
            if record.id in seen:
                raise FormatError(file, where, f"{record.path} is listed twice (also {seen[record.id]})")
            seen[record.id] = where or file
            try:
                info = project.ensure_image_info(record.id, with_hash=False)
            except ImageLoadError as exc:
                raise FormatError(file, where, f"image {record.path}: {exc.reason}") from None
            width, height = info.width or 0, info.height or 0
            if image.width is not None and (image.width, image.height) != (width, height):
                raise FormatError(
                    file,
                    where,
                    f"says {record.path} is {image.width}x{image.height}, but it is {width}x{height} as shown "
                    "(EXIF orientation applied); were the boxes made on another version of the image?",
                )
            resolved.append((image, info, [_scaled_box(b, image, width, height, file) for b in image.boxes]))
            tick(progress)

    report = ImportReport(images=len(resolved))
    with project.batch():
        before = {c.name for c in project.classes()}
        class_ids = project.ensure_classes(
            dataset.class_names + [b.class_name for _, _, bs in resolved for b in bs]
        )
        report.classes_added = [n for n in class_ids if n not in before]
        for image, record, boxes in resolved:
            box_status = status or (BoxStatus.ACCEPTED if image.labelled else BoxStatus.PENDING)
            existing = _ExistingBoxes(project.boxes(record.id))
            new_rows = []
            for box in boxes:
                same = existing.find(class_ids[box.class_name], box.xyxy)
                if same is not None:
                    report.duplicates += 1
                    if same.mask is None and box.mask is not None:  # the box came back with a mask
                        project.update_box(same.id, mask=box.mask, mask_score=box.mask_score, mask_model=None)
                        report.masks_added += 1
                    continue
                scored = box.score is not None
                new_rows.append(
                    {
                        "class_id": class_ids[box.class_name],
                        "xyxy": box.xyxy,
                        "source": BoxSource.IMPORT,
                        "status": box_status,
                        "score": box.score,
                        "model": dataset.model if scored else None,
                        "box_threshold": dataset.box_threshold if scored else None,
                        "text_threshold": dataset.text_threshold if scored else None,
                        "mask": box.mask,
                        "mask_score": box.mask_score if box.mask is not None else None,
                        "mask_model": dataset.model if box.mask is not None and scored else None,
                    }
                )
            report.boxes += project.insert_boxes(record.id, new_rows)
            current = project.image(record.id).state
            if box_status is BoxStatus.ACCEPTED:
                has_boxes = bool(boxes) or any(b.exported for b in project.boxes(record.id))
                project.set_image_state(
                    record.id, ImageState.REVIEWED if has_boxes else ImageState.REVIEWED_EMPTY
                )
            elif current is ImageState.NEW:
                project.set_image_state(record.id, ImageState.PREDICTED)
    return report
