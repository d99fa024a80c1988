"""The native kernel's build strands nobody: kill -9 mid-build, two first runs at once, a corrupt .so.

The real build takes 20-80 s here, so one module-scoped scenario builds it once, in its
own ``TORCH_EXTENSIONS_DIR``, and the tests read what each step did: a corrupt ``.so``
is left in the cache; run A starts rebuilding it and is killed with SIGKILL mid-build;
then runs B and C start at the same moment.
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from groundlabel.inference import kernel_build
from groundlabel.inference.native import kernel_name

SCRIPT = (
    "import logging, sys; logging.basicConfig(level=logging.WARNING, format='%(message)s');"
    "from groundlabel.inference.native import load_kernel; k = load_kernel();"
    "print('KERNEL', 'native' if k is not None else 'pytorch', flush=True)"
)
BUILD_NOTICE = "building the native deformable-attention kernel: once per machine"
ONE_WORKER = True  # the scenario (a real build, about 90 s) runs once, on one pytest-xdist worker
GARBAGE = b"\x7fELF this is not a shared library" * 50


@dataclass
class Run:
    process: subprocess.Popen
    log: Path

    @property
    def text(self) -> str:
        return self.log.read_text()


def start(extensions: Path, log: Path) -> Run:
    # A generous wait: the second run should get the first one's kernel, not fall back.
    env = {**os.environ, "TORCH_EXTENSIONS_DIR": str(extensions), kernel_build.WAIT_ENV: "900"}
    env.pop("GROUNDLABEL_NO_NATIVE", None)
    with log.open("w") as handle:
        process = subprocess.Popen(
            [sys.executable, "-c", SCRIPT],
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, as a command in a terminal
        )
    return Run(process, log)


def wait_for(condition, timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.1)


@dataclass
class Scenario:
    library: Path
    extensions: Path
    killed: Run
    runs: list[Run]


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    base = tmp_path_factory.mktemp("kernel-build")
    extensions = base / "torch_extensions"
    name = kernel_name()
    library = extensions / name / f"{name}.so"
    library.parent.mkdir(parents=True)
    library.write_bytes(GARBAGE)  # e.g. a disk that filled up under an older version

    killed = start(extensions, base / "killed.log")
    try:
        # Killed once the compiler runs: torch has written its build file in our scratch folder.
        wait_for(lambda: any(extensions.glob(f"{name}.build-*/build.ninja")), 120, "the build to start")
        time.sleep(1.0)
    finally:
        # kill -9 of the whole command (the compiler too, as a stopped container or a closed
        # terminal does), so no orphaned compiler slows the runs below.
        os.killpg(killed.process.pid, signal.SIGKILL)
        killed.process.wait(30)

    runs = [start(extensions, base / f"run-{i}.log") for i in range(2)]
    try:
        for run in runs:
            run.process.wait(600)
    finally:
        for run in runs:
            if run.process.poll() is None:
                run.process.kill()
                run.process.wait(10)
    return Scenario(library, extensions, killed, runs)


@pytest.mark.slow  # builds the native kernel (module fixture)
def test_a_run_after_kill_9_mid_build_completes(scenario: Scenario):
    assert scenario.killed.process.returncode == -signal.SIGKILL
    assert BUILD_NOTICE in scenario.killed.text  # it really was building
    for run in scenario.runs:
        assert run.process.returncode == 0, run.text
        assert "KERNEL " in run.text
    assert not list(scenario.extensions.glob("*.build-*")), "the killed run's scratch folder is cleaned"


@pytest.mark.slow  # builds the native kernel (module fixture)
def test_two_first_runs_at_once_build_the_kernel_once(scenario: Scenario):
    builders = [run for run in scenario.runs if BUILD_NOTICE in run.text]
    assert len(builders) == 1, [run.text for run in scenario.runs]
    (other,) = [run for run in scenario.runs if run is not builders[0]]
    assert "waiting for it" in other.text  # it said so, then loaded the kernel the other built
    assert "KERNEL native" in builders[0].text and "KERNEL native" in other.text, other.text


@pytest.mark.slow  # builds the native kernel (module fixture)
def test_a_corrupt_library_is_rebuilt(scenario: Scenario):
    assert "does not load" in scenario.killed.text and "building it again" in scenario.killed.text
    assert scenario.library.read_bytes() != GARBAGE
    env = {**os.environ, "TORCH_EXTENSIONS_DIR": str(scenario.extensions)}
    again = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=300
    )
    assert "KERNEL native" in again.stdout and BUILD_NOTICE not in again.stderr, again.stderr


def test_a_live_builder_is_waited_for_within_the_limit(tmp_path, monkeypatch, caplog):
    """No compiler needed: another process holds the lock past the limit, so the caller falls back."""
    monkeypatch.setenv("TORCH_EXTENSIONS_DIR", str(tmp_path))
    lock = tmp_path / "demo.lock"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT);"
            "fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); time.sleep(60)",
            str(lock),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        built = []
        started = time.monotonic()
        module = kernel_build.cached_extension(
            "demo", lambda folder: built.append(folder), what="the demo", notice="building", limit_s=0.5
        )
        waited = time.monotonic() - started
    finally:
        holder.kill()
        holder.wait(10)
    assert module is None and built == []
    assert 0.5 <= waited < 30
    assert "uses the PyTorch path" in caplog.text
    # Its death released the lock: the next caller gets it at once.
    fd = os.open(lock, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(fd)
