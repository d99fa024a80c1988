"""MOTChallenge text: our tracks as ``gt.txt`` rows with ``seqinfo.ini``, and detections read from ``det.txt``/``gt.txt``.

The layout is MOTChallenge's: ``OUT/SEQUENCE/gt/gt.txt``, ``OUT/SEQUENCE/seqinfo.ini`` and
``OUT/SEQUENCE/gt/labels.txt`` (the class names, one a line, as Datumaro's ``mot_seq``
reads them). Rows are ``frame, id, left, top, width, height, score, class, visibility``:
frames count from 1, classes from 1 in ``labels.txt`` order, visibility is 1 (unknown). A
single video may also go to one ``.txt`` file, the rows only.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from groundlabel.atomic import write_text_atomic
from groundlabel.errors import GroundlabelError
from groundlabel.tracks import TrackSet, VideoTracks


def mot_rows(tracks: TrackSet, video: VideoTracks) -> str:
    rows = []
    for box in video.boxes():
        x0, y0, x1, y1 = box.xyxy
        rows.append(
            f"{box.frame_index + 1},{box.track_id},{x0:.2f},{y0:.2f},{x1 - x0:.2f},{y1 - y0:.2f},"
            f"{box.score:.5f},{tracks.category_id(box.label)},1"
        )
    return "".join(row + "\n" for row in rows)


def seqinfo(video: VideoTracks) -> str:
    length = video.frame_count or (max(i for i, _ in video.frames) + 1 if video.frames else 0)
    return (
        "[Sequence]\n"
        f"name={video.sequence}\n"
        "imDir=img1\n"
        f"frameRate={video.fps:g}\n"
        f"seqLength={length}\n"
        f"imWidth={video.width}\n"
        f"imHeight={video.height}\n"
        "imExt=.jpg\n"
    )


def write_mot(tracks: TrackSet, out: Path) -> list[Path]:
    """``out.txt``: one video's rows; otherwise a MOTChallenge folder with a sequence per video."""
    if out.suffix.lower() == ".txt":
        if len(tracks.videos) != 1:
            raise GroundlabelError(
                f"-o {out}: one .txt holds one video; give a folder (-o OUT/ --format mot) for {len(tracks.videos)}"
            )
        write_text_atomic(out, mot_rows(tracks, tracks.videos[0]))
        return [out]
    written = []
    for video in tracks.videos:
        folder = out / video.sequence
        rows = mot_rows(tracks, video)  # first: it may add a class name to the labels
        write_text_atomic(folder / "gt" / "gt.txt", rows)
        write_text_atomic(folder / "gt" / "labels.txt", "".join(f"{name}\n" for name in tracks.labels))
        write_text_atomic(folder / "seqinfo.ini", seqinfo(video))
        written += [folder / "gt" / "gt.txt", folder / "seqinfo.ini"]
    return written


Detections = dict[int, tuple[np.ndarray, np.ndarray, list[str]]]


def read_mot_detections(path: str | Path, labels: list[str]) -> Detections:
    """``det.txt`` or ``gt.txt`` rows by frame index (from 0): boxes xyxy, scores, class names.

    Column 7 is the score (a ground truth's 1 means sure, 0 ignored: it scores below any
    threshold). Column 8, when it is a class number from 1, names ``labels[class - 1]``;
    otherwise (MOT's ``-1``) the box gets the first label.
    """
    path = Path(path)
    if not path.is_file():
        raise GroundlabelError(f"--detections {path}: no such file")
    rows: dict[int, list[tuple[list[float], float, str]]] = {}
    default = labels[0] if labels else "object"
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip() or line.startswith("#"):
                continue
            fields = line.replace(" ", "").strip().split(",")
            try:
                frame, x, y, w, h = int(float(fields[0])), *(float(v) for v in fields[2:6])
                score = float(fields[6]) if len(fields) > 6 else 1.0
                klass = int(float(fields[7])) if len(fields) > 7 else -1
            except (ValueError, IndexError):
                raise GroundlabelError(
                    f"--detections {path}: line {number} is not a MOT row (frame,id,left,top,width,height,score,...)"
                ) from None
            if frame < 1:
                raise GroundlabelError(f"--detections {path}: line {number}: MOT frames count from 1")
            if klass >= 1 and labels and klass > len(labels):
                raise GroundlabelError(
                    f"--detections {path}: line {number}: class {klass}, but --labels names {len(labels)}"
                )
            label = labels[klass - 1] if klass >= 1 and labels else default
            rows.setdefault(frame - 1, []).append(([x, y, x + w, y + h], score, label))
    return {
        frame: (
            np.array([r[0] for r in found], dtype=float).reshape(-1, 4),
            np.array([r[1] for r in found], dtype=float),
            [r[2] for r in found],
        )
        for frame, found in rows.items()
    }
