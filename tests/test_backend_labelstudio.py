"""``groundlabel serve`` and ``groundlabel ls-prelabel`` against a real Label Studio 1.23.2.

Label Studio is the run's one server (``conftest.label_studio``: installed from PyPI into
its own venv under the session temp folder, about 90 s, and started on 127.0.0.1). The backend runs as a subprocess through the
CLI with the tiny random model, thresholds at 0 so its untrained boxes come through.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from labelstudio_server import (
    LEGACY_TOKEN,
    Backend,
    LabelStudio,
    dump,
    start_backend,
)
from PIL import Image
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.labelstudio

PHOTOS = Path(__file__).resolve().parents[1] / "assets" / "reference" / "photos"
LABELS = {"Cat", "Astronaut"}
CONFIG = """
<View>
  <Image name="image" value="$image"/>
  <RectangleLabels name="label" toName="image">
    <Label value="Cat" predicted_values="cat,kitten"/>
    <Label value="Astronaut"/>
  </RectangleLabels>
  <TextArea name="prompt" toName="image"/>
</View>
"""
THRESHOLDS = ("--box-threshold", "0", "--text-threshold", "0")


def photo_sizes() -> dict[str, tuple[int, int]]:
    return {p.name: Image.open(p).size for p in PHOTOS.glob("*.png")}


def make_project(label_studio: LabelStudio, title: str) -> int:
    """Two uploaded photos and the same two as local-files tasks."""
    project_id = label_studio.create_project(title, CONFIG)
    for photo in sorted(PHOTOS.glob("*.png")):
        label_studio.upload(project_id, photo)
    folder = label_studio.files_root / f"project-{project_id}"
    folder.mkdir()
    for photo in PHOTOS.glob("*.png"):
        shutil.copy(photo, folder / photo.name)
    label_studio.sync_local_folder(project_id, folder)
    tasks = label_studio.tasks(project_id)
    assert len(tasks) == 4, dump(tasks)
    assert {t["data"]["image"].split("?")[0].rsplit("/", 2)[-2] for t in tasks} >= {"local-files"}
    return project_id


def image_size(task: dict) -> tuple[int, int]:
    reference = task["data"]["image"]
    name = next(n for n in photo_sizes() if reference.endswith(n))
    return photo_sizes()[name]


def assert_valid_prediction(prediction: dict, task: dict, version: str) -> None:
    assert prediction["model_version"] == version
    assert prediction["result"], f"no regions for task {task['id']}: {dump(prediction)}"
    width, height = image_size(task)
    for region in prediction["result"]:
        assert (region["from_name"], region["to_name"], region["type"]) == (
            "label",
            "image",
            "rectanglelabels",
        )
        assert (region["original_width"], region["original_height"]) == (width, height)
        value = region["value"]
        assert set(value["rectanglelabels"]) <= LABELS
        assert value["x"] >= 0 and value["y"] >= 0
        assert value["x"] + value["width"] <= 100 + 1e-6 and value["y"] + value["height"] <= 100 + 1e-6


def assert_every_task_predicted(label_studio: LabelStudio, project_id: int, version: str) -> None:
    for task in label_studio.tasks(project_id):
        mine = [p for p in label_studio.predictions(task["id"]) if p["model_version"] == version]
        assert len(mine) == 1, f"task {task['id']}: {dump(label_studio.predictions(task['id']))}"
        assert_valid_prediction(mine[0], task, version)


def wait_until(condition, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def serve(tiny_model_dir: Path, tmp_path: Path, env: dict[str, str]) -> Backend:
    return start_backend(tiny_model_dir, tmp_path / "backend.log", env, *THRESHOLDS)


def test_retrieve_predictions_with_a_legacy_token(label_studio, tiny_model_dir, tmp_path):
    label_studio.set_legacy_tokens(True)
    assert label_studio.legacy_token_works()
    project_id = make_project(label_studio, "legacy token")
    backend = serve(
        tiny_model_dir, tmp_path, {"LABEL_STUDIO_URL": label_studio.url, "LABEL_STUDIO_API_KEY": LEGACY_TOKEN}
    )
    try:
        version = backend.version()
        connection = label_studio.connect_backend(project_id, backend.url, is_interactive=True)
        assert connection["readable_state"] == "Connected", dump(connection)
        assert connection["model_version"] == version
        label_studio.retrieve_predictions(project_id)
        assert_every_task_predicted(label_studio, project_id, version)

        # Retrieving again asks for nothing: every task already has this model version.
        label_studio.retrieve_predictions(project_id)
        assert_every_task_predicted(label_studio, project_id, version)

        # Interactive pre-annotation: the annotator's text is the prompt, the label follows it.
        task = label_studio.tasks(project_id)[0]
        context = {
            "result": [
                {"type": "textarea", "from_name": "prompt", "to_name": "image", "value": {"text": ["kitten"]}}
            ]
        }
        answer = label_studio.api(
            "POST",
            f"/api/ml/{connection['id']}/interactive-annotating",
            json={"task": task["id"], "context": context},
        )
        regions = answer["data"]["result"]
        assert regions and {r["value"]["rectanglelabels"][0] for r in regions} == {"Cat"}, dump(answer)

        # An import sends only a TASKS_CREATED webhook; the backend pre-labels it in the background.
        label_studio.upload(project_id, PHOTOS / "chelsea.png")
        new_task = max(label_studio.tasks(project_id), key=lambda t: t["id"])
        wait_until(lambda: label_studio.predictions(new_task["id"]), 60, "the background prediction")
        (background,) = label_studio.predictions(new_task["id"])
        assert_valid_prediction(background, new_task, version)
    finally:
        backend.close()
    assert "Traceback" not in backend.log.read_text()


def test_retrieve_predictions_and_ls_prelabel_with_a_personal_access_token(
    label_studio, tiny_model_dir, tmp_path
):
    label_studio.set_legacy_tokens(False)
    assert not label_studio.legacy_token_works()
    project_id = make_project(label_studio, "personal access token")
    env = {
        "LABEL_STUDIO_URL": label_studio.url,
        "LABEL_STUDIO_API_KEY": label_studio.pat,
        "GROUNDLABEL_BACKGROUND_PRELABEL": "false",
        # Local-files tasks are read from disk here; uploads still download with the Bearer token.
        "LOCAL_FILES_DOCUMENT_ROOT": str(label_studio.files_root),
    }
    backend = serve(tiny_model_dir, tmp_path, env)
    try:
        version = backend.version()
        connection = label_studio.connect_backend(project_id, backend.url)
        assert connection["readable_state"] == "Connected", dump(connection)
        label_studio.retrieve_predictions(project_id)
        assert_every_task_predicted(label_studio, project_id, version)
    finally:
        backend.close()

    # Bulk pre-labelling through the API with other thresholds, so another model version.
    command = [sys.executable, "-m", "groundlabel", "ls-prelabel", "--project", str(project_id)]
    command += [
        "--model",
        str(tiny_model_dir),
        "--device",
        "cpu",
        "--box-threshold",
        "0.01",
        "--text-threshold",
        "0",
    ]
    run_env = {**os.environ, "HF_HUB_OFFLINE": "1", **env}
    first = subprocess.run(command, env=run_env, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    assert "4 task(s) pre-labelled, 0 already had" in first.stderr
    bulk_version = next(
        p["model_version"]
        for p in label_studio.predictions(label_studio.tasks(project_id)[0]["id"])
        if p["model_version"] != version
    )
    assert_every_task_predicted(label_studio, project_id, bulk_version)
    assert_every_task_predicted(label_studio, project_id, version)

    # Resuming after an interruption: only the task that lost its prediction is done again.
    task_id = label_studio.tasks(project_id)[1]["id"]
    (lost,) = [p for p in label_studio.predictions(task_id) if p["model_version"] == bulk_version]
    label_studio.api("DELETE", f"/api/predictions/{lost['id']}/", expect=204)
    again = subprocess.run(command, env=run_env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert "1 task(s) pre-labelled, 3 already had" in again.stderr
    assert_every_task_predicted(label_studio, project_id, bulk_version)


def test_ls_prelabel_explains_a_bad_key_in_one_line(label_studio, tiny_model_dir):
    label_studio.set_legacy_tokens(False)
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "LABEL_STUDIO_URL": label_studio.url,
        "LABEL_STUDIO_API_KEY": LEGACY_TOKEN,
    }
    command = [
        sys.executable,
        "-m",
        "groundlabel",
        "ls-prelabel",
        "--project",
        "1",
        "--model",
        str(tiny_model_dir),
    ]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "legacy tokens turned off" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


SIGNAL_EXIT_S = 20  # "within seconds" on a loaded 2-core machine; a hang is minutes


def test_ls_prelabel_on_ray_predicts_every_task_and_resumes_after_an_interruption(
    label_studio, tiny_model_dir, tmp_path_factory
):
    """``ls-prelabel --ray``: Ray started by the command (loopback), one 1-thread actor; two
    SIGTERMs 50 ms apart end it within seconds with one line (issue 18, the plain command's case
    is tests/test_backend_interrupts.py), and the rerun predicts exactly what is missing."""
    pytest.importorskip("ray", reason="the ray extra is part of .[all]; CI installs it")
    from ray_cluster import (  # also gives Ray a token in the environment (nothing in ~/.ray)
        short_temp_dir,
        sweep,
    )

    label_studio.set_legacy_tokens(False)
    project_id = make_project(label_studio, "ray")
    # 120 tasks: with 4 a quiet machine had finished them all before the signals came.
    label_studio.import_copies(project_id, 116)
    total = len(label_studio.tasks(project_id))
    # short: Ray's socket paths below it must stay under the 107-byte Unix limit
    ray_dir = short_temp_dir(tmp_path_factory)
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "LABEL_STUDIO_URL": label_studio.url,
        "LABEL_STUDIO_API_KEY": label_studio.pat,
        "LOCAL_FILES_DOCUMENT_ROOT": str(label_studio.files_root),
        "RAY_TMPDIR": str(ray_dir),
        "RAY_ADDRESS": "",
    }
    command = [sys.executable, "-m", "groundlabel", "ls-prelabel", "--project", str(project_id)]
    command += ["--model", str(tiny_model_dir), "--device", "cpu", *THRESHOLDS, "--ray", "--workers", "1"]
    ids = sorted(t["id"] for t in label_studio.tasks(project_id))
    sample = ids[:3] + ids[3::10]  # polled cheaply: Ray's actor may post out of id order

    def versions() -> list[str]:
        tasks = label_studio.tasks(project_id)
        return [p["model_version"] for t in tasks for p in label_studio.predictions(t["id"])]

    try:
        # Two SIGTERMs 50 ms apart as soon as the first prediction is posted.
        first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        started = lambda: any(label_studio.predictions(task_id) for task_id in sample)  # noqa: E731
        wait_until(lambda: started() or first.poll() is not None, 300, "a first prediction")
        first.send_signal(signal.SIGTERM)
        time.sleep(0.05)
        first.send_signal(signal.SIGTERM)
        try:
            _, first_err = first.communicate(timeout=SIGNAL_EXIT_S)
        except subprocess.TimeoutExpired:
            first.kill()
            _, first_err = first.communicate(timeout=10)
            raise AssertionError(
                f"still running {SIGNAL_EXIT_S} s after two signals:\n{first_err[-3000:]}"
            ) from None
        # 143, or ended by the signal itself during the interpreter's last steps
        assert first.returncode in (143, -signal.SIGTERM), first_err[-3000:]
        assert "Traceback" not in first_err
        assert "groundlabel: interrupted;" in first_err or "second signal, stopped at once;" in first_err
        (version,) = set(versions())
        # One more task loses its prediction, so the rerun must redo at least one.
        task_id = label_studio.tasks(project_id)[0]["id"]
        for p in label_studio.predictions(task_id):
            label_studio.api("DELETE", f"/api/predictions/{p['id']}/", expect=204)
        kept = len(versions())
        again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
        assert again.returncode == 0, again.stderr
        assert f"{total - kept} task(s) pre-labelled, {kept} already had {version}, 0 failed" in again.stderr
        assert "INFO" not in again.stderr and "Traceback" not in again.stderr
        assert_every_task_predicted(label_studio, project_id, version)  # exactly one each
    finally:
        left = sweep(str(ray_dir))
    assert left == [], "the command left Ray processes running"


# --- issue 11: the persistent queue across kill -9 and SIGTERM, and a webhook flood ---


def queued_rows(state_dir: Path, version: str) -> int:
    with sqlite3.connect(state_dir / "queue.db") as db:
        return db.execute("SELECT count(*) FROM queue WHERE model_version = ?", (version,)).fetchone()[0]


def predicted_count(label_studio: LabelStudio, project_id: int, task_ids: set[int], version: str) -> int:
    """How many of ``task_ids`` hold a prediction of ``version`` (read per task from the API)."""
    return sum(
        any(p["model_version"] == version for p in label_studio.predictions(task_id)) for task_id in task_ids
    )


def test_queued_tasks_survive_kill_9_and_sigterm_and_are_predicted_once(
    label_studio, tiny_model_dir, tmp_path
):
    label_studio.set_legacy_tokens(True)
    project_id = make_project(label_studio, "restarts")
    state = tmp_path / "state"
    env = {
        "LABEL_STUDIO_URL": label_studio.url,
        "LABEL_STUDIO_API_KEY": LEGACY_TOKEN,
        "GROUNDLABEL_STATE_DIR": str(state),
    }

    def started(task_ids: set[int]) -> bool:  # tasks go oldest first: one cheap call
        return any(p["model_version"] == version for p in label_studio.predictions(min(task_ids)))

    first = start_backend(tiny_model_dir, tmp_path / "first.log", env, *THRESHOLDS)
    try:
        version = first.version()
        label_studio.connect_backend(project_id, first.url)
        killed = label_studio.import_copies(project_id, 30)  # one TASKS_CREATED webhook
        wait_until(lambda: started(killed), 120, "the first background prediction")
        first.process.kill()  # kill -9: no chance to save anything
        first.process.wait(10)
    finally:
        first.close()
    assert predicted_count(label_studio, project_id, killed, version) < 30
    assert queued_rows(state, version) > 0, "the test needs tasks still queued at the kill"

    # Started again, on another port: nobody calls it, it goes on from the queue by itself.
    second = start_backend(tiny_model_dir, tmp_path / "second.log", env, *THRESHOLDS)
    try:
        wait_until(
            lambda: predicted_count(label_studio, project_id, killed, version) == 30,
            180,
            "every task queued before the kill predicted",
        )
        # More tasks, their webhook sent to this backend (Label Studio knows only the first URL).
        stopped = label_studio.import_copies(project_id, 40)
        hook = {
            "action": "TASKS_CREATED",
            "project": {"id": project_id},
            "tasks": [{"id": i} for i in stopped],
        }
        assert httpx.post(f"{second.url}/webhook", json=hook, timeout=30).json()["tasks"] == 40
        wait_until(lambda: started(stopped), 120, "background predictions of the second import")
        signalled = time.monotonic()
        second.process.send_signal(signal.SIGTERM)
        second.process.wait(30)
        stop_seconds = time.monotonic() - signalled
    finally:
        second.close()
    log = second.log.read_text()
    assert second.process.returncode == 0 and stop_seconds < 10, (stop_seconds, log[-2000:])
    assert "stopped; the queue is saved" in log and "Traceback" not in log
    left = queued_rows(state, version)
    assert 0 < left <= 40 - predicted_count(label_studio, project_id, stopped, version), (
        "the rest stays queued"
    )

    third = start_backend(tiny_model_dir, tmp_path / "third.log", env, *THRESHOLDS)
    try:
        wait_until(
            lambda: predicted_count(label_studio, project_id, stopped, version) == 40,
            180,
            "every task predicted",
        )
        wait_until(lambda: queued_rows(state, version) == 0, 30, "an empty queue")
    finally:
        third.close()
    for task_id in killed | stopped:  # exactly once per model version, whatever was interrupted
        mine = [p for p in label_studio.predictions(task_id) if p["model_version"] == version]
        assert len(mine) == 1, dump(label_studio.predictions(task_id))


def rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmRSS:")).split()[1]) / 1024


def test_webhook_flood_keeps_memory_bounded_and_health_responsive(label_studio, tiny_model_dir, tmp_path):
    label_studio.set_legacy_tokens(True)
    project_id = label_studio.create_project("flood", CONFIG)
    env = {
        "LABEL_STUDIO_URL": label_studio.url,
        "LABEL_STUDIO_API_KEY": LEGACY_TOKEN,
        "GROUNDLABEL_STATE_DIR": str(tmp_path / "state"),
        "GROUNDLABEL_QUEUE_MAX": "1200000",
    }
    backend = start_backend(tiny_model_dir, tmp_path / "backend.log", env, *THRESHOLDS)
    latencies: list[float] = []
    stop = threading.Event()

    def probe() -> None:
        with httpx.Client() as client:
            while not stop.wait(0.05):
                started = time.perf_counter()
                assert client.get(f"{backend.url}/health", timeout=10).status_code == 200
                latencies.append(time.perf_counter() - started)

    def hook(first_id: int, count: int) -> bytes:
        tasks = ",".join(
            f'{{"id":{i},"data":{{"image":"/data/upload/1/x.png"}}}}'
            for i in range(first_id, first_id + count)
        )
        return f'{{"action":"TASKS_CREATED","project":{{"id":{project_id}}},"tasks":[{tasks}]}}'.encode()

    try:
        baseline = rss_mb(backend.process.pid)
        prober = threading.Thread(target=probe)
        prober.start()
        with httpx.Client(timeout=120) as client:
            million = client.post(f"{backend.url}/webhook", content=hook(10_000_000, 1_000_000))
            assert million.status_code == 413, "a million tasks with data pass the 32 MB body limit"
            compact = b'{"action":"TASKS_CREATED","project":%d,"tasks":[%s]}' % (
                project_id,
                ",".join(f'{{"id":{i}}}' for i in range(10_000_000, 11_000_000)).encode(),
            )
            assert client.post(f"{backend.url}/webhook", content=compact).json()["tasks"] == 1_000_000

            def flood(index: int) -> int:
                return client.post(
                    f"{backend.url}/webhook", content=hook(20_000_000 + index * 5000, 5000)
                ).status_code

            with ThreadPoolExecutor(8) as pool:
                codes = list(pool.map(flood, range(80)))
            metrics = client.get(f"{backend.url}/metrics").text
        stop.set()
        prober.join()
        grown = rss_mb(backend.process.pid) - baseline
    finally:
        stop.set()
        backend.close()
    # 1,000,000 + 40 * 5,000 fill the queue; the worker drains a little meanwhile.
    assert set(codes) == {200, 429} and 40 <= codes.count(200) <= 45, codes
    families = {f.name: f for f in text_string_to_metric_families(metrics)}
    assert 0 < families["groundlabel_queue_length"].samples[0].value <= 1_200_000
    refused = {
        s.labels["reason"]: s.value
        for s in families["groundlabel_webhooks_refused"].samples
        if s.name.endswith("_total")
    }
    assert refused == {"too_large": 1, "queue_full": codes.count(429)}
    print(
        f"flood: RSS grew {grown:.0f} MB, /health worst {max(latencies) * 1000:.0f} ms over {len(latencies)}"
    )
    assert grown < 300, f"RSS grew {grown:.0f} MB"
    assert max(latencies) < 1.0, f"/health took {max(latencies):.2f} s at worst (Label Studio gives it 1 s)"
    log = backend.log.read_text()
    assert "refused (429)" in log and "refused (413)" in log and "Traceback" not in log
