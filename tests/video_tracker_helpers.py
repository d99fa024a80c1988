"""Shared by the video tracker tests (SAM 2.1, SAM 3 tracker, EdgeTAM): feed a clip, run
transformers' streaming reference in the readers venv, compare every frame's masks.

The reference (``readers/sam2_video_reference.py``) replays the prompts our tracker made, so
both sides see the same boxes on the same frames; it keeps everything transformers keeps,
while our session is pruned and drops lost objects.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from groundlabel import masks as mask_codec

SCRIPT = Path(__file__).parent / "readers" / "sam2_video_reference.py"
#: rows of a frame's detections: ((x0, y0, x1, y1), score, label)
Rows = list[tuple[tuple[float, float, float, float], float, str]]


def detection_arrays(rows: Rows) -> tuple[np.ndarray, np.ndarray, list[str]]:
    return (
        np.array([r[0] for r in rows], dtype=np.float64).reshape(-1, 4),
        np.array([r[1] for r in rows], dtype=np.float64),
        [r[2] for r in rows],
    )


def run_tracker(
    tracker: Any,
    frames: list,
    detections: dict[int, Rows],
    *,
    frame_step: int = 1,
    after_each: Callable[[Any], None] | None = None,
) -> dict[tuple[int, int], Any]:
    """Feed the clip (frame indices ``0, step, 2*step``…); boxes by (position, track id)."""
    out = {}
    for position, frame in enumerate(frames):
        rows = detections.get(position, [])
        for box in tracker.update(position * frame_step, *detection_arrays(rows), image=frame):
            out[(position, box.track_id)] = box
        if after_each:
            after_each(tracker)
    return out


def run_reference(
    readers_python: Path, root: Path, checkpoint: Path, frames_dir: Path, tracker: Any, *, frame_step: int = 1
) -> tuple[dict[str, np.ndarray], str]:
    """(transformers' reference arrays, its closing line) for the prompts ``tracker`` made."""
    prompts = [[p.frame_index // frame_step, p.track_id, list(p.xyxy)] for p in tracker.prompts]
    name = Path(checkpoint).name
    (root / f"{name}-prompts.json").write_text(json.dumps(prompts))
    out = root / f"{name}-ref.npz"
    run = subprocess.run(
        [str(readers_python), str(SCRIPT), str(checkpoint), str(frames_dir), str(root / f"{name}-prompts.json"), str(out)],
        capture_output=True, text=True, timeout=600, cwd=root, env={**os.environ, "HOME": str(root)},
    )  # fmt: skip
    closing = [line for line in run.stdout.splitlines() if line.startswith("SAM2-VIDEO-REFERENCE-OK")]
    assert closing, run.stdout[-3000:] + run.stderr[-3000:]
    return dict(np.load(out)), closing[-1]


def compare_with_reference(
    boxes: dict[tuple[int, int], Any], reference: dict[str, np.ndarray], positions: int, size: tuple[int, int]
) -> int:
    """Assert our masks equal the reference's on every frame, pixel for pixel, and our boxes
    are the masks' boxes within 1e-4; an empty reference mask must be no box of ours. Returns
    how many (frame, object) masks were compared."""
    compared = 0
    for position in range(positions):
        if f"masks_{position}" not in reference:
            assert not any(key[0] == position for key in boxes)
            continue
        ids, masks = reference[f"ids_{position}"], reference[f"masks_{position}"]
        assert masks.shape[1:] == size
        for track_id, mask in zip(ids.tolist(), masks, strict=True):
            box = boxes.get((position, track_id))
            if not mask.any():
                assert box is None, (position, track_id)
                continue
            assert box is not None, (position, track_id)
            assert np.array_equal(mask_codec.decode(box.mask), mask), (position, track_id)
            rows, cols = np.nonzero(mask)
            expected = (cols.min(), rows.min(), cols.max() + 1, rows.max() + 1)
            assert np.allclose(box.xyxy, expected, atol=1e-4, rtol=0), (position, track_id, box.xyxy)
            compared += 1
    return compared


def changes_along_the_clip(reference: dict[str, np.ndarray], positions: range) -> bool:
    """A real propagation: the first object's masks differ along the clip and are neither empty nor full."""
    first = [reference[f"masks_{p}"][0] for p in positions]
    return len({m.tobytes() for m in first}) > 3 and all(0.02 < m.mean() < 0.98 for m in first)
