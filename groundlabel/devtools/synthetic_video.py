"""A known answer for tracking: coloured shapes moving through a clip, with their true tracks.

No tracking model or data set can be downloaded here, so tracking is measured on clips whose
answer is known by construction: shapes on a textured background move on straight and
curved paths, cross each other, pass behind an occluding bar, enter and leave the picture.
``ground_truth`` gives every visible box with its track id (MOTChallenge ``gt.txt``),
``noisy_detections`` turns it into what a decent detector would give (jitter, missed
boxes, low scores behind the bar, false positives), and ``write_clip`` encodes the frames
with PyAV so the reader under test decodes a real video. The same seed gives the same clip.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

SHAPE_LABELS = ("square", "disc")
# A box is ground truth while at least this much of it is inside the picture, and detected
# while at least this much of it is visible (inside and not behind the bar).
MIN_VISIBILITY = 0.5


@dataclass(frozen=True)
class MovingShape:
    """One object: a shape of fixed size on a path ``start + velocity * t`` plus a sideways wave."""

    track_id: int
    label: str
    colour: tuple[int, int, int]
    size: tuple[float, float]
    start: tuple[float, float]
    velocity: tuple[float, float]
    first: int = 0
    last: int | None = None  # inclusive; None: to the end of the clip
    wave: float = 0.0  # amplitude in pixels of a curve across the direction of travel
    period: float = 20.0  # frames per wave

    def centre(self, t: int) -> tuple[float, float]:
        dt = t - self.first
        x = self.start[0] + self.velocity[0] * dt
        y = self.start[1] + self.velocity[1] * dt
        if self.wave:
            speed = math.hypot(*self.velocity) or 1.0
            nx, ny = -self.velocity[1] / speed, self.velocity[0] / speed
            offset = self.wave * math.sin(2 * math.pi * dt / self.period)
            x, y = x + nx * offset, y + ny * offset
        return x, y

    def box(self, t: int) -> tuple[float, float, float, float] | None:
        if t < self.first or (self.last is not None and t > self.last):
            return None
        cx, cy = self.centre(t)
        w, h = self.size
        return (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)


@dataclass(frozen=True)
class TruthBox:
    frame: int
    track_id: int
    label: str
    xyxy: tuple[float, float, float, float]
    visibility: float


@dataclass
class Clip:
    """A scene: size, length, the occluding bar (x0, x1; full height) and the shapes."""

    width: int
    height: int
    length: int
    fps: int
    shapes: list[MovingShape]
    bar: tuple[int, int] | None = None
    seed: int = 0
    _background: np.ndarray | None = field(default=None, repr=False)

    def background(self) -> np.ndarray:
        if self._background is None:
            rng = np.random.default_rng(self.seed)
            yy, xx = np.mgrid[0 : self.height, 0 : self.width]
            stripes = ((xx + yy) // 12 % 2 * 25).astype(np.int16)
            noise = rng.integers(0, 30, (self.height, self.width, 3), dtype=np.int16)
            self._background = np.clip(100 + stripes[..., None] + noise, 0, 255).astype(np.uint8)
        return self._background

    def frame(self, t: int) -> np.ndarray:
        """Frame ``t`` as an (H, W, 3) uint8 array: shapes in id order, the bar over them."""
        image = Image.fromarray(self.background().copy(), "RGB")
        draw = ImageDraw.Draw(image)
        for shape in self.shapes:
            box = shape.box(t)
            if box is None:
                continue
            if shape.label == "disc":
                draw.ellipse(box, fill=shape.colour)
            else:
                draw.rectangle(box, fill=shape.colour)
        if self.bar is not None:
            draw.rectangle((self.bar[0], 0, self.bar[1] - 1, self.height - 1), fill=(20, 20, 20))
        return np.asarray(image)

    def frames(self) -> Iterator[np.ndarray]:
        for t in range(self.length):
            yield self.frame(t)

    def ground_truth(self) -> list[TruthBox]:
        """Every object at least ``MIN_VISIBILITY`` inside the picture, clipped to it, by frame then id.

        As in MOTChallenge, an object hidden behind the bar stays in the truth (its
        ``visibility`` says how much shows): a track should go on through an occlusion.
        """
        truth = []
        for t in range(self.length):
            for shape in self.shapes:
                box = shape.box(t)
                if box is None:
                    continue
                inside, visibility, clipped = self._visible(box)
                if inside >= MIN_VISIBILITY:
                    truth.append(TruthBox(t, shape.track_id, shape.label, clipped, visibility))
        return truth

    def _visible(
        self, box: tuple[float, float, float, float]
    ) -> tuple[float, float, tuple[float, float, float, float]]:
        """(fraction inside the picture, fraction visible, box clipped to the picture)."""
        x0, y0, x1, y1 = box
        area = (x1 - x0) * (y1 - y0)
        cx0, cy0 = max(0.0, x0), max(0.0, y0)
        cx1, cy1 = min(float(self.width), x1), min(float(self.height), y1)
        if cx1 <= cx0 or cy1 <= cy0:
            return 0.0, 0.0, box
        inside = (cx1 - cx0) * (cy1 - cy0)
        hidden = 0.0
        if self.bar is not None:
            overlap = max(0.0, min(cx1, self.bar[1]) - max(cx0, self.bar[0]))
            hidden = overlap * (cy1 - cy0)
        return inside / area, (inside - hidden) / area, (cx0, cy0, cx1, cy1)


def standard_clip(width: int = 160, height: int = 120, length: int = 30, seed: int = 0) -> Clip:
    """The known-answer scene: a crossing pair, a curve, an entry and exit, a pass behind the bar.

    Sizes and speeds scale with the picture, so the same scene works at 160x120 and at 1080p.
    """
    rng = random.Random(seed)
    sx, sy = width / 160, height / 120
    jitter = lambda: rng.uniform(0.9, 1.1)  # noqa: E731 (a tiny local helper)
    side = 18 * min(sx, sy)
    shapes = [
        # Two squares crossing in the middle, one a little higher than the other.
        MovingShape(1, "square", (230, 40, 40), (side, side), (12 * sx, 52 * sy), (4.2 * sx * jitter(), 0.0)),
        MovingShape(
            2, "square", (40, 90, 230), (side, side), (148 * sx, 64 * sy), (-4.0 * sx * jitter(), 0.0)
        ),
        # A disc on a wave near the top.
        MovingShape(
            3,
            "disc",
            (240, 220, 40),
            (side, side),
            (20 * sx, 20 * sy),
            (3.5 * sx * jitter(), 0.3 * sy),
            wave=8 * sy,
            period=24,
        ),
        # A disc entering from the bottom at frame 6 and leaving at the top.
        MovingShape(
            4,
            "disc",
            (40, 220, 90),
            (side, side),
            (30 * sx, 128 * sy),
            (0.4 * sx, -5.5 * sy * jitter()),
            first=6,
        ),
        # A square low in the picture that passes behind the bar.
        MovingShape(
            5, "square", (230, 120, 230), (side, side), (60 * sx, 100 * sy), (3.0 * sx * jitter(), 0.0)
        ),
    ]
    bar = (int(100 * sx), int(114 * sx))
    return Clip(width, height, length, 10, shapes, bar, seed)


def write_clip(clip: Clip, path: str | Path, codec: str = "libx264") -> Path:
    """Encode the clip with PyAV (H.264, yuv420p; mpeg4 for .avi); near-lossless so shapes stay crisp."""
    import av

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".avi":
        codec = "mpeg4"
    elif path.suffix.lower() == ".webm":
        codec = "libvpx"
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=clip.fps)
        stream.width, stream.height, stream.pix_fmt = clip.width, clip.height, "yuv420p"
        if codec == "libx264":
            stream.options = {"crf": "12", "preset": "ultrafast"}
        for pixels in clip.frames():
            for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def write_frames_folder(clip: Clip, folder: str | Path) -> Path:
    """The clip as numbered PNG frames (lossless), the other input ``groundlabel track`` takes."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for t, pixels in enumerate(clip.frames()):
        Image.fromarray(pixels, "RGB").save(folder / f"{t:06d}.png")
    return folder


