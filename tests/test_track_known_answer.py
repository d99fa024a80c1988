"""ByteTrack's known answer: noisy ground-truth boxes of the synthetic clip tracked back into its tracks.

The clip (groundlabel.devtools.synthetic_video) has crossings, a curve, an entry and exit and
an occluding bar; the detections are its truth jittered, 10% dropped, missed behind the bar,
low-scored when partly hidden, with false positives. MOTA and IDF1 are measured by
motmetrics (not ours) reading both files with its own MOT loader; its ``iou_matrix`` fails on
numpy 2 (``np.asfarray``), so the distance matrix is computed here.
"""

from __future__ import annotations

from pathlib import Path

import motmetrics as mm
import numpy as np

from groundlabel.cli import main
from groundlabel.devtools.synthetic_video import mot_lines, noisy_detections, standard_clip, write_clip

SEEDS = range(5)


def _iou_distance(gt: np.ndarray, hyp: np.ndarray, max_distance: float = 0.5) -> np.ndarray:
    """1 - IoU of xywh boxes, NaN beyond ``max_distance`` (motmetrics' convention for "no match")."""
    if len(gt) == 0 or len(hyp) == 0:
        return np.empty((len(gt), len(hyp)))
    a = np.column_stack([gt[:, :2], gt[:, :2] + gt[:, 2:]])
    b = np.column_stack([hyp[:, :2], hyp[:, :2] + hyp[:, 2:]])
    x0 = np.maximum(a[:, None, 0], b[None, :, 0])
    y0 = np.maximum(a[:, None, 1], b[None, :, 1])
    x1 = np.minimum(a[:, None, 2], b[None, :, 2])
    y1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    union = (gt[:, 2] * gt[:, 3])[:, None] + (hyp[:, 2] * hyp[:, 3])[None, :] - inter
    distance = 1 - inter / union
    return np.where(distance > max_distance, np.nan, distance)


def _accumulate(gt_file: Path, hyp_file: Path) -> mm.MOTAccumulator:
    gt = mm.io.loadtxt(str(gt_file), fmt="mot15-2D")
    hyp = mm.io.loadtxt(str(hyp_file), fmt="mot15-2D")
    acc = mm.MOTAccumulator(auto_id=False)
    frames = sorted(set(gt.index.get_level_values(0)) | set(hyp.index.get_level_values(0)))
    for frame in frames:
        g = gt.loc[frame] if frame in gt.index.get_level_values(0) else gt.iloc[:0]
        h = hyp.loc[frame] if frame in hyp.index.get_level_values(0) else hyp.iloc[:0]
        distance = _iou_distance(
            g[["X", "Y", "Width", "Height"]].to_numpy(), h[["X", "Y", "Width", "Height"]].to_numpy()
        )
        acc.update(g.index.to_list(), h.index.to_list(), distance, frameid=frame)
    return acc


def _clip_files(folder: Path, seed: int) -> tuple[Path, Path, Path]:
    clip = standard_clip(seed=seed)
    video = write_clip(clip, folder / f"clip{seed}.mp4")
    detections = folder / f"det{seed}.txt"
    detections.write_text("\n".join(noisy_detections(clip, seed=seed)) + "\n")
    truth = folder / f"gt{seed}.txt"
    truth.write_text("\n".join(mot_lines(clip.ground_truth())) + "\n")
    return video, detections, truth


def _summary(accumulators: list, names: list[str]):
    return mm.metrics.create().compute_many(
        accumulators, names=names, metrics=["mota", "idf1", "num_switches"], generate_overall=True
    )


def _passes(summary) -> bool:
    """The known answer's bounds: MOTA and IDF1 of 0.9 overall, at most 2 identity switches a clip."""
    overall = summary.loc["OVERALL"]
    return bool(
        overall["mota"] >= 0.9
        and overall["idf1"] >= 0.9
        and summary["num_switches"].drop("OVERALL").max() <= 2
    )


def _track_all(tmp_path: Path, seeds=SEEDS) -> list[tuple[Path, Path]]:
    """``groundlabel track`` on each seed's noisy detections: (truth, tracks) MOT files."""
    pairs = []
    for seed in seeds:
        video, detections, truth = _clip_files(tmp_path, seed)
        out = tmp_path / f"tracks{seed}.txt"
        code = main(
            ["track", str(video), "--detections", str(detections), "-l", "square, disc", "-o", str(out)]
        )
        assert code == 0
        pairs.append((truth, out))
    return pairs


def test_bytetrack_on_noisy_ground_truth_reaches_mota_and_idf1_of_0_9(tmp_path: Path):
    pairs = _track_all(tmp_path)
    summary = _summary([_accumulate(t, h) for t, h in pairs], [str(s) for s in SEEDS])
    print(summary)
    overall = summary.loc["OVERALL"]
    assert overall["mota"] >= 0.9
    assert overall["idf1"] >= 0.9
    # Crossings and the bar cost at most a couple of identity switches per clip.
    assert summary["num_switches"].drop("OVERALL").max() <= 2
    assert _passes(summary)


