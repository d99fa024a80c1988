"""Training curves and the per-class AP table: ``train_report.html`` beside the model, and a
section of ``groundlabel report`` for every training the project remembers.

Plots are drawn with matplotlib's Agg backend like the review report (``groundlabel.report``);
without matplotlib (the ``report`` extra) the page still has the tables.
"""

from __future__ import annotations

import html
import io
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from groundlabel.atomic import write_text_atomic
from groundlabel.trainers.checkpoint import METRICS, REPORT

if TYPE_CHECKING:
    from groundlabel.trainers.loop import TrainResult


def curves_png(history: list[dict[str, Any]]) -> bytes | None:
    """Loss and mAP against the epoch, side by side; None without matplotlib."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return None
    figure = Figure(figsize=(9, 3.2), dpi=100, layout="constrained")
    loss_axes, map_axes = figure.subplots(1, 2)
    epochs = [r["epoch"] for r in history]
    loss_axes.plot(epochs, [r["loss"] for r in history], marker="o", color="#4363d8")
    loss_axes.set_xlabel("epoch")
    loss_axes.set_ylabel("training loss")
    loss_axes.set_title("Loss")
    evaluated = [r for r in history if r.get("map") is not None]
    if evaluated:
        xs = [r["epoch"] for r in evaluated]
        map_axes.plot(xs, [r["map50"] for r in evaluated], marker="o", label="mAP@0.5", color="#3cb44b")
        map_axes.plot(xs, [r["map"] for r in evaluated], marker="o", label="mAP@[.5:.95]", color="#f58231")
        map_axes.legend(fontsize=8)
    map_axes.set_ylim(0, 1)
    map_axes.set_xlabel("epoch")
    map_axes.set_title("Val mAP (COCOeval)")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def section_html(metrics: dict[str, Any], title: str) -> str:
    """One training: summary line, curves, per-class AP of the best epoch."""
    from groundlabel.report.html import _img

    history = metrics.get("history", [])
    best = next((r for r in history if r["epoch"] == metrics.get("best_epoch")), None)
    parts = [f"<h2>{html.escape(title)}</h2>"]
    summary = (
        f"{html.escape(str(metrics.get('arch')))}, {metrics.get('train_images')} train / "
        f"{metrics.get('val_images')} val image(s), {len(history)} epoch(s), "
        f"{sum(r['seconds'] for r in history) / 60:.1f} min"
    )
    if best and best.get("map") is not None:
        summary += f"; best epoch {best['epoch']}: mAP {best['map']:.3f}, mAP@0.5 {best['map50']:.3f}"
    parts.append(f"<p class='note'>{summary}</p>")
    png = curves_png(history) if history else None
    if png:
        parts.append(f"<figure>{_img(png, 'training curves')}</figure>")
    per_class = metrics.get("per_class") or {}
    if per_class:
        rows = "".join(
            f"<tr><td>{html.escape(name)}</td><td>{_ap(v['ap'])}</td><td>{_ap(v['ap50'])}</td></tr>"
            for name, v in per_class.items()
        )
        parts.append(f"<table><tr><th>class</th><th>AP</th><th>AP@0.5</th></tr>{rows}</table>")
    return "\n".join(parts)


def _ap(value: float) -> str:
    return "no val box" if value < 0 else f"{value:.3f}"


def write_report(model_dir: Path, result: TrainResult | None = None) -> Path:
    """``MODEL_DIR/train_report.html`` from the metrics file written beside it."""
    from groundlabel.report.html import STYLE

    model_dir = Path(model_dir)
    metrics = json.loads((model_dir / METRICS).read_text())
    title = f"groundlabel training report: {model_dir.name}"
    page = (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>"
        + section_html(metrics, "Training")
        + "</body></html>"
    )
    path = model_dir / REPORT
    write_text_atomic(path, page)
    return path


def project_trainings_html(folder: str | Path) -> str:
    """The training sections for ``groundlabel report``: every model the project was trained into."""
    from groundlabel.project.store import PROJECT_DIR

    path = Path(folder) / PROJECT_DIR / "trainings.json"
    try:
        trainings = json.loads(path.read_text()) if path.is_file() else []
    except (OSError, ValueError):
        return ""
    parts = []
    for entry in trainings:
        model_dir = Path(str(entry.get("model_dir", "")))
        try:
            metrics = json.loads((model_dir / METRICS).read_text())
        except (OSError, ValueError):
            continue
        parts.append(section_html(metrics, f"Training: {model_dir}"))
    return "\n".join(parts)
