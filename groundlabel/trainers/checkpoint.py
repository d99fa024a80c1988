"""What a training run keeps on disk, so that Ctrl+C, kill or a crash lose at most one epoch.

MODEL_DIR holds the best model as a plain ``save_pretrained`` folder (what ``detect``
loads), ``train_metrics.json`` (every epoch's loss and mAP, the per-class AP of the best
epoch) and ``train_report.html``. ``MODEL_DIR/checkpoint/last.pt`` holds everything to
continue (weights, optimiser, schedule, random states, history); it is written to a temporary
file and renamed, so a kill mid-write leaves the previous one intact.
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

CHECKPOINT_DIR = "checkpoint"
LAST = "last.pt"
METRICS = "train_metrics.json"
REPORT = "train_report.html"


def last_checkpoint(model_dir: Path) -> Path:
    return Path(model_dir) / CHECKPOINT_DIR / LAST


def save_state(model_dir: Path, state: dict[str, Any]) -> Path:
    path = last_checkpoint(model_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {**state, "python_random": random.getstate(), "numpy_random": np.random.get_state()}
    state["torch_random"] = torch.get_rng_state()
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(fd)
    try:
        torch.save(state, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def load_state(model_dir: Path) -> dict[str, Any] | None:
    path = last_checkpoint(model_dir)
    if not path.is_file():
        return None
    state = torch.load(path, map_location="cpu", weights_only=False)
    random.setstate(state["python_random"])
    np.random.set_state(state["numpy_random"])
    torch.set_rng_state(state["torch_random"])
    return state


def save_model(model: torch.nn.Module, processor: Any, model_dir: Path) -> None:
    """``save_pretrained`` into a sibling folder, then the files move in: never half a model in MODEL_DIR."""
    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=model_dir, prefix=".saving-"))
    from transformers.utils import logging as hf_logging

    quiet = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # its "Writing model shards" bar would break the epoch bars
    try:
        model.save_pretrained(staging)
        processor.save_pretrained(staging)
        for item in staging.iterdir():
            os.replace(item, model_dir / item.name)
    finally:
        if quiet:
            hf_logging.enable_progress_bar()
        shutil.rmtree(staging, ignore_errors=True)