def mot_lines(boxes: list[TruthBox], labels: tuple[str, ...] = SHAPE_LABELS) -> list[str]:
    """MOTChallenge gt.txt rows: frame (from 1), id, left, top, width, height, 1, class (from 1), visibility."""
    rows = []
    for box in boxes:
        x0, y0, x1, y1 = box.xyxy
        rows.append(
            f"{box.frame + 1},{box.track_id},{x0:.2f},{y0:.2f},{x1 - x0:.2f},{y1 - y0:.2f},1,"
            f"{labels.index(box.label) + 1},{box.visibility:.3f}"
        )
    return rows


def noisy_detections(
    clip: Clip,
    seed: int = 0,
    jitter: float = 2.0,
    drop: float = 0.1,
    false_positives: float = 0.1,
    labels: tuple[str, ...] = SHAPE_LABELS,
) -> list[str]:
    """The truth as a detector would give it, as MOTChallenge det.txt rows with a class column.

    Boxes less than ``MIN_VISIBILITY`` visible are missed; each other box is moved by up to
    ``jitter`` pixels per side, dropped with probability ``drop`` and scored low when partly
    hidden; each frame gets a false positive with
    probability ``false_positives`` at a random place. Rows: frame (from 1), -1, left, top,
    width, height, score, class (from 1), -1, -1.
    """
    rng = random.Random(seed)
    rows = []
    by_frame: dict[int, list[TruthBox]] = {}
    for box in clip.ground_truth():
        by_frame.setdefault(box.frame, []).append(box)
    for t in range(clip.length):
        for box in by_frame.get(t, []):
            if box.visibility < MIN_VISIBILITY or rng.random() < drop:
                continue  # a detector does not see what the bar hides
            x0, y0, x1, y1 = (v + rng.uniform(-jitter, jitter) for v in box.xyxy)
            score = rng.uniform(0.6, 0.95) if box.visibility > 0.9 else rng.uniform(0.2, 0.5)
            rows.append(_det_row(t, (x0, y0, x1, y1), score, labels.index(box.label) + 1))
        if rng.random() < false_positives:
            side = rng.uniform(10, 20) * clip.width / 160
            x0, y0 = rng.uniform(0, clip.width - side), rng.uniform(0, clip.height - side)
            rows.append(_det_row(t, (x0, y0, x0 + side, y0 + side), rng.uniform(0.3, 0.7), 1))
    return rows


def _det_row(t: int, xyxy: tuple[float, float, float, float], score: float, class_id: int) -> str:
    x0, y0, x1, y1 = xyxy
    return f"{t + 1},-1,{x0:.2f},{y0:.2f},{x1 - x0:.2f},{y1 - y0:.2f},{score:.3f},{class_id},-1,-1"
