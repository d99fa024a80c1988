"""Whether this machine's CPU has bf16 matrix units, detected once per process.

bf16 on CPU only pays (and is only worth offering) where the CPU multiplies bf16 in
hardware: AMX (``amx_bf16``) or AVX-512 BF16 (``avx512_bf16``). Without them torch
emulates bf16 through fp32 and a bf16 run is slower and less exact, so it is refused.
torch's own CPU capability (``AVX512``, ``AMX``...) does not name bf16 support on its
own, hence the flags from ``/proc/cpuinfo`` where the kernel exposes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

BF16_FLAGS = ("amx_bf16", "avx512_bf16")


@dataclass(frozen=True)
class CpuPrecision:
    """What the CPU offers: torch's capability string and the bf16 flags it has."""

    torch_capability: str
    bf16_flags: tuple[str, ...]

    @property
    def bf16(self) -> bool:
        return bool(self.bf16_flags)

    def describe(self) -> str:
        """One line for ``detect -v`` and benchmark headers."""
        units = ", ".join(self.bf16_flags) if self.bf16_flags else "no bf16 units (amx_bf16/avx512_bf16)"
        return f"CPU: torch capability {self.torch_capability}; bf16: {units}"


def cpu_flags(cpuinfo: str) -> set[str]:
    """The ``flags`` of the first processor in a ``/proc/cpuinfo`` text."""
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return set(value.split())
    return set()


def from_cpuinfo(cpuinfo: str, torch_capability: str) -> CpuPrecision:
    flags = cpu_flags(cpuinfo)
    return CpuPrecision(torch_capability, tuple(f for f in BF16_FLAGS if f in flags))


@lru_cache(maxsize=1)
def cpu_precision() -> CpuPrecision:
    """This process's CPU, read once (the answer cannot change while it runs)."""
    import torch

    capability = str(torch.backends.cpu.get_cpu_capability())
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        text = ""
    return from_cpuinfo(text, capability)


def cpu_bf16_refusal() -> str | None:
    """Why ``--dtype bf16`` cannot run on this CPU (one line), or None where it can."""
    precision = cpu_precision()
    if precision.bf16:
        return None
    return (
        f"--dtype bf16 on CPU needs bf16 matrix units (amx_bf16 or avx512_bf16) and this CPU has none "
        f"(torch capability {precision.torch_capability}); use --dtype fp32 or a CUDA device"
    )


def training_autocast(device_type: str, dtype: str = "fp32") -> torch.autocast:  # noqa: F821 (torch is imported inside: the CLI imports this lazily)
    """The autocast a training step runs under: bf16 on CUDA (as before), and on CPU only when
    ``dtype`` is ``bf16`` and the CPU has bf16 units (else one-line ``GroundlabelError``)."""
    import torch

    from groundlabel.errors import GroundlabelError

    if device_type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    if dtype == "bf16" and device_type == "cpu":
        refusal = cpu_bf16_refusal()
        if refusal is not None:
            raise GroundlabelError(refusal)
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return torch.autocast(device_type if device_type in ("cpu", "cuda") else "cpu", enabled=False)


#: What ``--dtype`` takes everywhere a model is loaded; ``auto`` is the default.
DTYPE_CHOICES = ("auto", "fp32", "bf16", "fp16")

#: The model families (``config.model_type``) for which ``--dtype auto`` picks bf16 autocast on a
#: CPU with bf16 units: those whose agreement with fp32 is shown and that run faster so.
#: - ``rt_detr_v2``: trained on the synthetic shapes, mAP@0.5 within 0.001 of fp32 and 99.8 % of
#:   the boxes at IoU >= 0.95 (``python -m benchmarks.bf16_agreement``); the full-size r18vd at
#:   640 px 1.76x faster (``--speed``).
#: - ``sam``, ``sam2``: masks at IoU >= 0.99 against fp32 on the reference photos, the image
#:   embedding 1.88x (ViT-B) and 1.24x (Hiera-T) faster (``python -m benchmarks.mask_bf16``).
#: Not (yet) here: ``d_fine`` (agreement shown, 100 % of boxes; full-size speed not measured),
#: ``sam_hq`` (not measured), and the zero-shot detectors, which cannot be trained here, so their
#: agreement cannot be shown; ``--dtype bf16`` runs every one of them.
AUTO_BF16_FAMILIES: frozenset[str] = frozenset({"rt_detr_v2", "sam", "sam2"})


@dataclass(frozen=True)
class Precision:
    """How a loaded network computes: the dtype of its weights, and whether its forward runs
    under CPU bf16 autocast (fp32 weights, matmuls in bf16, the family's fp32 islands kept)."""

    weights: str  # "fp32", "bf16" or "fp16"
    cpu_autocast: bool = False

    @property
    def label(self) -> str:
        """As the "loaded ..." line says it."""
        return "bf16 autocast" if self.cpu_autocast else self.weights


def choose_precision(dtype: str, device_type: str, family: str = "") -> Precision:
    """``--dtype`` on a device, for a family: fp32, bf16/fp16 weights on CUDA, CPU bf16 autocast.

    ``bf16`` on CPU needs bf16 units (else the one-line refusal); ``fp16`` needs CUDA; ``auto``
    is fp32 except on a bf16-capable CPU for a family in ``AUTO_BF16_FAMILIES``. Raises
    ``ModelLoadError`` (one line) for what cannot run here.
    """
    from groundlabel.errors import ModelLoadError

    if dtype not in DTYPE_CHOICES:
        raise ModelLoadError(f"unknown dtype {dtype!r}: use one of {', '.join(DTYPE_CHOICES)}")
    if dtype == "auto":
        wanted = device_type == "cpu" and family in AUTO_BF16_FAMILIES and cpu_precision().bf16
        return Precision("fp32", cpu_autocast=wanted)
    if dtype == "fp32" or device_type == "cuda":
        return Precision(dtype)
    if dtype == "bf16" and device_type == "cpu":
        refusal = cpu_bf16_refusal()
        if refusal is not None:
            raise ModelLoadError(refusal)
        return Precision("fp32", cpu_autocast=True)
    raise ModelLoadError(
        f"--dtype {dtype} needs a CUDA device (this run uses {device_type})"
        + ("; bf16 runs on CPUs with bf16 units" if dtype == "fp16" else "")
        + "; use --dtype fp32 or auto"
    )
