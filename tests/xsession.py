"""A virtual X display (Xvfb) and real X input (xdotool) for the real-window test.

The offscreen Qt platform cannot show how keys reach a real window: focus, the window
manager's part, shortcut contexts. Here the app runs with ``QT_QPA_PLATFORM=xcb`` on its
own Xvfb display and gets key events through the XTEST extension, as from a keyboard.
There is no window manager, so nothing moves focus but the app itself (and ``focus``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

TOOLS = ("Xvfb", "xdotool")


def missing_tools() -> list[str]:
    return [tool for tool in TOOLS if shutil.which(tool) is None]


def wait_for(condition: Callable[[], object], timeout: float, what: str, interval: float = 0.1) -> object:
    """Poll ``condition`` until it is truthy; fail naming ``what`` after ``timeout`` seconds."""
    end = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def _display_numbers() -> list[str]:
    """Display numbers this process may take: its own range under pytest-xdist, else any.

    When two xdist workers let Xvfb pick (``-displayfd`` alone), one worker's Xvfb can take a
    number another worker's is just giving up, and the exiting server then removes the new
    one's socket (``/tmp/.X11-unix/X1``): the app sees "could not connect to display". Each
    worker keeps to numbers no other worker uses, and closes its server before the next.
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker.startswith("gw"):
        return []
    base = 40 + 10 * int(worker[2:])
    return [f":{n}" for n in range(base, base + 10) if not Path(f"/tmp/.X{n}-lock").exists()]


def _is_running(pid: int) -> bool:
    """Whether process ``pid`` still runs (a zombie, exited but not reaped, does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


class XSession:
    """Xvfb on a free display number (``-displayfd``), stopped by ``close``."""

    def __init__(self, width: int = 1280, height: int = 800) -> None:
        read, write = os.pipe()
        screen = ["-screen", "0", f"{width}x{height}x24", "-nolisten", "tcp"]
        self.process = subprocess.Popen(
            ["Xvfb", *_display_numbers()[:1], "-displayfd", str(write), *screen],
            pass_fds=(write,),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(write)
        try:
            number = b""
            end = time.monotonic() + 30
            while not number.endswith(b"\n"):
                chunk = os.read(read, 16)  # Xvfb writes the display number once it listens
                if not chunk or time.monotonic() > end:
                    raise RuntimeError(f"Xvfb did not start (exit code {self.process.poll()})")
                number += chunk
        except BaseException:
            self.close()
            raise
        finally:
            os.close(read)
        self.display = f":{int(number)}"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(DISPLAY=self.display, QT_QPA_PLATFORM="xcb")
        env.pop("WAYLAND_DISPLAY", None)
        return env

    def xdotool(self, *args: str, timeout: float = 30) -> str:
        result = subprocess.run(
            ["xdotool", *args], env=self.env(), capture_output=True, text=True, timeout=timeout
        )
        if result.returncode != 0:
            raise AssertionError(f"xdotool {' '.join(args)} failed: {result.stderr.strip()}")
        return result.stdout.strip()

    def windows(self, pid: int, name: str) -> list[str]:
        """Visible windows of process ``pid`` whose title matches the regex ``name``."""
        result = subprocess.run(
            ["xdotool", "search", "--all", "--onlyvisible", "--pid", str(pid), "--name", name],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=30,
        )
        return result.stdout.split()

    def wait_window(self, pid: int, name: str, timeout: float = 60) -> str:
        """The newest visible window of ``pid`` titled ``name``; fails at once if ``pid`` exits."""

        def found() -> list[str]:
            windows = self.windows(pid, name)
            if not windows and not _is_running(pid):
                raise AssertionError(f"process {pid} exited before showing a window titled {name!r}")
            return windows

        return wait_for(found, timeout, f"a window titled {name!r}")[-1]

    def focused(self) -> str:
        return self.xdotool("getwindowfocus", "-f")

    def key(self, *keys: str) -> None:
        """Key presses through XTEST to the focused window, like a keyboard's."""
        self.xdotool("key", "--delay", "60", *keys)

    def type(self, text: str) -> None:
        self.xdotool("type", "--delay", "30", text)

    def screenshot(self, out: Path) -> Path:
        """The whole screen as PNG (Pillow reads the X display through XCB)."""
        from PIL import ImageGrab

        out.parent.mkdir(parents=True, exist_ok=True)
        ImageGrab.grab(xdisplay=self.display).convert("RGB").save(out, optimize=True)
        return out

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
