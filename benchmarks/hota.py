"""HOTA (Luiten et al., IJCV 2020), written from the paper's definition for the tracking benchmarks.

TrackEval (MIT) is the reference implementation, but trackeval 1.3.0 requires ``opencv-python``
(the GUI build, whose ``cv2`` would overwrite the ``opencv-python-headless`` groundlabel ships)
and ``numpy>=2.3.2`` (the venv has 2.2.6), so it is not a dependency. Its HOTA metric alone needs
only numpy and scipy: ``benchmarks.track_train_hota --check-trackeval`` compares the figures here
with it when it is importable (e.g. ``pip install --no-deps --target DIR trackeval`` and
``PYTHONPATH=DIR``).

The definition, per localisation threshold alpha in 0.05, 0.10, ..., 0.95:

* each frame's ground-truth and predicted boxes are matched one to one (Hungarian), pairs with
  IoU >= alpha only, preferring pairs whose identities agree over the whole sequence (the
  score is IoU times the pair's global alignment, the Jaccard index of the frames where the two
  could match); matched pairs are TPs, the other ground truth FNs, the other predictions FPs;
* DetA = |TP| / (|TP| + |FN| + |FP|);
* for each TP c of ground-truth id g and predicted id p, A(c) = TPA / (TPA + FNA + FPA), where
  TPA counts the TPs with the same g and p, FNA the other boxes of g and FPA the other boxes of
  p; AssA = the mean of A(c) over the TPs;
* HOTA = sqrt(DetA * AssA), and the reported figure is the mean over the 19 thresholds.

Boxes of different classes never match (their IoU is taken as 0), so a track of the wrong
class counts as a miss and a false positive.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from groundlabel.trackers.bytetrack import (
    iou_matrix,  # re-exported: the benchmark scores with the tracker's IoU
)

ALPHAS = np.arange(0.05, 0.951, 0.05)
_EPS = np.finfo(float).eps


@dataclass(frozen=True)
class Box:
    """One box of a sequence: frame index, identity, class and corners."""

    frame: int
    track_id: int
    label: str
    xyxy: tuple[float, float, float, float]


@dataclass(frozen=True)
class Hota:
    """The figures averaged over the thresholds (``per_alpha`` keeps HOTA at each)."""

    hota: float
    deta: float
    assa: float
    loca: float
    per_alpha: tuple[float, ...]


@dataclass(frozen=True)
class Frames:
    """A sequence as the metrics read it: per frame, ids as indices 0..n-1 and the IoU matrix."""

    gt_ids: list[np.ndarray]
    pred_ids: list[np.ndarray]
    similarity: list[np.ndarray]
    num_gt_ids: int
    num_pred_ids: int


def frames_of(truth: Sequence[Box], predicted: Sequence[Box]) -> Frames:
    """Group both box lists by frame; IoU is 0 across classes."""
    gt_index = {t: i for i, t in enumerate(sorted({b.track_id for b in truth}))}
    pred_index = {t: i for i, t in enumerate(sorted({b.track_id for b in predicted}))}
    last = max([b.frame for b in [*truth, *predicted]], default=-1)
    gt_by: list[list[Box]] = [[] for _ in range(last + 1)]
    pred_by: list[list[Box]] = [[] for _ in range(last + 1)]
    for b in truth:
        gt_by[b.frame].append(b)
    for b in predicted:
        pred_by[b.frame].append(b)
    gt_ids, pred_ids, similarity = [], [], []
    for g, p in zip(gt_by, pred_by, strict=True):
        iou = iou_matrix(
            np.array([b.xyxy for b in g]).reshape(-1, 4), np.array([b.xyxy for b in p]).reshape(-1, 4)
        )
        same = np.array([[bg.label == bp.label for bp in p] for bg in g], dtype=bool).reshape(len(g), len(p))
        gt_ids.append(np.array([gt_index[b.track_id] for b in g], dtype=int))
        pred_ids.append(np.array([pred_index[b.track_id] for b in p], dtype=int))
        similarity.append(np.where(same, iou, 0.0))
    return Frames(gt_ids, pred_ids, similarity, len(gt_index), len(pred_index))


def hota(truth: Sequence[Box], predicted: Sequence[Box]) -> Hota:
    """HOTA, DetA, AssA and LocA of ``predicted`` against ``truth`` (one sequence)."""
    return hota_of_frames(frames_of(truth, predicted))


def hota_of_frames(data: Frames) -> Hota:
    n_gt, n_pred = data.num_gt_ids, data.num_pred_ids
    gt_count = np.zeros(n_gt)
    pred_count = np.zeros(n_pred)
    # Global alignment: how often each (gt id, predicted id) pair could be matched, as a Jaccard index.
    potential = np.zeros((n_gt, n_pred))
    for g, p, sim in zip(data.gt_ids, data.pred_ids, data.similarity, strict=True):
        gt_count[g] += 1
        pred_count[p] += 1
        if sim.size:
            # Each box's similarity shared out over the boxes it overlaps (a soft one-to-one count).
            share = sim / np.maximum(sim.sum(0)[None, :] + sim.sum(1)[:, None] - sim, _EPS)
            potential[g[:, None], p[None, :]] += share
    alignment = potential / np.maximum(gt_count[:, None] + pred_count[None, :] - potential, _EPS)

    k = len(ALPHAS)
    tp, fn, fp, loc = np.zeros(k), np.zeros(k), np.zeros(k), np.zeros(k)
    matches = np.zeros((k, n_gt, n_pred))
    for g, p, sim in zip(data.gt_ids, data.pred_ids, data.similarity, strict=True):
        if len(g) == 0 or len(p) == 0:
            fn += len(g)
            fp += len(p)
            continue
        rows, cols = linear_sum_assignment(-(alignment[g[:, None], p[None, :]] * sim))
        matched_sim = sim[rows, cols]
        for a, alpha in enumerate(ALPHAS):
            keep = matched_sim >= alpha - _EPS
            hits = int(keep.sum())
            tp[a] += hits
            fn[a] += len(g) - hits
            fp[a] += len(p) - hits
            loc[a] += matched_sim[keep].sum()
            matches[a, g[rows[keep]], p[cols[keep]]] += 1

    deta = tp / np.maximum(tp + fn + fp, 1)
    assa = np.zeros(k)
    for a in range(k):
        m = matches[a]
        pair_iou = m / np.maximum(gt_count[:, None] + pred_count[None, :] - m, 1)
        assa[a] = (m * pair_iou).sum() / max(tp[a], 1)
    per_alpha = np.sqrt(deta * assa)
    # A threshold with no match localised nothing badly: LocA 1 there, as TrackEval counts it.
    loca = np.where(tp > 0, loc / np.maximum(tp, 1), 1.0)
    return Hota(
        float(per_alpha.mean()),
        float(deta.mean()),
        float(assa.mean()),
        float(loca.mean()),
        tuple(float(v) for v in per_alpha),
    )


def trackeval_hota(truth: Sequence[Box], predicted: Sequence[Box]) -> Hota | None:
    """The same figures from TrackEval's own HOTA metric, or None when trackeval is not importable."""
    try:
        from trackeval.metrics import HOTA
    except ImportError:
        return None
    data = frames_of(truth, predicted)
    sequence = {
        "num_timesteps": len(data.gt_ids),
        "num_gt_ids": data.num_gt_ids,
        "num_tracker_ids": data.num_pred_ids,
        "num_gt_dets": sum(len(g) for g in data.gt_ids),
        "num_tracker_dets": sum(len(p) for p in data.pred_ids),
        "gt_ids": data.gt_ids,
        "tracker_ids": data.pred_ids,
        "similarity_scores": data.similarity,
    }
    result = HOTA().eval_sequence(sequence)
    return Hota(
        float(np.mean(result["HOTA"])),
        float(np.mean(result["DetA"])),
        float(np.mean(result["AssA"])),
        float(np.mean(result["LocA"])),
        tuple(float(v) for v in result["HOTA"]),
    )


