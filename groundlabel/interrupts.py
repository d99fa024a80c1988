"""SIGINT and SIGTERM: the first asks for a graceful stop, the second ends the process at once.

Why this shape: a Python signal handler runs in the main thread between two bytecodes,
so one that takes a lock (``Event.set``, logging, a buffered write) can re-enter a lock
the interrupted code already holds and deadlock for good; ``serve`` did exactly that on
a second SIGTERM. And while the main thread sits in a long C call (a model forward,
Qt's event loop) no Python handler runs at all.

So the handlers here do no work: the interpreter's C handler writes each signal's number
to a self-pipe (``signal.set_wakeup_fd``) the moment it arrives, and the Python handler at
most raises ``KeyboardInterrupt`` once (``Interrupted`` for SIGTERM), as Python does by
default for Ctrl+C. A daemon thread reads the pipe: on the first signal it calls the
command's ``on_first`` (``serve`` starts its graceful stop there, in an ordinary thread,
where locks are safe); on the second it writes one line saying what was kept and calls
``os._exit``. Every write the product makes is a committed SQLite transaction or an
atomic rename, so ending at once loses nothing already done (the same as ``kill -9``).
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from types import FrameType

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """The first SIGINT or SIGTERM, raised in the main thread; ``signum`` says which."""

    def __init__(self, signum: int = signal.SIGINT) -> None:
        super().__init__(signum)
        self.signum = signum


def exit_code(exc: BaseException) -> int:
    """130 for Ctrl+C, 143 for SIGTERM: the shell's 128 + signal number."""
    return 128 + int(getattr(exc, "signum", signal.SIGINT))


class SignalWatch:
    """The signal policy of one command; ``install`` from the main thread, ``uninstall`` after."""

    def __init__(self, name: str = "groundlabel") -> None:
        self.name = name
        # What a second signal's line says was kept; a string or a function of nothing
        # (called in the watcher thread, so it may read progress counters).
        self.kept: str | Callable[[], str] = ""
        # Called in the watcher thread on the first signal; None: raise in the main thread.
        self.on_first: Callable[[int], None] | None = None
        self.count = 0
        self._raised = False
        self._signalled = False
        self._pipe: tuple[int, int] | None = None
        self._previous_fd = -1
        self._previous: dict[int, object] = {}
        self._thread: threading.Thread | None = None

    # -- the handler: a flag and, once, an exception -------------------------------------------
    def _handler(self, signum: int, frame: FrameType | None) -> None:
        self._signalled = True  # before the watcher thread may have counted it
        if self.on_first is None and not self._raised:
            self._raised = True
            raise Interrupted(signum)

    def install(self) -> bool:
        """Take over SIGINT and SIGTERM; False (and nothing done) off the main thread."""
        if threading.current_thread() is not threading.main_thread() or self._pipe is not None:
            return False
        read, write = os.pipe()
        os.set_blocking(write, False)
        try:
            self._previous_fd = signal.set_wakeup_fd(write, warn_on_full_buffer=False)
        except ValueError:
            os.close(read)
            os.close(write)
            return False
        self._pipe = (read, write)
        self.handle_signals()
        self._thread = threading.Thread(
            target=self._watch, args=(read,), name="groundlabel-signals", daemon=True
        )
        self._thread.start()
        return True

    def handle_signals(self) -> None:
        """(Re)install the handlers, e.g. after a library (Ray) replaced them with its own."""
        if self._pipe is None or threading.current_thread() is not threading.main_thread():
            return
        for sig in SIGNALS:
            previous = signal.signal(sig, self._handler)
            self._previous.setdefault(sig, previous)

    def uninstall(self) -> None:
        """Restore the previous handlers, unless a signal came: then the process is on its way out,
        and a further signal during the interpreter's shutdown (which joins threads) must still end
        it at once, so the watch stays."""
        if self._pipe is None or self.count or self._signalled:
            return
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]
        self._previous.clear()
        signal.set_wakeup_fd(self._previous_fd)
        read, write = self._pipe
        self._pipe = None
        os.close(write)  # the watcher reads end-of-file and returns
        if self._thread is not None:
            self._thread.join(2.0)
        os.close(read)

    # -- the watcher thread -------------------------------------------------------------------
    def _watch(self, read: int) -> None:
        while True:
            try:
                data = os.read(read, 64)
            except OSError:
                return
            if not data:
                return
            for signum in data:
                if signum in SIGNALS:
                    self._seen(signum)

    def _seen(self, signum: int) -> None:
        self.count += 1
        if self.count == 1:
            if self.on_first is not None:
                self.on_first(signum)
            return
        kept = self.kept() if callable(self.kept) else self.kept
        line = f"{self.name}: second signal, stopped at once" + (f"; {kept}" if kept else "") + "\n"
        try:
            for hook in list(_abrupt_exit_hooks):
                with suppress(Exception):  # nothing may keep the process from ending now
                    hook()
            os.write(2, line.encode("utf-8", "replace"))
        finally:
            os._exit(128 + signum)


_current: SignalWatch | None = None
_abrupt_exit_hooks: list[Callable[[], object]] = []


def on_abrupt_exit(hook: Callable[[], object]) -> None:
    """Run ``hook`` (quick, in the watcher thread) just before a second signal ends the process,
    e.g. to stop child processes that would outlive it."""
    if hook not in _abrupt_exit_hooks:
        _abrupt_exit_hooks.append(hook)


def current() -> SignalWatch | None:
    """The watch installed for this command, if any (commands set ``kept`` and ``on_first`` on it)."""
    return _current


@contextmanager
def watching(name: str = "groundlabel") -> Iterator[SignalWatch]:
    """Install a ``SignalWatch`` for the length of the block (a no-op off the main thread)."""
    global _current
    watch = SignalWatch(name)
    installed = watch.install()
    previous, _current = _current, (watch if installed else _current)
    try:
        yield watch
    finally:
        _current = previous
        if installed:
            watch.uninstall()


def set_kept(kept: str | Callable[[], str]) -> None:
    """Say what a second signal's line reports as kept (no-op without a watch)."""
    if _current is not None:
        _current.kept = kept


def set_on_first(on_first: Callable[[int], None] | None) -> None:
    """Handle the first signal in the watcher thread instead of raising in the main thread."""
    if _current is not None:
        _current.on_first = on_first


@contextmanager
def watch_for(name: str) -> Iterator[SignalWatch]:
    """The command's installed watch, or (a server started from Python) one installed for the block.

    The caller's ``on_first`` and ``kept`` apply for the block only.
    """
    if _current is None:
        with watching(name) as watch:
            yield watch
        return
    watch = _current
    saved = (watch.on_first, watch.kept, watch.name)
    watch.name = name
    try:
        yield watch
    finally:
        watch.on_first, watch.kept, watch.name = saved
