"""The video loop's known answer: track -> review -> train -> track --model, scored by HOTA.

    python -m benchmarks.track_train_hota [--length 30] [--train-clips 2] [--epochs 80] [--runs 3]
        [--seed 0] [--image-size 160] [--review careful|accept] [--threads 1] [--check-trackeval]

Each run, on the synthetic known-answer clips (``groundlabel.devtools.synthetic_video``):

1. ``--train-clips`` clips (seeds ``seed + 100 * run + k``) go into a project folder; ``groundlabel
   track --detections`` links their noisy ground truth (jitter, 10 % dropped, false positives)
   with ByteTrack and ``groundlabel import -f coco-vid`` makes every frame an image of the project.
2. The review. ``careful`` (the default) is a reviewer who checks each frame against what is
   visible: a tracker box matching a ground-truth box at least half visible (same class, IoU >=
   0.5, one to one) is accepted as it is (the tracker's jittered corners), every other tracker
   box is rejected (false positives, boxes on objects hidden by the bar), and each visible object
   no box matched is drawn by hand; each frame is then marked reviewed (or reviewed-empty).
   ``accept`` accepts every track whole (``AcceptTrack``), as a hurried reviewer would.
3. ``groundlabel train --from-scratch --config tiny --split train=0.8,val=0.2 --split-by chunk
   --chunk-frames K`` trains RT-DETRv2 on the reviewed frames, in this process with
   ``--threads`` torch threads; its wall time is the train time.
4. A new clip (seed ``seed + 100 * run + 50``) is tracked twice: (a) ``track --detections`` on its
   noisy ground truth, the upper reference a detector cannot beat here, and (b) ``track --model``
   with the trained closed-set model (``--dtype fp32``, as train's val mAP).

Both are scored against the new clip's ground truth (every object at least half inside the
picture, those behind the bar included, as MOTChallenge keeps them): HOTA, DetA, AssA by
``benchmarks.hota`` (the paper's definition; ``--check-trackeval`` asserts TrackEval's own HOTA
gives the same when trackeval is importable), MOTA and IDF1 by motmetrics at IoU 0.5. Boxes of
different classes never match. The table gives medians over the runs.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import motmetrics as mm
import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from benchmarks.hota import Box, check_by_hand, hota, iou_matrix, trackeval_hota
from groundlabel.cli import main as cli
from groundlabel.devtools.synthetic_video import (
    MIN_VISIBILITY,
    SHAPE_LABELS,
    Clip,
    noisy_detections,
    standard_clip,
    write_clip,
)

LABELS = ", ".join(SHAPE_LABELS)
METRICS = ("HOTA", "DetA", "AssA", "MOTA", "IDF1")


@dataclass
class Review:
    accepted: int = 0
    rejected: int = 0
    drawn: int = 0


def _run_cli(argv: list[str], quiet: bool = True) -> None:
    """One ``groundlabel`` command in this process (its output kept off the table unless it fails)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli(argv)
    if code != 0 or not quiet:
        print(out.getvalue() + err.getvalue())
    if code != 0:
        raise SystemExit(f"groundlabel {argv[0]} failed ({code})")


def _write_inputs(clip: Clip, video: Path, detections: Path, seed: int) -> None:
    write_clip(clip, video)
    detections.write_text("\n".join(noisy_detections(clip, seed=seed)) + "\n")


def truth_boxes(clip: Clip, visible_only: bool = False) -> list[Box]:
    return [
        Box(b.frame, b.track_id, b.label, b.xyxy)
        for b in clip.ground_truth()
        if not visible_only or b.visibility >= MIN_VISIBILITY
    ]


def read_tracks(path: Path) -> list[Box]:
    """A COCO-VID file's boxes (one video), read here rather than by the product's reader."""
    document = json.loads(path.read_text())
    names = {c["id"]: c["name"] for c in document["categories"]}
    frame_of = {i["id"]: i["frame_id"] for i in document["images"]}
    boxes = []
    for a in document["annotations"]:
        x, y, w, h = a["bbox"]
        boxes.append(
            Box(frame_of[a["image_id"]], a["track_id"], names[a["category_id"]], (x, y, x + w, y + h))
        )
    return boxes


