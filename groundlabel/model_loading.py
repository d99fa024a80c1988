"""Loading a detector (any family in ``groundlabel.families``) from the hub or a local directory, on the right device.

Loading goes through transformers' own ``from_pretrained`` for hub ids and local
directories alike (tests use the same path with a tiny random model), and every way
it can fail for a user's reason becomes one ``ModelLoadError`` that says what to do.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import torch

from groundlabel import announce
from groundlabel.errors import ModelLoadError
from groundlabel.families import CLOSED_SET, FAMILIES, NOT_SUPPORTED
from groundlabel.model_catalog import DEFAULT_MODEL
from groundlabel.precision import Precision, choose_precision

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}

log = logging.getLogger(__name__)


def resolve_device(device: str = "auto") -> torch.device:
    """``auto`` picks cuda, then mps, then cpu; an explicit device must exist."""
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError:
        raise ModelLoadError(f"unknown device {device!r}: use auto, cpu, cuda, cuda:N or mps") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ModelLoadError(
            f"device {device!r} asked for, but torch sees no CUDA GPU here; use --device cpu"
        )
    if resolved.type == "mps" and not torch.backends.mps.is_available():
        raise ModelLoadError(f"device {device!r} asked for, but MPS is not available here; use --device cpu")
    return resolved


def resolve_dtype(dtype: str, device: torch.device) -> torch.dtype:
    """The weights' dtype for ``--dtype`` on ``device``; raises for what cannot run there.

    bf16 on a CPU (and ``auto``) keeps fp32 weights: the forward runs under CPU autocast
    instead (``groundlabel.precision.choose_precision``, once the family is known).
    """
    return DTYPES[choose_precision(dtype, device.type).weights]


def _looks_local(model: str) -> bool:
    return (
        model.startswith((".", "/", "~"))
        or os.sep in model.strip("/").replace("/", "", 1)
        or Path(model).exists()
    )


def _in_container() -> bool:
    return Path("/.dockerenv").exists() or Path("/run/.containerenv").exists()


def refuse_unreadable(folder: Path) -> None:
    """A model file this process may not read is a permission problem, said as one: not hub advice.

    A folder mounted into the container (uid 1000) often holds root-owned files with mode 0600;
    transformers then fails in ways that read like a missing checkpoint. Opening each top-level
    file (not ``os.access``, which root and some mounts answer wrongly) finds the one to fix.
    """
    for file in sorted(folder.iterdir()):
        try:
            if file.is_file():
                with file.open("rb") as handle:
                    handle.read(1)
        except PermissionError:
            uid = os.getuid() if hasattr(os, "getuid") else None
            who = (
                f"the container runs as uid {uid}"
                if _in_container()
                else f"groundlabel runs as uid {uid}"
                if uid is not None
                else "this user may not read it"
            )
            raise ModelLoadError(
                f"cannot read {file}: permission denied ({who}); make it readable, e.g. `chmod a+r {file}`"
            ) from None


def _hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() not in ("", "0", "false", "no")


def _not_available_message(model: str, detail: str = "") -> str:
    reason = "HF_HUB_OFFLINE is set" if _hub_offline() else "the Hugging Face Hub cannot be reached"
    if detail and not _hub_offline():
        reason = f"the Hugging Face Hub could not provide it ({detail.splitlines()[0][:160]})"
    return (
        f"cannot load model {model!r}: it is not in the local Hugging Face cache and {reason}. "
        f"On a networked machine run `hf download {model}`"
        + (" (and unset HF_HUB_OFFLINE), " if _hub_offline() else ", ")
        + "or pass --model PATH to a directory saved with save_pretrained."
    )


def hub_refusal(model: str, exc: BaseException) -> str | None:
    """The one-line fix when the hub answered 401/403 (gated, private or licensed repo), else None.

    transformers wraps huggingface_hub's errors in ``OSError`` (``raise ... from``), so the
    chain of causes is searched. Shared by every model kind groundlabel loads.
    """
    from huggingface_hub.errors import GatedRepoError, HfHubHTTPError

    seen = 0
    error: BaseException | None = exc
    while error is not None and seen < 16:
        response = getattr(error, "response", None) if isinstance(error, HfHubHTTPError) else None
        status = getattr(response, "status_code", None)
        if isinstance(error, GatedRepoError) or status in (401, 403):
            status = status or 403
            why = "gated or licensed" if isinstance(error, GatedRepoError) else "gated, licensed or private"
            return (
                f"the Hugging Face Hub refused model {model!r} (HTTP {status}: {why}): request access on "
                f"https://huggingface.co/{model}, then run `hf auth login` (or set HF_TOKEN), "
                "or pass --model DIR to a folder saved with save_pretrained"
            )
        error = error.__cause__ or error.__context__
        seen += 1
    return None


@contextmanager
def explain_hub_refusal(model: str) -> Iterator[None]:
    """Turn a hub 401/403 inside the block into one ``ModelLoadError`` line (segmenters, trainers)."""
    try:
        yield
    except OSError as exc:
        message = hub_refusal(model, exc)
        if message is None:
            raise
        raise ModelLoadError(message) from None


def _require_hub(model: str, timeout: float = 5.0) -> None:
    """Fail in seconds, not minutes of retries, when the hub's host cannot be reached at all."""
    endpoint = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    try:
        socket.create_connection((endpoint.hostname or "huggingface.co", port), timeout=timeout).close()
    except OSError:
        raise ModelLoadError(_not_available_message(model)) from None


