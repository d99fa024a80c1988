"""``groundlabel detect`` for big runs: ``--ray``, sharded output (``-o DIR/``) and ``--resume``.

Whatever runs the detector (this process, or Ray actors), the output is written the
same way: ``-o x.json`` gets the COCO file of the plain path, images in input order;
``-o DIR/`` gets JSON Lines shards written as results arrive (``formats.shards``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from groundlabel import interrupts
from groundlabel.cli.bulk_options import check_ray_options
from groundlabel.cli.detect_naming import common_root, nothing_written, relative_name
from groundlabel.cli.options import detection_options
from groundlabel.errors import GroundlabelError, ImageLoadError
from groundlabel.images import expand_inputs, load_image
from groundlabel.labels import LabelSet
from groundlabel.model_loading import checkpoint_family

if TYPE_CHECKING:
    from groundlabel.detector import DetectionResult


def _is_remote(path: str) -> bool:
    return "://" in path


def _check_options(args: argparse.Namespace, sharded: bool) -> None:
    check_ray_options(args)
    if args.resume and not sharded:
        raise GroundlabelError("--resume needs a shard folder: write with -o DIR/ (a trailing slash) instead")
    if any(_is_remote(p) for p in args.paths) and not args.ray:
        raise GroundlabelError("s3://, gs:// and other URIs are read through Ray: add --ray")


def run_bulk(args: argparse.Namespace, labels: LabelSet) -> int:
    """The detect command when ``--ray``, ``--resume`` or ``-o DIR/`` is given."""
    from groundlabel.formats.shards import done_files, is_sharded_output
    from groundlabel.progress import progress_bar

    output = str(args.output)
    sharded = is_sharded_output(output)
    _check_options(args, sharded)
    local = [p for p in args.paths if not _is_remote(p)]
    remote = [p for p in args.paths if _is_remote(p)]
    sources = [str(s) for s in expand_inputs(local)] + remote
    if not sources:
        raise GroundlabelError(
            f"no images found in {', '.join(args.paths)} (looked for jpg, png, bmp, gif, tif, webp)"
        )
    root = common_root(local) if local else None

    def name_of(source: str) -> str:
        return source if root is None or _is_remote(source) else relative_name(source, root)

    order = {name_of(s): i for i, s in enumerate(sources)}
    done = done_files(Path(output)) if args.resume else set()
    todo = [s for s in sources if _is_remote(s) or name_of(s) not in done]
    sink = _open_sink(args, labels, output, sharded)
    failures: list[tuple[int, str, str]] = []
    images = boxes = 0
    try:
        with progress_bar(len(todo), "detect" + (" on ray" if args.ray else "")) as bar:
            interrupts.set_kept(
                (
                    lambda: (
                        f"{images} of {len(todo)} image(s) in {output}; the same command with --resume goes on"
                    )
                )
                if sharded
                else nothing_written(output)
            )
            for result in _results(args, labels, todo):
                name = name_of(result.source)
                if name in done:
                    continue  # a remote file listed again by Ray
                bar.update(1)
                if not result.ok:
                    failures.append(
                        (order.get(name, len(order)), result.source, result.error or "unknown error")
                    )
                    continue
                images += 1
                boxes += len(result.boxes)
                sink.add(order.get(name, len(order)), name, result)
        sink.finish(args, labels)
    finally:
        sink.close()
    skipped = f", {len(sources) - len(todo)} already done" if args.resume else ""
    print(
        f"{images} image(s), {boxes} box(es), {len(failures)} failed{skipped} -> {output}",
        file=sys.stderr,
    )
    for _, source, reason in sorted(failures):
        print(f"  failed: {source}: {reason}", file=sys.stderr)
    return 1 if failures else 0


def _results(args: argparse.Namespace, labels: LabelSet, todo: list[str]) -> Iterator[DetectionResult]:
    if not args.ray:
        from groundlabel.cli.detect_masks import MaskRefiner
        from groundlabel.detector import Detector

        detector = Detector.load(args.model, device=args.device, dtype=args.dtype)
        refiner = MaskRefiner.load(args)
        results = detector.detect(todo, labels, **detection_options(args))
        yield from results if refiner is None else map(refiner.refine, results)
        return
    yield from _ray_results(args, labels, todo)


def _ray_results(args: argparse.Namespace, labels: LabelSet, todo: list[str]) -> Iterator[DetectionResult]:
    from groundlabel.distributed import require_ray

    require_ray("groundlabel detect")
    from groundlabel.distributed.detect_pipeline import DetectJob, default_workers, detect_on_ray
    from groundlabel.distributed.session import ray_session

    readable: list[str] = []
    for source in todo:
        if _is_remote(source) or Path(source).is_file():
            readable.append(source)
            continue
        try:
            load_image(source)  # the plain path's message for a missing file or a folder
        except ImageLoadError as exc:
            from groundlabel.detector import DetectionResult

            yield DetectionResult(source, (0, 0), error=exc.reason)
    check_model(args.model)
    if args.masks:
        from groundlabel.segmenters.base import check_segmenter

        check_segmenter(args.masks)  # a bad mask model is one line here too, before Ray starts
    job = DetectJob(
        model=args.model,
        device=args.device,
        dtype=args.dtype,
        labels=args.labels or ", ".join(labels.names),  # a closed-set model: all its classes
        box_threshold=args.box_threshold,
        text_threshold=args.text_threshold,
        nms_iou=args.nms_iou,
        max_detections=args.max_detections,
        batch_size=args.batch_size,
        threads=args.threads_per_worker,
        masks=args.masks,
    )
    gpus = args.gpus_per_worker or 0.0
    with ray_session(args.address):
        workers = args.workers or default_workers(job.threads, gpus)
        yield from detect_on_ray(readable, job, workers, gpus)


class _CocoSink:
    """Results kept until the end, then written as the plain path's COCO file, in input order."""

    def __init__(self, output: str) -> None:
        self.output = output
        self.entries: list[tuple[int, Any]] = []

    def add(self, index: int, name: str, result: DetectionResult) -> None:
        from groundlabel.formats.coco import CocoImageEntry, coco_boxes

        boxes = coco_boxes(result)
        width, height = result.image_size
        self.entries.append((index, CocoImageEntry(name, width, height, boxes)))

    def finish(self, args: argparse.Namespace, labels: LabelSet) -> None:
        from groundlabel.atomic import write_json_atomic
        from groundlabel.formats.coco import build_coco

        entries = [entry for _, entry in sorted(self.entries, key=lambda pair: pair[0])]
        info = {
            "description": "groundlabel detect predictions",
            "model": _model_name(args.model),
            "family": checkpoint_family(args.model),  # the workers loaded it: local now
            "exemplars": None,  # a search by example runs without --ray (refused earlier)
            "box_threshold": args.box_threshold,
            "text_threshold": args.text_threshold,
        }
        if getattr(args, "masks", None):
            from groundlabel.segmenters.base import check_segmenter

            info["mask_model"] = check_segmenter(args.masks)  # the plain path's segmenter.model_record
        write_json_atomic(self.output, build_coco(entries, labels.names, info))

    def close(self) -> None:
        pass