def test_the_bounds_fail_when_ids_are_shuffled(tmp_path: Path):
    """Our own boxes, ids permuted on every 10th frame: same boxes, broken identities -> the bounds fail."""
    rng = np.random.default_rng(0)
    accumulators = []
    for truth, hyp in _track_all(tmp_path, seeds=range(2)):
        rows = [line.split(",") for line in hyp.read_text().splitlines() if line]
        ids = sorted({r[1] for r in rows})
        shuffled = hyp.with_suffix(".shuffled.txt")
        by_block = {}
        lines = []
        for r in rows:
            block = int(r[0]) // 10
            if block not in by_block:
                by_block[block] = dict(zip(ids, rng.permutation(ids), strict=True))
            lines.append(",".join([r[0], by_block[block][r[1]], *r[2:]]))
        shuffled.write_text("\n".join(lines) + "\n")
        accumulators.append(_accumulate(truth, shuffled))
    summary = _summary(accumulators, ["0", "1"])
    assert not _passes(summary)
    assert summary.loc["OVERALL", "idf1"] < 0.7


def test_the_bounds_fail_when_association_ignores_geometry(tmp_path: Path, monkeypatch):
    """ByteTrack whose matcher pairs same-class tracks and boxes at random, not by IoU: the bounds fail."""
    from groundlabel.trackers import bytetrack

    rng = np.random.default_rng(1)

    def blind_match(track_boxes, track_labels, det_boxes, det_labels, min_iou):
        pairs, used = [], set()
        for r in rng.permutation(len(track_boxes)).tolist():
            free = [c for c in rng.permutation(len(det_boxes)).tolist() if c not in used]
            same = [c for c in free if det_labels[c] == track_labels[r]]
            if same:
                pairs.append((r, same[0]))
                used.add(same[0])
        matched = {r for r, _ in pairs}
        return (
            pairs,
            [i for i in range(len(track_boxes)) if i not in matched],
            [j for j in range(len(det_boxes)) if j not in used],
        )

    monkeypatch.setattr(bytetrack, "match", blind_match)
    pairs = _track_all(tmp_path, seeds=range(2))
    summary = _summary([_accumulate(t, h) for t, h in pairs], ["0", "1"])
    assert not _passes(summary)
    assert summary["num_switches"].drop("OVERALL").max() > 2


def test_without_association_the_same_measure_fails(tmp_path: Path):
    """Each box its own track: the measure above must see that as bad (it is not a lenient check)."""
    _video, detections, truth = _clip_files(tmp_path, 0)
    rows = [line.split(",") for line in detections.read_text().splitlines()]
    hyp = tmp_path / "per-box.txt"
    hyp.write_text("".join(f"{r[0]},{i + 1},{','.join(r[2:7])},1,1\n" for i, r in enumerate(rows)))
    summary = mm.metrics.create().compute(_accumulate(truth, hyp), metrics=["idf1"])
    assert summary["idf1"].iloc[0] < 0.3


def test_mot_folder_opens_in_datumaro_with_our_ids_and_boxes(tmp_path: Path):
    import datumaro as dm

    video, detections, _ = _clip_files(tmp_path, 1)
    assert (
        main(
            [
                "track",
                str(video),
                "--detections",
                str(detections),
                "-l",
                "square, disc",
                "-o",
                f"{tmp_path}/mot/",
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "track",
                str(video),
                "--detections",
                str(detections),
                "-l",
                "square, disc",
                "-o",
                str(tmp_path / "t.json"),
            ]
        )
        == 0
    )
    dataset = dm.Dataset.import_from(str(tmp_path / "mot" / "clip1"), "mot_seq")
    names = [c.name for c in dataset.categories()[dm.AnnotationType.label]]
    assert names == ["square", "disc"]
    theirs = sorted(
        (int(item.id), a.attributes["track_id"], names[a.label], *np.round(a.get_bbox(), 1))
        for item in dataset
        for a in item.annotations
    )
    from pycocotools.coco import COCO

    coco = COCO(str(tmp_path / "t.json"))
    frame_of = {img["id"]: img["frame_id"] for img in coco.dataset["images"]}
    ours = sorted(
        (
            frame_of[a["image_id"]] + 1,
            a["track_id"],
            coco.cats[a["category_id"]]["name"],
            *np.round(a["bbox"], 1),
        )
        for a in coco.dataset["annotations"]
    )
    assert len(theirs) == len(ours) > 100
    assert [t[:3] for t in theirs] == [o[:3] for o in ours]  # frame, track id, class
    assert np.allclose([t[3:] for t in theirs], [o[3:] for o in ours], atol=0.11)
