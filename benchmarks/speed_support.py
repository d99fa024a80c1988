"""Helpers for the detector speed benchmark: the random full-size model, stage timers, memory.

Kept apart from the benchmark's flow so each piece stays small: building (and caching)
the full-size random checkpoint, timing model stages with forward hooks, and sampling
resident memory while a call runs.
"""

from __future__ import annotations

import os
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from torch import nn

STAGES = ("decode", "preprocess", "text encoder", "backbone", "encoder", "decoder", "post-processing")


def build_full_size_model(directory: Path, shortest_edge: int = 800, longest_edge: int = 1333) -> Path:
    """The real grounding-dino-tiny architecture with random weights, saved like a checkpoint.

    transformers initialises the last layer of the box head to zero, which would make every
    predicted box equal its reference point and hide box drift; here that layer gets small
    random weights too (seeded), so box differences between two paths are measurable.
    Cached: an existing directory with the same input size is reused.
    """
    from transformers import GroundingDinoForObjectDetection

    from groundlabel.devtools.random_model import build_processor, full_config

    marker = directory / f".built-{shortest_edge}-{longest_edge}"
    if marker.exists():
        return directory
    directory.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    model = GroundingDinoForObjectDetection(full_config()).eval()
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for head in model.bbox_embed:
            last = head.layers[-1]
            last.weight.copy_(torch.randn(last.weight.shape, generator=generator) * 0.01)
            last.bias.copy_(torch.randn(last.bias.shape, generator=generator) * 0.1)
    model.save_pretrained(directory)
    build_processor(shortest_edge, longest_edge).save_pretrained(directory)
    marker.touch()
    return directory


class StageClock:
    """Accumulates seconds per stage; model stages come from forward hooks on one model."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self._handles: list = []

    def hook_model(self, model: nn.Module) -> None:
        inner = model.model
        parts = {
            "text encoder": inner.text_backbone,
            "backbone": inner.backbone,
            "encoder": inner.encoder,
            "decoder": inner.decoder,
        }
        for name, module in parts.items():
            self._handles.append(module.register_forward_pre_hook(self._start(name)))
            self._handles.append(module.register_forward_hook(self._stop(name)))

    def _start(self, name: str) -> Callable:
        def hook(module, args):
            self.seconds[name] -= time.perf_counter()

        return hook

    def _stop(self, name: str) -> Callable:
        def hook(module, args, output):
            self.seconds[name] += time.perf_counter()

        return hook

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - start

    def wrap(self, name: str, function: Callable) -> Callable:
        """``function`` timed into ``name`` (for bound methods replaced on one instance)."""

        def timed(*args, **kwargs):
            with self.stage(name):
                return function(*args, **kwargs)

        return timed

    def wrap_generator(self, name: str, function: Callable) -> Callable:
        """A generator function whose time between yields goes to ``name``."""

        def timed(*args, **kwargs):
            iterator = iter(function(*args, **kwargs))
            while True:
                with self.stage(name):
                    try:
                        item = next(iterator)
                    except StopIteration:
                        return
                yield item

        return timed

    def take(self) -> dict[str, float]:
        """Seconds per stage since the last ``take``, then reset."""
        result = {name: self.seconds.get(name, 0.0) for name in STAGES}
        self.seconds.clear()
        return result


def current_rss_bytes() -> int:
    """Resident set size now (Linux /proc; falls back to the peak where /proc is missing)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


@contextmanager
def rss_peak(interval: float = 0.01) -> Iterator[dict[str, int]]:
    """Sample RSS in a thread while the block runs; yields a dict filled with baseline and peak."""
    found = {"baseline": current_rss_bytes(), "peak": 0}
    found["peak"] = found["baseline"]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            found["peak"] = max(found["peak"], current_rss_bytes())
            done.wait(interval)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield found
    finally:
        done.set()
        sampler.join()
        found["peak"] = max(found["peak"], current_rss_bytes())


def precision_header() -> str:
    """The CPU's bf16 capability, for every speed benchmark's header (groundlabel.precision)."""
    from groundlabel.precision import cpu_precision

    return cpu_precision().describe()


def matmul_peak(dtype: torch.dtype, runs: int = 10) -> float:
    """FLOP/s of a 4096x1024 @ 1024x4096 matmul in ``dtype`` (the best of ``runs``), measured now.

    The reference the model's achieved FLOP/s is set against: measured in the same run, on
    the same (possibly loaded) machine, so their ratio means something where seconds do not.
    The best run, not the median: a peak is what the units reach when nothing else gets in
    the way, and a median of a few runs on a shared machine came out below what the model
    itself achieved (a share over 100 %).
    """
    left = torch.randn(4096, 1024).to(dtype)
    right = torch.randn(1024, 4096).to(dtype)
    torch.matmul(left, right)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        torch.matmul(left, right)
        times.append(time.perf_counter() - start)
    return 2 * 4096 * 1024 * 4096 / min(times)


def count_flops(call: Callable[[], object]) -> int:
    """FLOPs of one ``call()`` (a model forward), counted once with torch's FLOP counter."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        call()
    return int(counter.get_total_flops())


def flops_line(flops: int, seconds: float, peak: float, label: str = "forward") -> str:
    """``label``: GFLOP counted, achieved GFLOP/s and its share of the measured matmul peak."""
    achieved = flops / seconds if seconds > 0 else 0.0
    return (
        f"{label}: {flops / 1e9:.1f} GFLOP, {achieved / 1e9:.1f} GFLOP/s achieved = "
        f"{100 * achieved / peak:.1f} % of the measured matmul peak ({peak / 1e9:.0f} GFLOP/s)"
    )


def print_precision_header() -> dict[str, float]:
    """Print the CPU's bf16 capability and the fp32/bf16 matmul peaks; return the peaks by dtype name."""
    peaks = {"fp32": matmul_peak(torch.float32), "bf16": matmul_peak(torch.bfloat16)}
    print(precision_header())
    print(
        f"matmul peak (4096x1024 @ 1024x4096, {torch.get_num_threads()} threads, measured now): "
        f"fp32 {peaks['fp32'] / 1e9:.0f} GFLOP/s, bf16 {peaks['bf16'] / 1e9:.0f} GFLOP/s"
    )
    return peaks