class _ShardSink:
    def __init__(self, writer: Any) -> None:
        self.writer = writer

    def add(self, index: int, name: str, result: DetectionResult) -> None:
        from groundlabel.formats.shards import result_row

        self.writer.write(
            result_row(
                name,
                result.image_size,
                result.boxes,
                result.scores,
                result.labels,
                result.masks,
                result.mask_scores,
            )
        )

    def finish(self, args: argparse.Namespace, labels: LabelSet) -> None:
        pass

    def close(self) -> None:
        self.writer.close()


def _open_sink(
    args: argparse.Namespace, labels: LabelSet, output: str, sharded: bool
) -> _CocoSink | _ShardSink:
    if not sharded:
        return _CocoSink(output)
    from groundlabel.formats.shards import ShardWriter

    manifest = {
        "classes": labels.names,
        "model": _model_name(args.model),
        "box_threshold": args.box_threshold,
        "text_threshold": args.text_threshold,
        "nms_iou": args.nms_iou,
        "max_detections": args.max_detections,
    }
    return _ShardSink(ShardWriter(Path(output), manifest, resume=args.resume))


def _model_name(model: str) -> str:
    """The model as the plain path names it (``Detector.model_name`` is the name given)."""
    return model


def check_model(model: str) -> None:
    """A bad model is one line here, before Ray starts, not a failed actor's traceback."""
    from transformers import AutoConfig

    from groundlabel.errors import ModelLoadError
    from groundlabel.families import FAMILIES
    from groundlabel.model_loading import load_model

    try:
        config = AutoConfig.from_pretrained(model, local_files_only=True)
    except (OSError, ValueError):
        load_model(model, device="cpu")  # the plain path's message (or a download, once)
        return
    family = getattr(config, "model_type", "")
    if family not in FAMILIES:
        raise ModelLoadError(
            f"{model!r} is a {family!r} model; groundlabel reads these families: {', '.join(FAMILIES)}"
        )
