"""Building a torch C++ extension once per machine, so that no interrupted build strands a later run.

Why not ``load_inline``'s own cache: torch guards a build with a lock *file* (``FileBaton``)
that only its holder deletes. A process killed during the 20-60 s build (Ctrl+C, a closed
laptop, ``docker stop``) leaves it behind, and every later run waits on it forever,
silently. Here:

- the build is guarded by ``fcntl.flock`` on a file of our own: the kernel drops the lock
  when its holder dies, however it dies;
- the wait for another live builder is bounded (``GROUNDLABEL_KERNEL_WAIT_S``); past it the
  caller gets ``None`` and uses the exact PyTorch path, saying so in one line;
- torch builds into a fresh temporary folder (its baton lives and dies there) and the
  finished ``.so`` is renamed into place, so a half-written library is never loaded;
- a library that does not load (corrupt, truncated, foreign) is rebuilt.
"""

from __future__ import annotations

import fcntl
import importlib.util
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

log = logging.getLogger(__name__)

WAIT_ENV = "GROUNDLABEL_KERNEL_WAIT_S"
DEFAULT_WAIT_S = 180.0  # three times a normal build: a live builder is usually done by then
_POLL_S = 0.2


def extensions_root() -> Path:
    """torch's extensions folder (``TORCH_EXTENSIONS_DIR``, else its per-Python/accelerator default)."""
    configured = os.environ.get("TORCH_EXTENSIONS_DIR")
    if configured:
        return Path(configured)
    from torch.utils.cpp_extension import _get_build_directory

    # A private helper of torch, used only to place our folder beside the ones torch makes.
    return Path(_get_build_directory("groundlabel", verbose=False)).parent


def wait_limit_s() -> float:
    try:
        return max(0.0, float(os.environ.get(WAIT_ENV, DEFAULT_WAIT_S)))
    except ValueError:
        return DEFAULT_WAIT_S


def _import(name: str, library: Path) -> ModuleType | None:
    """The module in ``library``; ``None`` when there is none; raises when it does not load."""
    if not library.is_file():
        return None
    spec = importlib.util.spec_from_file_location(name, library)
    if spec is None or spec.loader is None:
        raise ImportError(f"not a Python extension: {library}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _try_import(name: str, library: Path, quiet: bool = False) -> ModuleType | None:
    try:
        return _import(name, library)
    except (ImportError, OSError) as exc:  # corrupt or foreign: build it again
        if not quiet:
            log.warning("the cached kernel %s does not load (%s); building it again", library, exc)
        return None


def _acquire(fd: int, limit_s: float, what: str) -> bool:
    """Take the exclusive lock within ``limit_s`` seconds; False when another process kept it."""
    deadline = time.monotonic() + limit_s
    told = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            pass
        if time.monotonic() >= deadline:
            return False
        if not told:
            told = True
            log.warning("another process is building %s; waiting for it (up to %.0f s)", what, limit_s)
        time.sleep(_POLL_S)


def _remove_leftovers(root: Path, name: str) -> None:
    """Temporary build folders of processes that died mid-build (only the lock holder builds)."""
    for leftover in root.glob(f"{name}.build-*"):
        shutil.rmtree(leftover, ignore_errors=True)


def cached_extension(
    name: str,
    build: Callable[[Path], ModuleType],
    what: str,
    notice: str,
    limit_s: float | None = None,
) -> ModuleType | None:
    """The extension ``name``, built by ``build(folder)`` at most once per machine at a time.

    ``build`` must leave ``folder/name.so`` and return the loaded module. Returns ``None``
    when another process holds the build past ``limit_s`` (callers then use PyTorch).
    ``notice`` is said once, when this process starts the build.
    """
    root = extensions_root()
    library = root / name / f"{name}.so"
    module = _try_import(name, library)
    if module is not None:
        return module
    root.mkdir(parents=True, exist_ok=True)
    fd = os.open(root / f"{name}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        limit = wait_limit_s() if limit_s is None else limit_s
        if not _acquire(fd, limit, what):
            log.warning(
                "another process has been building %s for over %.0f s; this run uses the PyTorch path "
                "(same results, slower)",
                what,
                limit,
            )
            return None
        module = _try_import(name, library, quiet=True)  # built by the process we waited for
        if module is not None:
            return module
        _remove_leftovers(root, name)
        from groundlabel import interrupts

        interrupts.on_abrupt_exit(stop_running_builds)  # a second Ctrl+C leaves no compiler running
        log.warning("%s", notice)
        scratch = Path(tempfile.mkdtemp(prefix=f"{name}.build-{os.getpid()}-", dir=root))
        try:
            module = build(scratch)
            library.parent.mkdir(exist_ok=True)
            os.replace(scratch / f"{name}.so", library)  # atomic: the old file or the new, never half
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        return module
    finally:
        os.close(fd)  # releases the lock; so does the kernel if this process dies first


def stop_running_builds() -> int:
    """Interrupt the compiler jobs this process started (ninja stops its own children), so a
    process that quits mid-build (the reviewer's window closed) leaves no compiler running; how many.

    Linux only (``/proc``); elsewhere nothing is done.
    """
    import signal

    stopped = 0
    me = os.getpid()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name, _, rest = text.partition("(")[2].rpartition(")")
        fields = rest.split()
        if len(fields) > 1 and fields[1] == str(me) and name.startswith("ninja"):
            try:
                os.kill(int(stat.parent.name), signal.SIGTERM)
                stopped += 1
            except OSError:
                pass
    return stopped
