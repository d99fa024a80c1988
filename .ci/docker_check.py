"""CI's run of the CPU image, end to end against a real Label Studio (see .ci/docker-check).

What it proves, each step a check that fails loudly:
- the image starts with a tiny random model mounted read-only as a volume, runs as uid 1000,
  answers /health, and its HEALTHCHECK turns the container healthy;
- Label Studio 1.23.2 (a real one, on 127.0.0.1, installed in its own venv) connects to it
  and stores the predictions of /predict calls it makes itself; a direct Label Studio-shaped
  /predict request is answered too;
- an import sends Label Studio's TASKS_CREATED webhook to the container; ``docker stop`` during
  that work, with a second ``docker kill --signal TERM`` on top, exits 0 within the grace period
  and leaves the rest of the tasks queued in the state volume;
- a new container on the same volume finishes them, each task predicted exactly once;
- a model folder with a root-owned 0600 weight file, mounted into the uid-1000 container, gets
  one line naming the file and the permission ("cannot read PATH: permission denied (the
  container runs as uid 1000)"), not hub advice.

The container uses the host's network (``--network host``) so it reaches Label Studio on
loopback; it listens on 127.0.0.1 only. Every docker call has a timeout; containers, the
volume and Label Studio are removed in ``finally``. Prints one JSON line of timings last.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import httpx  # noqa: E402
from labelstudio_server import (  # noqa: E402
    LEGACY_TOKEN,
    LabelStudio,
    free_port,
    install_label_studio,
    start_from_template,
)

PHOTOS = ROOT / "assets" / "reference" / "photos"
CONFIG = """
<View>
  <Image name="image" value="$image"/>
  <RectangleLabels name="label" toName="image">
    <Label value="Cat" predicted_values="cat,kitten"/>
    <Label value="Astronaut"/>
  </RectangleLabels>