@dataclass
class LoadedModel:
    model: torch.nn.Module
    processor: object
    device: torch.device
    dtype: torch.dtype
    name: str
    #: the forward runs under CPU bf16 autocast, the family's fp32 islands kept (``--dtype bf16``)
    cpu_autocast: bool = False


def _refuse_unsupported(model: str, config_file: Path | None) -> None:
    """A clear message for a family transformers knows but groundlabel cannot run here."""
    import json

    if config_file is None:
        try:
            from transformers import AutoConfig

            model_type = AutoConfig.from_pretrained(model, local_files_only=True).model_type
        except (OSError, ValueError):
            return
    elif config_file.is_file():
        try:
            model_type = json.loads(config_file.read_text()).get("model_type", "")
        except (OSError, ValueError):
            return
    else:
        return
    if model_type in NOT_SUPPORTED:
        raise ModelLoadError(f"{model!r} is a {model_type!r} model: {NOT_SUPPORTED[model_type]}")


def _load_parts(
    model: str, torch_dtype: torch.dtype, local_files_only: bool
) -> tuple[torch.nn.Module, object]:
    """Network and processor; a family module with its own ``load_parts`` (SAM 3) loads itself,
    closed-set detectors (``CLOSED_SET``) load through the object-detection auto class."""
    import importlib

    from transformers import (
        AutoConfig,
        AutoModelForObjectDetection,
        AutoModelForZeroShotObjectDetection,
        AutoProcessor,
    )

    config = AutoConfig.from_pretrained(model, local_files_only=local_files_only)
    if config.model_type in FAMILIES:
        module = importlib.import_module(f"groundlabel.families.{FAMILIES[config.model_type]}")
        if hasattr(module, "load_parts"):
            return module.load_parts(model, torch_dtype, local_files_only)
    processor = AutoProcessor.from_pretrained(model, local_files_only=local_files_only)
    auto = (
        AutoModelForObjectDetection
        if config.model_type in CLOSED_SET
        else AutoModelForZeroShotObjectDetection
    )
    network = auto.from_pretrained(model, config=config, dtype=torch_dtype, local_files_only=local_files_only)
    return network, processor


def load_model(model: str = DEFAULT_MODEL, device: str = "auto", dtype: str = "fp32") -> LoadedModel:
    """Load model and processor; raise ``ModelLoadError`` with a fix for every user error."""
    resolved_device = resolve_device(device)
    if resolved_device.type == "cpu":
        from groundlabel.precision import cpu_precision

        log.debug("%s", cpu_precision().describe())  # shown by `groundlabel detect -v`
    torch_dtype = resolve_dtype(dtype, resolved_device)
    started = time.perf_counter()
    if _looks_local(model):
        path = Path(model).expanduser()
        _refuse_unsupported(model, path / "config.json")
        if not path.is_dir():
            raise ModelLoadError(f"model directory {model!r} does not exist")
        if not (path / "config.json").is_file():
            raise ModelLoadError(
                f"{model!r} has no config.json: point --model at a directory written by save_pretrained"
            )
        refuse_unreadable(path)
    try:
        try:
            # Cached (or local) weights load without touching the network.
            with no_loading_bar():
                network, processor = _load_parts(model, torch_dtype, local_files_only=True)
        except OSError:
            if _looks_local(model) or _hub_offline():
                raise
            _require_hub(model)
            log.warning("downloading %s from the Hugging Face Hub (once; cached afterwards)", model)
            network, processor = _load_parts(model, torch_dtype, local_files_only=False)
    except OSError as exc:
        raise ModelLoadError(hub_refusal(model, exc) or _not_available_message(model, str(exc))) from None
    except ImportError as exc:
        _refuse_unsupported(model, None)
        raise ModelLoadError(f"cannot load {model!r}: {str(exc).splitlines()[0]}") from None
    except (ValueError, KeyError) as exc:
        raise ModelLoadError(
            f"{model!r} is not a detector checkpoint groundlabel can use ({', '.join(FAMILIES)}): {exc}"
        ) from None
    model_type = getattr(network.config, "model_type", "")
    if model_type not in FAMILIES:
        raise ModelLoadError(
            f"{model!r} is a {model_type!r} model; groundlabel reads these families: {', '.join(FAMILIES)}"
        )
    network.to(resolved_device).eval()
    precision = choose_precision(dtype, resolved_device.type, model_type)
    announce_loaded(model, network, resolved_device, precision, started)
    return LoadedModel(network, processor, resolved_device, torch_dtype, model, precision.cpu_autocast)