def _track(track_id: int, label: str, boxes: dict[int, tuple[float, float, float, float]]) -> list[Box]:
    return [Box(frame, track_id, label, xyxy) for frame, xyxy in boxes.items()]


def check_by_hand() -> None:
    """Small cases worked out by hand from the definition; ``python -m benchmarks.hota`` runs them."""
    square = (0.0, 0.0, 10.0, 10.0)
    half = (0.0, 0.0, 10.0, 5.0)  # IoU 0.5 with ``square``
    far = (50.0, 50.0, 60.0, 60.0)
    one = _track(1, "a", {0: square, 1: square})
    four = _track(1, "a", dict.fromkeys(range(4), square))
    cases = [
        ("perfect", one, _track(7, "a", {0: square, 1: square}), 1.0, 1.0, 1.0),
        # An id switch on frame 1: every box a TP (DetA 1); each pair's Ass-IoU is 1 / (2 + 1 - 1).
        ("id switch", one, _track(7, "a", {0: square}) + _track(8, "a", {1: square}), 0.5**0.5, 1.0, 0.5),
        # IoU exactly 0.5: a perfect match for alpha 0.05..0.50 (10 of 19 thresholds), none above.
        ("IoU 0.5", one, _track(7, "a", {0: half, 1: half}), 10 / 19, 10 / 19, 10 / 19),
        # One false positive: TP 2, FP 1 -> DetA 2/3, AssA 1.
        (
            "false positive",
            one,
            _track(7, "a", {0: square, 1: square}) + _track(9, "a", {0: far}),
            (2 / 3) ** 0.5,
            2 / 3,
            1.0,
        ),
        # A fragment: X on frames 0-2, Y on 3. Ass-IoU 3/(4+3-3) and 1/(4+1-1); AssA (3*0.75 + 1*0.25)/4.
        (
            "fragment",
            four,
            _track(7, "a", {0: square, 1: square, 2: square}) + _track(8, "a", {3: square}),
            0.625**0.5,
            1.0,
            0.625,
        ),
        ("wrong class", one, _track(7, "b", {0: square, 1: square}), 0.0, 0.0, 0.0),
    ]
    for name, truth, predicted, want_hota, want_deta, want_assa in cases:
        got = hota(truth, predicted)
        assert abs(got.hota - want_hota) < 1e-12, (name, got.hota, want_hota)
        assert abs(got.deta - want_deta) < 1e-12, (name, got.deta, want_deta)
        assert abs(got.assa - want_assa) < 1e-12, (name, got.assa, want_assa)
        reference = trackeval_hota(truth, predicted)
        if reference is not None:
            assert abs(reference.hota - got.hota) < 1e-12, (name, "trackeval", reference.hota)
    print(f"{len(cases)} hand-worked cases agree" + ("" if reference is None else ", and with TrackEval"))


if __name__ == "__main__":
    check_by_hand()