</View>
"""
GRACE_S = 30  # docker stop -t: what compose.yaml's stop_grace_period stands for, shortened
QUEUED = 60  # tasks imported in one webhook; the stop comes while they are being predicted


class CheckFailed(Exception):
    pass


def docker(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
    command = [os.environ.get("DOCKER", "docker"), *args]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired:
        raise CheckFailed(f"`docker {' '.join(args[:3])} ...` did not return within {timeout} s") from None
    if check and done.returncode != 0:
        raise CheckFailed(
            f"`docker {' '.join(args)}` failed ({done.returncode}): {done.stderr.strip()[-800:]}"
        )
    return done


def wait_until(condition: Any, timeout_s: float, what: str, every_s: float = 0.5) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(every_s)
    raise CheckFailed(f"timed out after {timeout_s} s waiting for {what}")


def state(name: str) -> dict:
    return json.loads(docker("inspect", "--format", "{{json .State}}", name, timeout=30).stdout)


def logs(name: str) -> str:
    done = docker("logs", name, timeout=30, check=False)
    return done.stdout + done.stderr


class Run:
    def __init__(self, image: str, work: Path, label_studio: LabelStudio) -> None:
        self.image = image
        self.work = work
        self.ls = label_studio
        self.volume = f"groundlabel-ci-state-{os.getpid()}"
        self.containers: list[str] = []
        self.times: dict[str, float] = {}
        self.notes: list[str] = []

    # -- containers --------------------------------------------------------------------------

    def start(self, name: str, model: Path, port: int) -> str:
        docker(
            "run", "-d", "--name", name, "--network", "host",
            "-e", "GROUNDLABEL_HOST=127.0.0.1", "-e", f"GROUNDLABEL_PORT={port}",
            "-e", "GROUNDLABEL_MODEL=/models/tiny", "-e", "HF_HUB_OFFLINE=1",
            "-e", "GROUNDLABEL_BOX_THRESHOLD=0", "-e", "GROUNDLABEL_TEXT_THRESHOLD=0",
            "-e", f"LABEL_STUDIO_URL={self.ls.url}", "-e", f"LABEL_STUDIO_API_KEY={LEGACY_TOKEN}",
            "-v", f"{model}:/models/tiny:ro", "-v", f"{self.volume}:/data/state",
            # The image's HEALTHCHECK command, checked every 2 s instead of 30 s to keep CI short.
            "--health-interval", "2s", "--health-start-period", "60s",
            "--stop-timeout", str(GRACE_S),
            self.image,
            timeout=120,
        )  # fmt: skip
        self.containers.append(name)
        url = f"http://127.0.0.1:{port}"

        def answers() -> bool:
            if not state(name)["Running"]:
                raise CheckFailed(f"{name} exited during start:\n{logs(name)[-3000:]}")
            try:
                return httpx.get(f"{url}/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(answers, 180, f"{name} /health")
        return url

    def stop_with_second_term(self, name: str) -> dict:
        """``docker stop`` with a second SIGTERM sent while it waits; returns what happened."""
        second: dict[str, Any] = {}

        def kill_again() -> None:
            time.sleep(0.5)
            done = docker("kill", "--signal", "TERM", name, timeout=30, check=False)
            second["rc"] = done.returncode
            second["stderr"] = done.stderr.strip()

        killer = threading.Thread(target=kill_again)
        started = time.monotonic()
        killer.start()
        stopped = docker("stop", "-t", str(GRACE_S), name, timeout=GRACE_S + 60, check=False)
        seconds = time.monotonic() - started
        killer.join(60)
        final = state(name)
        return {
            "stop_rc": stopped.returncode,
            "seconds": round(seconds, 2),
            "exit_code": final["ExitCode"],
            "oom_killed": final["OOMKilled"],
            "second_term": second,
        }

    # -- Label Studio ------------------------------------------------------------------------

    def project(self) -> int:
        project_id = self.ls.create_project("docker", CONFIG)
        for photo in sorted(PHOTOS.glob("*.png")):
            self.ls.upload(project_id, photo)
        return project_id

    def predictions_of(self, task_id: int, version: str) -> int:
        return sum(p["model_version"] == version for p in self.ls.predictions(task_id))

    def queued(self, version: str) -> int:
        mountpoint = json.loads(docker("volume", "inspect", self.volume, timeout=30).stdout)[0]["Mountpoint"]
        with sqlite3.connect(Path(mountpoint) / "queue.db", timeout=10) as db:
            return db.execute("SELECT count(*) FROM queue WHERE model_version = ?", (version,)).fetchone()[0]

    # -- the checks ---------------------------------------------------------------------------

    def run(self) -> None:
        from groundlabel.devtools.random_model import save_random_model

        model = save_random_model(self.work / "model")
        for path in [model, *model.rglob("*")]:  # readable by the image's uid 1000
            path.chmod(0o755 if path.is_dir() else 0o644)
        self.work.chmod(0o755)
        docker("volume", "create", self.volume, timeout=30)
        project_id = self.project()

        started = time.monotonic()
        first = self.start("groundlabel-ci-a", model, free_port())
        self.times["start_to_health_s"] = round(time.monotonic() - started, 2)
        uid = docker(
            "exec", "groundlabel-ci-a", "sh", "-c", "awk '/^Uid:/ {print $2}' /proc/1/status", timeout=30
        )
        if uid.stdout.strip() != "1000":
            raise CheckFailed(f"the server (PID 1) runs as uid {uid.stdout.strip()!r}, not 1000")
        version = httpx.post(f"{first}/setup", json={}, timeout=10).json()["model_version"]

        # A Label Studio-shaped /predict request (a task of the project, its config).
        task = self.ls.tasks(project_id)[0]
        body = {"tasks": [task], "label_config": CONFIG, "project": f"{project_id}.0", "params": {}}
        answer = httpx.post(f"{first}/predict", json=body, timeout=60)
        results = answer.json().get("results") if answer.status_code == 200 else None
        if not results or not results[0]["result"]:
            raise CheckFailed(f"/predict answered {answer.status_code}: {answer.text[:500]}")
        if {r["type"] for r in results[0]["result"]} != {"rectanglelabels"}:
            raise CheckFailed(f"/predict gave no rectangles: {answer.text[:500]}")

        # Label Studio connects, calls /health, /setup and /predict itself, and stores the result.
        self.ls.set_legacy_tokens(True)
        self.ls.connect_backend(project_id, first)
        self.ls.retrieve_predictions(project_id)
        uploaded = [t["id"] for t in self.ls.tasks(project_id)]
        wait_until(
            lambda: all(self.predictions_of(t, version) == 1 for t in uploaded),
            120,
            "Label Studio's predictions",
        )

        wait_until(
            lambda: state("groundlabel-ci-a")["Health"]["Status"] == "healthy", 90, "HEALTHCHECK healthy"
        )
        self.times["start_to_healthy_s"] = round(time.monotonic() - started, 2)

        # An import: Label Studio's TASKS_CREATED webhook queues the tasks in the container.
        imported = self.ls.import_copies(project_id, QUEUED)
        first_task = min(imported)
        wait_until(
            lambda: self.predictions_of(first_task, version) > 0, 120, "the first background prediction"
        )
        stop = self.stop_with_second_term("groundlabel-ci-a")
        self.times["stop_s"] = stop["seconds"]
        log_a = logs("groundlabel-ci-a")
        left = self.queued(version)
        done_before = sum(self.predictions_of(t, version) > 0 for t in imported)
        self.notes.append(
            f"docker stop: rc {stop['stop_rc']}, exit code {stop['exit_code']}, {stop['seconds']} s "
            f"(grace {GRACE_S} s), second TERM rc {stop['second_term'].get('rc')}; "
            f"{done_before}/{QUEUED} predicted before the stop, {left} left queued in the volume"
        )
        if stop["stop_rc"] != 0 or stop["oom_killed"]:
            raise CheckFailed(f"docker stop failed: {stop}\n{log_a[-3000:]}")
        if stop["seconds"] >= GRACE_S:
            raise CheckFailed(f"the container needed the kill after {GRACE_S} s (double TERM hang?): {stop}")
        if stop["exit_code"] != 0:
            raise CheckFailed(
                f"the container exited with {stop['exit_code']} on SIGTERM+SIGTERM:\n{log_a[-3000:]}"
            )
        if "stopped; the queue is saved" not in log_a or "Traceback" in log_a:
            raise CheckFailed(f"the stop did not save the queue cleanly:\n{log_a[-3000:]}")
        if left == 0:
            raise CheckFailed("every task was done before the stop: the restart check would prove nothing")
        if left > QUEUED - done_before:
            raise CheckFailed(f"{left} tasks queued but only {QUEUED - done_before} were left to do")

        # A new container on the same volume finishes the queue by itself (nobody calls it).
        started = time.monotonic()
        self.start("groundlabel-ci-b", model, free_port())
        wait_until(
            lambda: all(self.predictions_of(t, version) >= 1 for t in imported),
            240,
            "the queue finished",
            1.0,
        )
        wait_until(lambda: self.queued(version) == 0, 30, "an empty queue")
        self.times["restart_to_queue_done_s"] = round(time.monotonic() - started, 2)
        twice = [t for t in imported if self.predictions_of(t, version) != 1]
        if twice:
            raise CheckFailed(f"tasks predicted more than once: {twice[:10]}")
        plain = docker("stop", "-t", str(GRACE_S), "groundlabel-ci-b", timeout=GRACE_S + 60)
        if plain.returncode != 0 or state("groundlabel-ci-b")["ExitCode"] != 0:
            raise CheckFailed(f"second container's stop: {state('groundlabel-ci-b')}")
        self.refuses_an_unreadable_model(model)

    def refuses_an_unreadable_model(self, model: Path) -> None:
        """`groundlabel detect` in the container on a folder whose model.safetensors is root's, 0600."""
        locked = self.work / "locked"
        images = self.work / "images"
        shutil.copytree(model, locked)
        images.mkdir(mode=0o755)
        shutil.copy(PHOTOS / "chelsea.png", images / "chelsea.png")
        for path in [locked, *locked.iterdir(), images, *images.iterdir()]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        (locked / "model.safetensors").chmod(0o600)  # owned by root (CI runs as root)
        result = docker(
            "run", "--rm", "-e", "HF_HUB_OFFLINE=1",
            "-v", f"{locked}:/models/locked:ro", "-v", f"{images}:/data/images:ro",
            self.image, "groundlabel", "detect", "/data/images", "--labels", "cat",
            "--model", "/models/locked", "-o", "/tmp/boxes.json",
            timeout=180, check=False,
        )  # fmt: skip
        expected = (
            "groundlabel: error: cannot read /models/locked/model.safetensors: permission denied "
            "(the container runs as uid 1000)"
        )
        lines = result.stderr.strip().splitlines()
        if (
            result.returncode != 2
            or not lines
            or not lines[-1].startswith(expected)
            or "Traceback" in result.stderr
        ):
            raise CheckFailed(f"unreadable model: exit {result.returncode}, stderr:\n{result.stderr[-2000:]}")
        self.notes.append(f"unreadable model file: {lines[-1]}")

    def cleanup(self) -> None:
        for name in self.containers:
            docker("rm", "-f", "-v", name, timeout=60, check=False)  # -v: the /models anonymous volume
        docker("volume", "rm", "-f", self.volume, timeout=60, check=False)


# Label Studio's first migration on a busy CI machine can take longer than the tests' 300 s.
LABEL_STUDIO_READY_S = 900


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", required=True)
    parser.add_argument(
        "--label-studio-cache", type=Path, default=Path("/var/cache/groundlabel-docker/label-studio")
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="groundlabel-docker-") as tmp:
        work = Path(tmp)
        started = time.monotonic()
        script = install_label_studio(args.label_studio_cache)  # the venv cached per machine
        label_studio = start_from_template(
            script, args.label_studio_cache, work / "ls", ready_timeout_s=LABEL_STUDIO_READY_S
        )
        ls_s = round(time.monotonic() - started, 2)
        run = Run(args.image, work / "run", label_studio)
        (work / "run").mkdir()
        ok, error = True, ""
        try:
            run.run()
        except CheckFailed as exc:
            ok, error = False, str(exc)
        finally:
            run.cleanup()
            label_studio.close()
        for note in run.notes:
            print(f"docker check: {note}", flush=True)
        if not ok:
            print(f"docker check FAILED: {error}", flush=True)
        print(json.dumps({"ok": ok, "label_studio_start_s": ls_s, **run.times}), flush=True)
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
