"""Keep freed tensor memory in the process instead of handing it back to the kernel.

On Linux, glibc serves allocations above its mmap threshold (at most 32 MB, dynamically)
with fresh ``mmap`` regions and returns freed heap tops beyond the trim threshold. A
Grounding DINO forward pass at 800x1200 allocates and frees gigabytes of such tensors,
so every pass zero-fills them again page by page: measured here, about 3 million minor
page faults and 8 s of system time per reference pass, and still ~0.5 million for the
accelerated one. Raising both thresholds lets freed blocks be reused: the faults drop
to ~10 thousand and the numbers computed do not change. The cost is that memory once
used stays resident (RSS holds at its high-water mark, which also keeps it flat).

This is process-wide (it is the C library's allocator), so it is applied once, by
``accelerate`` on CPU, and can be refused with ``GROUNDLABEL_DEFAULT_MALLOC=1``. Since
the thresholds apply to every malloc arena, and glibc makes an arena per thread (up to
8 per core), the number of arenas is capped too (``MALLOC_ARENA_MAX`` wins when set):
otherwise each thread that runs a pass keeps its own high-water mark and RSS multiplies.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import sys
import threading

log = logging.getLogger(__name__)

DISABLE_ENV = "GROUNDLABEL_DEFAULT_MALLOC"
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
_ARENA_MAX = 2  # the main thread's arena and one more: enough for one inference thread
_THRESHOLD = 1 << 30  # 1 GiB: larger single blocks still get their own mapping

_lock = threading.Lock()
_state = {"tuned": False}


def tune_allocator() -> bool:
    """Raise glibc's mmap and trim thresholds once; True when in effect (Linux glibc only)."""
    with _lock:
        if _state["tuned"]:
            return True
        if os.environ.get(DISABLE_ENV, "") not in ("", "0") or not sys.platform.startswith("linux"):
            return False
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            mallopt = libc.mallopt
        except (OSError, AttributeError):
            return False  # not glibc (e.g. musl): nothing to tune
        mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        ok = bool(mallopt(_M_MMAP_THRESHOLD, _THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, _THRESHOLD))
        if ok and not os.environ.get("MALLOC_ARENA_MAX"):
            mallopt(_M_ARENA_MAX, _ARENA_MAX)
        if ok:
            log.info("glibc malloc: mmap and trim thresholds raised to %d bytes", _THRESHOLD)
        _state["tuned"] = ok
        return ok
