"""One self-contained HTML file: the plots and thumbnails embedded as base64, no external files."""

from __future__ import annotations

import base64
import html
import io
import os
from collections.abc import Callable
from pathlib import Path

from groundlabel.report.data import ReportData

THUMBNAIL_SIZE = (240, 180)

STYLE = """
body { font-family: system-ui, sans-serif; margin: 24px auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 1.6em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 0.9em; } td, th { padding: 3px 10px; border-bottom: 1px solid #eee; }
th { text-align: left; } .grid { display: flex; flex-wrap: wrap; gap: 10px; }
figure { margin: 0; } figcaption { font-size: 0.8em; color: #555; max-width: 240px; word-break: break-all; }
.note { color: #777; font-size: 0.9em; }
"""


def _img(png: bytes, alt: str, mime: str = "image/png") -> str:
    encoded = base64.b64encode(png).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:{mime};base64,{encoded}">'


def thumbnail_jpeg(path: str | os.PathLike[str]) -> bytes | None:
    """A small JPEG of the image as shown, or None if it cannot be read (the report goes on)."""
    from groundlabel.errors import ImageLoadError
    from groundlabel.images import load_image

    try:
        image = load_image(path)
    except ImageLoadError:
        return None
    image.thumbnail(THUMBNAIL_SIZE)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=80)
    return buffer.getvalue()


def _table(data: ReportData) -> str:
    rows = []
    for item in data.calibration.classes:
        applied = data.thresholds.get(item.name)
        counts = data.boxes.get(item.name, {})
        rows.append(
            "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in (
                item.name, counts.get("accepted", 0), counts.get("rejected", 0), counts.get("hand-drawn", 0),
                counts.get("pending", 0), item.decisions,
                "none" if item.threshold is None else f"{item.threshold:.3f}",
                "none" if applied is None else f"{applied:.3f}",
                "-" if item.precision is None else f"{item.precision:.3f}",
                "-" if item.recall is None else f"{item.recall:.3f}",
                item.note,
            )) + "</tr>"
        )  # fmt: skip
    header = "".join(
        f"<th>{h}</th>"
        for h in (
            "class", "accepted", "rejected", "hand-drawn", "pending", "decisions", "best-F1 threshold",
            "applied threshold", "precision", "recall", "note",
        )
    )  # fmt: skip
    return f"<table><tr>{header}</tr>{''.join(rows)}</table>"


def build_html(
    data: ReportData,
    plots: list[tuple[str, bytes]],
    thumbnails: int = 12,
    progress: Callable[[], None] | None = None,
) -> str:
    """The report page; ``thumbnails`` images with the most hand-drawn boxes are shown."""
    title = f"groundlabel review report: {Path(data.folder).name}"
    state = "on" if data.thresholds_enabled else "off"
    parts = [
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
        f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>",
        f"<p class='note'>{html.escape(data.folder)}: {data.reviewed} of {data.total_images} image(s) reviewed. "
        f"Accepted proposals count as true positives, rejected as false positives, hand-drawn boxes as misses "
        f"(reviewed images only). Per-class thresholds are {state} in this project.</p>",
    ]
    curves = [(t, p) for t, p in plots if t.startswith("Precision and recall")]
    for title_text, png in plots:
        if title_text.startswith("Precision and recall"):
            continue
        if title_text == "Class confusions":
            parts.append("<h2>Precision and recall against the threshold</h2>")
            parts.append(
                "<p class='note'>Box counts cover every image; decisions, thresholds, precision and recall "
                "only the reviewed ones.</p>"
            )
            parts.append(_table(data))
            parts.append("<div class='grid'>")
            parts.extend(f"<figure>{_img(p, t)}</figure>" for t, p in curves)
            parts.append("</div>")
        parts.append(f"<h2>{html.escape(title_text)}</h2><figure>{_img(png, title_text)}</figure>")
        if progress is not None:
            progress()
    parts.append("<h2>Images with the most misses (hand-drawn boxes)</h2><div class='grid'>")
    shown = data.most_missed[:thumbnails]
    for path, misses in shown:
        jpeg = thumbnail_jpeg(Path(data.folder) / path)
        picture = _img(jpeg, path, "image/jpeg") if jpeg else "<p class='note'>(unreadable)</p>"
        parts.append(
            f"<figure>{picture}<figcaption>{html.escape(path)}: {misses} miss(es)</figcaption></figure>"
        )
        if progress is not None:
            progress()
    if not shown:
        parts.append("<p class='note'>No hand-drawn boxes in reviewed images yet.</p>")
    from groundlabel.trainers.report import project_trainings_html

    parts.append("</div>")
    parts.append(project_trainings_html(data.folder))  # curves of the models trained on this project
    parts.append("</body></html>")
    return "\n".join(parts)
