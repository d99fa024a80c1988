"""The report's plots as PNG bytes, drawn with matplotlib's Agg backend (no display needed)."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import TYPE_CHECKING

from groundlabel.errors import GroundlabelError
from groundlabel.report.data import BOX_KINDS, ReportData

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from groundlabel.calibration import ClassCalibration

COLOURS = {"accepted": "#3cb44b", "rejected": "#e6194b", "hand-drawn": "#4363d8", "pending": "#a9a9a9"}
STATE_COLOURS = {"new": "#d3d3d3", "predicted": "#f58231", "reviewed": "#3cb44b", "reviewed-empty": "#aaffc3"}


def _figure(width: float, height: float) -> Figure:
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise GroundlabelError("the report needs matplotlib: pip install 'groundlabel[report]'") from None
    # Figure() without pyplot: no global state, no GUI backend, safe from any thread.
    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def progress_png(data: ReportData) -> bytes:
    figure = _figure(7, 2.0)
    axes = figure.subplots()
    left = 0
    for state, count in data.states.items():
        if count:
            axes.barh(
                [0], [count], left=left, color=STATE_COLOURS.get(state, "#888"), label=f"{state} ({count})"
            )
            left += count
    axes.set_yticks([])
    axes.set_xlim(0, max(1, data.total_images))
    axes.set_xlabel("images")
    axes.set_title(f"Review progress: {data.reviewed} of {data.total_images} image(s) reviewed")
    figure.legend(loc="outside lower center", ncols=4, frameon=False, fontsize=8)
    return _png(figure)


def boxes_png(data: ReportData) -> bytes:
    names = list(data.boxes)
    figure = _figure(7, 1.2 + 0.4 * max(1, len(names)))
    axes = figure.subplots()
    left = [0] * len(names)
    for kind in BOX_KINDS:
        values = [data.boxes[name][kind] for name in names]
        axes.barh(names, values, left=left, color=COLOURS[kind], label=kind)
        left = [a + b for a, b in zip(left, values, strict=True)]
    axes.invert_yaxis()
    axes.set_xlabel("boxes")
    axes.set_title("Boxes per class")
    axes.legend(loc="lower right", fontsize=8)
    return _png(figure)


def curve_png(item: ClassCalibration, applied: float | None) -> bytes:
    """Precision and recall against the threshold, with the chosen (or applied) threshold marked."""
    figure = _figure(4.2, 3.0)
    axes = figure.subplots()
    points = sorted(item.curve, key=lambda p: p.threshold)
    if points:
        xs = [p.threshold for p in points]
        axes.step(xs, [p.precision for p in points], where="post", color="#e6194b", label="precision")
        axes.step(xs, [p.recall for p in points], where="post", color="#4363d8", label="recall")
    marked = applied if applied is not None else item.threshold
    if marked is not None:
        axes.axvline(marked, color="black", linestyle="--", label=f"threshold {marked:.3f}")
    else:
        axes.text(0.5, 0.5, item.note or "no threshold", ha="center", transform=axes.transAxes, fontsize=9)
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1.05)
    axes.set_xlabel("score threshold")
    axes.set_title(f"{item.name} ({item.decisions} decisions)", fontsize=10)
    if points or marked is not None:
        axes.legend(loc="lower left", fontsize=7)
    return _png(figure)


def confusions_png(data: ReportData, top: int = 10) -> bytes:
    pairs = list(data.calibration.confusions[:top])
    figure = _figure(7, 1.2 + 0.35 * max(1, len(pairs)))
    axes = figure.subplots()
    if pairs:
        labels = [f"{proposed} → {drawn}" for proposed, drawn, _ in pairs]
        axes.barh(labels, [n for *_, n in pairs], color="#911eb4")
        axes.invert_yaxis()
        axes.set_xlabel("rejected proposals replaced by a hand box of another class")
    else:
        axes.text(0.5, 0.5, "no class confusions", ha="center", va="center", transform=axes.transAxes)
        axes.set_axis_off()
    axes.set_title("Most frequent class confusions (proposed → drawn)")
    return _png(figure)


def plot_count(data: ReportData) -> int:
    return 3 + len(data.calibration.classes)


def report_plots(data: ReportData, progress: Callable[[], None] | None = None) -> list[tuple[str, bytes]]:
    """(title, PNG) for every plot (``plot_count`` of them), in report order."""
    drawers: list[tuple[str, Callable[[], bytes]]] = [
        ("Review progress", lambda: progress_png(data)),
        ("Boxes per class", lambda: boxes_png(data)),
    ]
    for item in data.calibration.classes:
        drawers.append(
            (f"Precision and recall: {item.name}", lambda i=item: curve_png(i, data.thresholds.get(i.name)))
        )
    drawers.append(("Class confusions", lambda: confusions_png(data)))
    plots = []
    for title, draw in drawers:
        plots.append((title, draw()))
        if progress is not None:
            progress()
    return plots
