"""``groundlabel serve`` and ``groundlabel ls-prelabel`` against a real Label Studio 1.23.2.

Label Studio is installed from PyPI into its own venv under the session temp folder
(about 90 s) and started on 127.0.0.1. The backend runs as a subprocess through the
CLI with the tiny random model, thresholds at 0 so its untrained boxes come through.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from labelstudio_server import (
    LEGACY_TOKEN,
    Backend,
    LabelStudio,
    dump,
    install_label_studio,
    start_backend,
    start_label_studio,
)
from PIL import Image

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


@pytest.fixture(scope="session")
def label_studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabelStudio]:
    base = tmp_path_factory.mktemp("label-studio")
    script = install_label_studio(base)
    server = start_label_studio(script, base)
    yield server
    server.close()


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


def test_ls_prelabel_on_ray_predicts_every_task_and_resumes_after_an_interruption(
    label_studio, tiny_model_dir, tmp_path_factory
):
    """``ls-prelabel --ray``: Ray started by the command (loopback), two 1-thread actors."""
    pytest.importorskip("ray", reason="the ray extra is part of .[all]; CI installs it")
    from ray_cluster import sweep  # also gives Ray a token in the environment (nothing in ~/.ray)

    label_studio.set_legacy_tokens(False)
    project_id = make_project(label_studio, "ray")
    import tempfile

    # short: Ray's socket paths below it must stay under the 107-byte Unix limit
    ray_dir = Path(tempfile.mkdtemp(prefix="", dir=tmp_path_factory.getbasetemp()))
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
    command += ["--model", str(tiny_model_dir), "--device", "cpu", *THRESHOLDS, "--ray", "--workers", "2"]

    def versions() -> list[str]:
        tasks = label_studio.tasks(project_id)
        return [p["model_version"] for t in tasks for p in label_studio.predictions(t["id"])]

    try:
        # Interrupted as soon as the first prediction is posted.
        first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wait_until(lambda: versions() or first.poll() is not None, 300, "a first prediction")
        first.send_signal(2)
        _, first_err = first.communicate(timeout=120)
        assert first.returncode in (0, 130), first_err
        assert "Traceback" not in first_err
        (version,) = set(versions())
        # One more task loses its prediction, so the rerun must redo at least one.
        task_id = label_studio.tasks(project_id)[0]["id"]
        for p in label_studio.predictions(task_id):
            label_studio.api("DELETE", f"/api/predictions/{p['id']}/", expect=204)
        kept = len(versions())
        again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
        assert again.returncode == 0, again.stderr
        assert f"{4 - kept} task(s) pre-labelled, {kept} already had {version}, 0 failed" in again.stderr
        assert "INFO" not in again.stderr and "Traceback" not in again.stderr
        assert_every_task_predicted(label_studio, project_id, version)  # exactly one each
    finally:
        left = sweep(str(ray_dir))
    assert left == [], "the command left Ray processes running"
