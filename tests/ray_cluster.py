"""Ray for tests: small fixed resources, loopback addresses only, everything stopped after.

Ray refuses 127.0.0.1 as a node address but takes other 127.x addresses, so nodes here
are 127.0.0.2 (head) and 127.0.0.3. Every port is chosen free and outside Ray's worker
port range (10002-19999). ``ray start --block`` stays in the foreground and stops the
processes it started when it is terminated; a sweep of anything still naming the
test's temp dir makes sure nothing is left running (``ray stop`` would stop every Ray of
the user, including other people's).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

HEAD_IP = "127.0.0.2"
WORKER_IP = "127.0.0.3"
OBJECT_STORE_BYTES = 100 * 1024 * 1024
RAY = str(Path(sys.executable).with_name("ray"))

# Ray 2.60 protects clusters with a token and, unless one is given, writes a new one to
# ~/.ray/auth_token; tests give theirs in the environment (inherited by every Ray
# process and CLI they start), so nothing is written outside their temp dirs.
os.environ.setdefault("RAY_AUTH_MODE", "token")
os.environ.setdefault("RAY_AUTH_TOKEN", secrets.token_hex(32))
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")


def short_temp_dir(tmp_path_factory) -> Path:
    """A new dir for Ray's files whose socket paths stay under the 107-byte Unix limit.

    Ray puts ``session_<date>_<time>_<pid>/sockets/plasma_store`` (about 62 bytes) below
    it. Under pytest-xdist each worker's base temp gains a ``popen-gwN`` level, which
    pushed that over the limit, so the dir goes in the run's own root (shared by the
    workers, cleaned by pytest like the rest) with an 8-character random name.
    """
    import tempfile

    base = tmp_path_factory.getbasetemp()
    if base.name.startswith("popen-gw"):
        base = base.parent
    path = Path(tempfile.mkdtemp(prefix="", dir=base))
    assert len(str(path)) + 62 < 107, f"Ray's socket paths below {path} would be too long"
    return path


def free_port(host: str) -> int:
    """A free TCP port the kernel picks (its ephemeral range is above Ray's worker ports)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        port = sock.getsockname()[1]
    assert not 10002 <= port <= 19999
    return port


def _node_ports(host: str) -> list[str]:
    options = [
        "--node-manager-port",
        "--object-manager-port",
        "--dashboard-agent-listen-port",
        "--dashboard-agent-grpc-port",
        "--runtime-env-agent-port",
        "--metrics-export-port",
    ]
    args: list[str] = []
    for option in options:
        args += [option, str(free_port(host))]
    return args


def processes_naming(text: str) -> list[int]:
    """PIDs whose command line contains ``text`` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline:
            found.append(int(entry.name))
    return found


def sweep(text: str, timeout_s: float = 20.0) -> list[int]:
    """Kill what still names ``text``; the PIDs that were left (empty when all was clean)."""
    left = processes_naming(text)
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout_s
    while processes_naming(text) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


class TwoNodeCluster:
    """A head on 127.0.0.2 and a worker node on 127.0.0.3, one CPU each."""

    def __init__(self, temp_dir: Path) -> None:
        self.temp_dir = temp_dir
        self.port = free_port(HEAD_IP)
        self.address = f"{HEAD_IP}:{self.port}"
        self.procs: list[subprocess.Popen] = []
        self.logs: list[Path] = []

    def _start(self, name: str, args: list[str]) -> None:
        log = self.temp_dir / f"{name}.log"
        self.logs.append(log)
        env = dict(os.environ)
        with log.open("w") as out:
            self.procs.append(
                subprocess.Popen(
                    [RAY, "start", "--block", "--disable-usage-stats", *args],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    env=env,
                    start_new_session=True,
                )
            )

    def start(self) -> None:
        self.temp_dir.mkdir(parents=True, exist_ok=True)
        common = ["--num-cpus", "1", "--num-gpus", "0", "--object-store-memory", str(OBJECT_STORE_BYTES)]
        self._start(
            "head",
            [
                "--head",
                "--node-ip-address",
                HEAD_IP,
                "--port",
                str(self.port),
                "--include-dashboard",
                "false",
                "--temp-dir",
                str(self.temp_dir),
                *common,
                *_node_ports(HEAD_IP),
            ],
        )
        self.wait_for_nodes(1)
        self._start(
            "worker",
            ["--address", self.address, "--node-ip-address", WORKER_IP, *common, *_node_ports(WORKER_IP)],
        )
        self.wait_for_nodes(2)

    def wait_for_nodes(self, count: int, timeout_s: float = 180.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            status = subprocess.run(
                [RAY, "status", "--address", self.address], capture_output=True, text=True, timeout=60
            )
            if status.returncode == 0 and status.stdout.count("node_") >= count:
                return
            for proc in self.procs:
                if proc.poll() is not None:
                    raise RuntimeError(f"ray start exited: {self.describe()}")
            time.sleep(2)
        raise RuntimeError(f"the cluster did not reach {count} node(s): {self.describe()}")

    def describe(self) -> str:
        return "\n".join(log.read_text(errors="replace")[-2000:] for log in self.logs if log.exists())

    def stop(self) -> list[int]:
        """Stop both nodes; the PIDs the sweep still had to kill."""
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in reversed(self.procs):
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
        return sweep(str(self.temp_dir))