def _match(truth: list[Box], found: list, key) -> list[tuple[int, int]]:
    """One-to-one pairs (truth index, found index) of the same class with IoU >= 0.5."""
    if not truth or not found:
        return []
    iou = iou_matrix(np.array([t.xyxy for t in truth]), np.array([key(f)[1] for f in found]))
    same = np.array([[t.label == key(f)[0] for f in found] for t in truth])
    iou = np.where(same, iou, 0.0)
    rows, cols = linear_sum_assignment(-iou)
    return [(r, c) for r, c in zip(rows, cols, strict=True) if iou[r, c] >= 0.5]


def review(folder: Path, clips: dict[str, Clip], mode: str) -> Review:
    """Review every frame of the project as ``mode`` says (see the module's docstring)."""
    from groundlabel.project import ReviewProject
    from groundlabel.project.commands import AddBox, SetBoxStatus
    from groundlabel.project.models import BoxStatus, ImageState
    from groundlabel.project.track_edits import AcceptTrack

    counts = Review()
    with ReviewProject.open(folder) as project:
        if mode == "accept":
            for track in project.tracks():
                project.execute(AcceptTrack(project, track.track_id))
                counts.accepted += track.box_count
        else:
            names = {c.id: c.name for c in project.classes()}
            visible = {video: truth_boxes(clip, visible_only=True) for video, clip in clips.items()}
            for image in project.images():
                truth = [b for b in visible[image.video] if b.frame == image.frame]
                boxes = project.boxes(image.id)
                pairs = _match(truth, boxes, lambda b: (names[b.class_id], b.xyxy))
                kept = {boxes[c].id for _, c in pairs}
                if kept:
                    project.execute(SetBoxStatus(sorted(kept), BoxStatus.ACCEPTED))
                dropped = [b.id for b in boxes if b.id not in kept]
                if dropped:
                    project.execute(SetBoxStatus(dropped, BoxStatus.REJECTED))
                matched = {r for r, _ in pairs}
                for i, t in enumerate(truth):
                    if i not in matched:
                        project.execute(AddBox(image.id, project.class_by_name(t.label).id, t.xyxy))
                counts.accepted += len(kept)
                counts.rejected += len(dropped)
                counts.drawn += len(truth) - len(matched)
        for image in project.images():
            accepted = any(b.status == BoxStatus.ACCEPTED for b in project.boxes(image.id))
            project.set_image_state(image.id, ImageState.REVIEWED if accepted else ImageState.REVIEWED_EMPTY)
    return counts


def mot_scores(truth: list[Box], predicted: list[Box]) -> tuple[float, float]:
    """MOTA and IDF1 by motmetrics at IoU 0.5, class-aware (its ``iou_matrix`` fails on numpy 2)."""
    acc = mm.MOTAccumulator(auto_id=False)
    for frame in sorted({b.frame for b in truth} | {b.frame for b in predicted}):
        g = [b for b in truth if b.frame == frame]
        p = [b for b in predicted if b.frame == frame]
        distance = np.full((len(g), len(p)), np.nan)
        if g and p:
            iou = iou_matrix(np.array([b.xyxy for b in g]), np.array([b.xyxy for b in p]))
            same = np.array([[a.label == b.label for b in p] for a in g])
            distance = np.where(same & (iou >= 0.5), 1 - iou, np.nan)
        acc.update([b.track_id for b in g], [b.track_id for b in p], distance, frameid=frame)
    summary = mm.metrics.create().compute(acc, metrics=["mota", "idf1"])
    return float(summary["mota"].iloc[0]), float(summary["idf1"].iloc[0])


def score(truth: list[Box], predicted: list[Box], check_trackeval: bool) -> dict[str, float]:
    h = hota(truth, predicted)
    if check_trackeval:
        reference = trackeval_hota(truth, predicted)
        if reference is None:
            raise SystemExit("--check-trackeval: trackeval is not importable (pip install --no-deps ...)")
        for name in ("hota", "deta", "assa", "loca"):
            ours, theirs = getattr(h, name), getattr(reference, name)
            assert abs(ours - theirs) < 1e-9, f"{name}: ours {ours} vs trackeval {theirs}"
    mota, idf1 = mot_scores(truth, predicted)
    return {"HOTA": h.hota, "DetA": h.deta, "AssA": h.assa, "MOTA": mota, "IDF1": idf1}


