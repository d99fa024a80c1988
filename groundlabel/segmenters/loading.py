"""Loading a mask model's checkpoint (hub id or ``save_pretrained`` folder) onto a device.

The same rules as detectors (``groundlabel.model_loading``): cached or local files load
without touching the network, the hub is tried once and fails in seconds when it cannot be
reached, and every way it can fail for a user's reason is one ``ModelLoadError`` line that
says what to do. A gated checkpoint (401/403) says to request access and log in.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import torch

from groundlabel.errors import ModelLoadError
from groundlabel.model_loading import (
    _hub_offline,
    _looks_local,
    _not_available_message,
    _require_hub,
    announce_loaded,
    no_loading_bar,
    refuse_unreadable,
    resolve_device,
    resolve_dtype,
)
from groundlabel.precision import choose_precision

log = logging.getLogger(__name__)

T = TypeVar("T")


def gated_message(model: str) -> str:
    """What to do when the hub answers 401/403 for a checkpoint."""
    return (
        f"cannot load model {model!r}: the Hugging Face Hub refused access (gated or private repo). "
        f"Request access on https://huggingface.co/{model}, then run `hf auth login` "
        "(or set HF_TOKEN), or pass a local directory saved with save_pretrained."
    )


def _is_gated(exc: BaseException) -> bool:
    """True when the hub's answer (anywhere in the exception chain) was 401 or 403 / gated."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        name = type(current).__name__
        if name in ("GatedRepoError",):
            return True
        response = getattr(current, "response", None)
        if getattr(response, "status_code", None) in (401, 403):
            return True
        text = str(current).lower()
        if "gated repo" in text or "401 client error" in text or "403 client error" in text:
            return True
        current = current.__cause__ or current.__context__
    return False


def check_local(model: str) -> Path | None:
    """For a folder: that it exists and holds config.json; ``None`` for hub ids."""
    if not _looks_local(model):
        return None
    path = Path(model).expanduser()
    if not path.is_dir():
        raise ModelLoadError(f"model directory {model!r} does not exist")
    if not (path / "config.json").is_file():
        raise ModelLoadError(f"{model!r} has no config.json: point at a directory written by save_pretrained")
    refuse_unreadable(path)
    return path


def from_hub_or_folder(model: str, load: Callable[[bool], T]) -> T:
    """Run ``load(local_files_only)``: cache/folder first, then the hub once; errors as one line."""
    check_local(model)
    try:
        try:
            with no_loading_bar():
                return load(True)
        except OSError:
            if _looks_local(model) or _hub_offline():
                raise
            _require_hub(model)
            log.warning("downloading %s from the Hugging Face Hub (once; cached afterwards)", model)
            return load(False)
    except OSError as exc:
        if _is_gated(exc):
            raise ModelLoadError(gated_message(model)) from None
        raise ModelLoadError(_not_available_message(model, str(exc))) from None
    except ImportError as exc:
        raise ModelLoadError(f"cannot load {model!r}: {str(exc).splitlines()[0]}") from None


def read_config(model: str) -> dict[str, Any]:
    """config.json of a folder or hub id, as a dict, without loading weights."""
    path = check_local(model)
    if path is not None:
        try:
            return json.loads((path / "config.json").read_text())
        except (OSError, ValueError) as exc:
            raise ModelLoadError(f"{model!r}: config.json cannot be read ({exc})") from None

    def load(local_files_only: bool) -> dict[str, Any]:
        from transformers import PretrainedConfig

        config, _ = PretrainedConfig.get_config_dict(model, local_files_only=local_files_only)
        return config

    return from_hub_or_folder(model, load)


def load_checkpoint(
    model: str, model_class: Any, processor_class: Any, device: str, dtype: str
) -> tuple[torch.nn.Module, Any, torch.device, torch.dtype, bool]:
    """(network in eval mode on its device, processor, device, weights dtype, whether the image
    encoder runs under CPU bf16 autocast) of a segmenter checkpoint."""
    resolved_device = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, resolved_device)
    started = time.perf_counter()

    def load(local_files_only: bool) -> tuple[torch.nn.Module, Any]:
        processor = (
            processor_class.from_pretrained(model, local_files_only=local_files_only)
            if processor_class is not None
            else None
        )
        network = model_class.from_pretrained(model, dtype=torch_dtype, local_files_only=local_files_only)
        return network, processor

    try:
        network, processor = from_hub_or_folder(model, load)
    except (ValueError, KeyError) as exc:
        raise ModelLoadError(f"{model!r} is not a {model_class.__name__} checkpoint: {exc}") from None
    network.to(resolved_device).eval()
    precision = choose_precision(dtype, resolved_device.type, str(getattr(network.config, "model_type", "")))
    if precision.cpu_autocast:
        from groundlabel.inference.hiera_attention import lighten_hiera_attention
        from groundlabel.inference.rel_pos_attention import fold_rel_pos_attention

        fold_rel_pos_attention(network)  # SAM / SAM-HQ: the position bias folded into q and k
        lighten_hiera_attention(network)  # SAM 2.1: Hiera's attention without its unused weights
    announce_loaded(model, network, resolved_device, precision, started)
    return network, processor, resolved_device, torch_dtype, precision.cpu_autocast
