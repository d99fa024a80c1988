"""Load on ``groundlabel serve``: RSS, images/s and /health latency at 1, 4 and 16 clients.

    python -m benchmarks.backend_load [--shortest-edge 800] [--requests-per-level 32]

Starts the backend as users do (``python -m groundlabel serve``) with the full-size
Grounding DINO architecture (random weights, real compute), then for each number of
concurrent clients sends one-task /predict requests for local photos while a sampler
reads the server's RSS from /proc and a prober times /health every 100 ms. Levels run
in order in one process, so "sequential" (1 client) is the reference measured in the
same run: RSS of the 16-client level should stay within 1.3x of it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from benchmarks.speed_support import build_full_size_model

PHOTOS = Path(__file__).resolve().parents[1] / "assets" / "reference" / "photos"
CONFIG = (
    '<View><Image name="image" value="$image"/><RectangleLabels name="label" toName="image">'
    '<Label value="Cat" predicted_values="cat,kitten"/><Label value="Astronaut"/></RectangleLabels></View>'
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--requests-per-level", type=int, default=32, help="one task per request")
    parser.add_argument("--shortest-edge", type=int, default=800, help="model input short side")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "groundlabel-bench")
    return parser.parse_args(argv)


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(model_dir: Path, state_dir: Path, log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "LOCAL_FILES_DOCUMENT_ROOT": str(PHOTOS.parent),
        "GROUNDLABEL_BACKGROUND_PRELABEL": "false",
        "GROUNDLABEL_STATE_DIR": str(state_dir),
    }
    command = [sys.executable, "-m", "groundlabel", "serve", "--model", str(model_dir), "--port", str(port)]
    command += ["--device", "cpu", "--box-threshold", "0.05", "--text-threshold", "0"]
    with log.open("wb") as handle:
        process = subprocess.Popen(command, env=env, stdout=handle, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the backend exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.5)
    process.kill()
    raise SystemExit("the backend did not start within 600 s")


def one_request(client: httpx.Client, url: str, index: int) -> None:
    photo = sorted(PHOTOS.glob("*.png"))[index % 2].name
    body = {"tasks": [{"id": index, "data": {"image": f"/data/local-files/?d=photos/{photo}"}}]}
    response = client.post(f"{url}/predict", json={**body, "label_config": CONFIG}, timeout=600)
    response.raise_for_status()
    assert response.json()["results"][0]["result"] is not None


def run_level(url: str, pid: int, clients: int, requests: int) -> dict[str, float]:
    """Send ``requests`` /predict calls from ``clients`` threads; sample RSS and /health meanwhile."""
    stop = threading.Event()
    rss: list[int] = []
    health: list[float] = []

    def sample_rss() -> None:
        while not stop.wait(0.2):
            rss.append(rss_bytes(pid))

    def probe_health() -> None:
        with httpx.Client() as probe:
            while not stop.wait(0.1):
                started = time.perf_counter()
                probe.get(f"{url}/health", timeout=30).raise_for_status()
                health.append(time.perf_counter() - started)

    helpers = [threading.Thread(target=sample_rss), threading.Thread(target=probe_health)]
    for helper in helpers:
        helper.start()
    started = time.perf_counter()
    with (
        httpx.Client(limits=httpx.Limits(max_connections=clients)) as client,
        ThreadPoolExecutor(clients) as pool,
    ):
        list(pool.map(lambda i: one_request(client, url, i), range(requests)))
    elapsed = time.perf_counter() - started
    stop.set()
    for helper in helpers:
        helper.join()
    rss.append(rss_bytes(pid))
    health.sort()
    return {
        "clients": clients,
        "images/s": requests / elapsed,
        # Steady state: the level's second half (after the first requests grew the heap).
        "rss_mb": statistics.median(rss[len(rss) // 2 :]) / 2**20,
        "rss_peak_mb": max(rss) / 2**20,
        "rss_end_mb": rss[-1] / 2**20,
        "health_p50_ms": health[len(health) // 2] * 1000,
        "health_p99_ms": health[min(len(health) - 1, int(len(health) * 0.99))] * 1000,
    }


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    edge = args.shortest_edge
    model_dir = build_full_size_model(args.cache / f"full-size-{edge}", edge, edge * 1333 // 800)
    with tempfile.TemporaryDirectory() as scratch:
        log = Path(scratch) / "backend.log"
        process, url = start_server(model_dir, Path(scratch) / "state", log)
        try:
            one_request(httpx.Client(), url, 0)  # warm-up: first-call allocations, kernel build
            rows = [run_level(url, process.pid, n, args.requests_per_level) for n in args.clients]
        finally:
            process.terminate()
            process.wait(30)
    print(f"full-size Grounding DINO, random weights, input short side {edge}, CPU, one task per /predict")
    print(
        "| clients | images/s | steady RSS (MB) | peak RSS (MB) | RSS vs 1 client | /health p50 (ms) | p99 (ms) |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    reference = rows[0]["rss_mb"]
    for row in rows:
        print(
            f"| {row['clients']} | {row['images/s']:.2f} | {row['rss_mb']:.0f} | {row['rss_peak_mb']:.0f} | "
            f"{row['rss_mb'] / reference:.2f}x | {row['health_p50_ms']:.1f} | {row['health_p99_ms']:.1f} |"
        )


if __name__ == "__main__":
    main()
