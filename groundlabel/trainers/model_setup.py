"""The model training starts from: a hub checkpoint with its head resized, a folder, or a new config.

A COCO-pretrained checkpoint (the architecture's default) is loaded with
``ignore_mismatched_sizes`` and the project's classes as ``id2label``, which re-initialises
exactly the class heads; the rest keeps its pretrained weights. ``--from-scratch`` builds
the architecture's default config (or ``--config FILE.json``) with random weights. When the
hub cannot be reached, one line says what to do instead.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import torch

from groundlabel.errors import ModelLoadError
from groundlabel.trainers.base import Architecture

log = logging.getLogger(__name__)


def _label_maps(classes: list[str]) -> dict[str, Any]:
    return {
        "id2label": {i: name for i, name in enumerate(classes)},
        "label2id": {name: i for i, name in enumerate(classes)},
        "num_labels": len(classes),
    }


def new_processor(image_size: int) -> Any:
    """RT-DETR's PIL image processor (no torchvision): resize to a square, rescale, no normalisation."""
    from transformers import RTDetrImageProcessorPil

    return RTDetrImageProcessorPil(size={"height": image_size, "width": image_size})


def scratch_model(arch: Architecture, classes: list[str], config_file: Path | None = None) -> torch.nn.Module:
    """Random weights in the architecture's default config, in ``config_file`` (a config.json's keys),
    or in its tiny config when ``config_file`` is ``tiny``."""
    overrides: dict[str, Any] = {}
    if config_file is not None and str(config_file) == "tiny":
        overrides = arch.tiny_config()
    elif config_file is not None:
        try:
            overrides = json.loads(Path(config_file).read_text())
        except (OSError, ValueError) as exc:
            raise ModelLoadError(f"--config {config_file}: cannot read it as JSON ({exc})") from None
    for key in ("id2label", "label2id", "num_labels", "model_type", "architectures"):
        overrides.pop(key, None)
    try:
        config = arch.config_type()(**overrides, **_label_maps(classes))
    except (TypeError, ValueError) as exc:
        raise ModelLoadError(f"--config {config_file}: not a valid {arch.config_class}: {exc}") from None
    return arch.model_type_class()(config)


def _hub_message(start: str, detail: str = "") -> str:
    from groundlabel.model_loading import _hub_offline

    why = "HF_HUB_OFFLINE is set" if _hub_offline() else "the Hugging Face Hub cannot be reached"
    return (
        f"cannot load the starting checkpoint {start!r}: it is not cached and {why}"
        + (f" ({detail})" if detail else "")
        + "; pass --from-scratch to train from random weights, or --from DIR with a saved checkpoint"
    )


def pretrained_model(arch: Architecture, classes: list[str], start: str) -> tuple[torch.nn.Module, Any]:
    """``start`` (hub id or folder) with its class head resized to ``classes``, and its processor (or None)."""
    from groundlabel.model_loading import _hub_offline, _looks_local, _require_hub

    local = _looks_local(start)
    if local and not (Path(start).expanduser() / "config.json").is_file():
        raise ModelLoadError(
            f"--from {start}: no config.json there; give a folder written by save_pretrained"
        )

    def load(local_only: bool) -> tuple[torch.nn.Module, Any]:
        from transformers import AutoImageProcessor

        model = arch.model_type_class().from_pretrained(
            start, ignore_mismatched_sizes=True, local_files_only=local_only, **_label_maps(classes)
        )
        try:
            processor = AutoImageProcessor.from_pretrained(start, local_files_only=True)
        except (OSError, ValueError):
            processor = None
        return model, processor

    try:
        try:
            return load(True)
        except OSError:
            if local or _hub_offline():
                raise
            try:
                _require_hub(start)
            except ModelLoadError:
                raise ModelLoadError(_hub_message(start)) from None
            log.warning("downloading %s from the Hugging Face Hub (once; cached afterwards)", start)
            return load(False)
    except OSError as exc:
        raise ModelLoadError(_hub_message(start, str(exc).splitlines()[0][:160])) from None
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelLoadError(f"--from {start}: not a {arch.model_class} checkpoint: {exc}") from None


def processor_for(processor: Any, image_size: int | None) -> Any:
    """The start's processor (or a new one) with the training input size, if one was asked for."""
    if processor is None:
        return new_processor(image_size or 640)
    if image_size:
        processor.size = {"height": image_size, "width": image_size}
    return processor