def weights_source(model: str) -> str | None:
    """The folder the weights were read from: the model folder itself, or the hub cache's snapshot."""
    if _looks_local(model):
        return str(Path(model).expanduser())
    try:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(model, "config.json")
    except Exception:  # a malformed id or an unreadable cache: the detail is optional
        return None
    return str(Path(cached).parent) if isinstance(cached, str) else None


def announce_loaded(
    model: str, network: torch.nn.Module, device: torch.device, precision: Precision, started: float
) -> None:
    """The CLI's one line about a loaded network (``groundlabel.announce``), with ``-v`` details."""
    announce.loaded(
        model,
        getattr(network.config, "model_type", type(network).__name__),
        device,
        precision.weights,
        precision=precision.label,
        seconds=time.perf_counter() - started,
        parameters=sum(parameter.numel() for parameter in network.parameters()),
        source=weights_source(model),
    )


def checkpoint_family(model: str) -> str:
    """A checkpoint's family (``config.model_type``) without loading its weights; "" if not local.

    For processes that record what workers ran (``detect --ray``, ``ls-prelabel --ray``): the
    workers have loaded the checkpoint, so its config is local by then.
    """
    from transformers import AutoConfig

    try:
        return str(AutoConfig.from_pretrained(model, local_files_only=True).model_type)
    except (OSError, ValueError):
        return ""


@contextmanager
def no_loading_bar() -> Iterator[None]:
    """Hide transformers' "Loading weights 0/324 ... 324/324" bar while a cached or local model loads.

    Why: it is noise around the one line that matters, and it printed twice when a segmenter
    loaded too. Only the cache/folder attempt (``local_files_only=True``, no download possible)
    runs inside this; a hub download keeps its bar. The settings of transformers and
    huggingface_hub are put back as they were, so a library user's choice stands.

    It also holds ``FROM_PRETRAINED_LOCK``, so a load from the cache or a folder on any thread
    (the desktop's Track video job loading its detector beside the window's) waits for another.
    """
    from huggingface_hub.utils import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars
    from transformers.utils import logging as hf_logging

    with FROM_PRETRAINED_LOCK:
        hub_was_disabled = are_progress_bars_disabled()
        transformers_was_enabled = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()
        try:
            yield
        finally:
            if transformers_was_enabled:
                hf_logging.enable_progress_bar()  # also enables huggingface_hub's bars
            if hub_was_disabled:
                disable_progress_bars()
            else:
                enable_progress_bars()


#: Held around every ``from_pretrained`` a front end runs on a worker thread. transformers
#: builds a model on the meta device by patching torch process-wide while it loads, so two
#: loads on two threads at once (the desktop's detector and its mask model) can leave one
#: model with meta tensors ("Cannot copy out of meta tensor"). One load at a time avoids it.
FROM_PRETRAINED_LOCK = threading.RLock()


def closed_set_classes(model: str) -> list[str] | None:
    """The classes of a local closed-set checkpoint (its ``id2label``), or None for any other model."""
    import json

    config_file = Path(model).expanduser() / "config.json"
    try:
        config = json.loads(config_file.read_text())
    except (OSError, ValueError):
        return None
    if config.get("model_type") not in CLOSED_SET or not isinstance(config.get("id2label"), dict):
        return None
    id2label = config["id2label"]
    return [str(id2label[k]) for k in sorted(id2label, key=int)]