def one_run(run: int, args: argparse.Namespace, work: Path) -> dict[str, object]:
    base = args.seed + 100 * run
    folder = work / "project"
    folder.mkdir(parents=True)
    clips = {}
    for k in range(args.train_clips):
        clip = standard_clip(length=args.length, seed=base + k)
        name = f"clip{k}.mp4"
        detections, tracks = work / f"det{k}.txt", work / f"tracks{k}.json"
        _write_inputs(clip, folder / name, detections, base + k)
        _run_cli(
            ["track", str(folder / name), "--detections", str(detections), "-l", LABELS, "-o", str(tracks)]
        )
        _run_cli(["import", str(folder), str(tracks), "-f", "coco-vid"])
        clips[name] = clip
    counts = review(folder, clips, args.review)

    model = work / "model"
    train = ["train", str(folder), "-o", str(model), "--from-scratch", "--config", "tiny"]
    train += [
        "--epochs",
        str(args.epochs),
        "--image-size",
        str(args.image_size),
        "--batch-size",
        str(args.batch_size),
    ]
    train += ["--split", "train=0.8,val=0.2", "--split-by", "chunk", "--chunk-frames", str(args.chunk_frames)]
    train += ["--seed", str(run), "--device", "cpu"]
    started = time.perf_counter()
    _run_cli(train)
    train_s = time.perf_counter() - started
    report = json.loads((model / "train_metrics.json").read_text())
    best = next(h for h in report["history"] if h["epoch"] == report["best_epoch"])

    test = standard_clip(length=args.length, seed=base + 50)
    video, detections = work / "test.mp4", work / "test_det.txt"
    _write_inputs(test, video, detections, base + 50)
    reference, trained = work / "reference.json", work / "trained.json"
    _run_cli(["track", str(video), "--detections", str(detections), "-l", LABELS, "-o", str(reference)])
    tracked = [
        "track",
        str(video),
        "--model",
        str(model),
        "-l",
        LABELS,
        "-o",
        str(trained),
        "--dtype",
        "fp32",
    ]
    tracked += ["--device", "cpu", "--box-threshold", str(args.box_threshold)]
    _run_cli(tracked)
    truth = truth_boxes(test)
    return {
        "reference": score(truth, read_tracks(reference), args.check_trackeval),
        "trained": score(truth, read_tracks(trained), args.check_trackeval),
        "train_s": train_s,
        "map50": best["map50"],
        "train_images": report["train_images"],
        "val_images": report["val_images"],
        "review": counts,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--length", type=int, default=30, help="frames per clip (default 30)")
    parser.add_argument("--train-clips", type=int, default=2, help="clips reviewed and trained on per run")
    parser.add_argument("--epochs", type=int, default=80)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0, help="first clip seed (run r: seed + 100 r + k)")
    parser.add_argument("--image-size", type=int, default=160)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--chunk-frames", type=int, default=10)
    parser.add_argument("--box-threshold", type=float, default=0.35, help="track --model's (its default)")
    parser.add_argument("--review", choices=("careful", "accept"), default="careful")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--check-trackeval", action="store_true", help="assert TrackEval's HOTA agrees")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    check_by_hand()  # the HOTA code on cases worked out by hand, before it scores anything
    print(f"{args.runs} run(s): {args.train_clips} train clip(s) of {args.length} frames, review {args.review}, "
          f"RT-DETRv2 tiny from scratch, {args.epochs} epochs at {args.image_size} px, "
          f"{args.threads} torch thread(s)", flush=True)  # fmt: skip
    runs = []
    for run in range(args.runs):
        with tempfile.TemporaryDirectory() as work:
            result = one_run(run, args, Path(work))
        runs.append(result)
        r, t, c = result["reference"], result["trained"], result["review"]
        print(f"run {run}: train {result['train_s'] / 60:.1f} min on {result['train_images']} frames "
              f"(val {result['val_images']}, mAP@0.5 {result['map50']:.3f}); review: {c.accepted} accepted, "
              f"{c.rejected} rejected, {c.drawn} drawn; HOTA reference {r['HOTA']:.3f}, "
              f"trained {t['HOTA']:.3f}", flush=True)  # fmt: skip
    print(f"\nmedians over {len(runs)} run(s)")
    print("| tracked on the new clip | " + " | ".join(METRICS) + " | train time |")
    print("|---|" + "---:|" * (len(METRICS) + 1))
    for key, name in (
        ("reference", "(a) ByteTrack on noisy ground truth"),
        ("trained", "(b) trained model + ByteTrack"),
    ):
        cells = [f"{statistics.median(r[key][m] for r in runs):.3f}" for m in METRICS]
        extra = "" if key == "reference" else f"{statistics.median(r['train_s'] for r in runs) / 60:.1f} min"
        print(f"| {name} | " + " | ".join(cells) + f" | {extra} |")


if __name__ == "__main__":
    main()
