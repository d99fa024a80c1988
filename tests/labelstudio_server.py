"""A real Label Studio 1.23.2 for tests and CI: installed into its own venv, run on 127.0.0.1.

The tests start one per session (``conftest.label_studio``, on first use): under pytest's
session temp folder (venv, pip cache, data, HOME), each test in a project of its own.
``.ci/docker_check.py`` uses the same helpers with a per-machine cache (the venv, and a data
folder migrated once: ``start_from_template``). Every process started here is stopped by its
own PID: terminate, wait, kill.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

LABEL_STUDIO_VERSION = "1.23.2"
LEGACY_TOKEN = "0123456789abcdef0123456789abcdef01234567"
USERNAME, PASSWORD = "admin@example.com", "admin12345"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def install_label_studio(root: Path) -> Path:
    """``pip install label-studio==1.23.2`` into ``root/venv``; returns the ``label-studio`` script.

    A venv already installed in ``root`` is reused (CI's Docker step keeps one per machine).
    ``GROUNDLABEL_TEST_LABEL_STUDIO_VENV`` may name an existing venv holding that version, to
    skip the 90 s install while developing; the test suite otherwise installs once per run.
    """
    existing = os.environ.get("GROUNDLABEL_TEST_LABEL_STUDIO_VENV")
    if existing and (Path(existing) / "bin" / "label-studio").is_file():
        return Path(existing) / "bin" / "label-studio"
    venv = root / "venv"
    if (venv / "bin" / "label-studio").is_file():
        return venv / "bin" / "label-studio"
    root.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    env = {**os.environ, "PIP_CACHE_DIR": str(root / "pip-cache"), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "-q",
            "--no-compile",
            f"label-studio=={LABEL_STUDIO_VERSION}",
        ],
        check=True,
        env=env,
    )
    return venv / "bin" / "label-studio"


def stop_process(process: subprocess.Popen, timeout_s: float = 20.0) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout_s)


def wait_for(url: str, process: subprocess.Popen, timeout_s: float, log: Path) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} not ready after {timeout_s} s:\n{log.read_text()[-3000:]}")


@dataclass
class LabelStudio:
    """A running Label Studio and API helpers authenticated with its Personal Access Token."""

    url: str
    process: subprocess.Popen
    files_root: Path
    pat: str = ""
    _access: str = ""
    _access_at: float = 0.0
    _http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=120))

    def access_header(self) -> dict[str, str]:
        if not self._access or time.monotonic() - self._access_at > 200:
            response = self._http.post(f"{self.url}/api/token/refresh/", json={"refresh": self.pat})
            response.raise_for_status()
            self._access, self._access_at = response.json()["access"], time.monotonic()
        return {"Authorization": f"Bearer {self._access}"}

    def api(self, method: str, path: str, expect: int | tuple[int, ...] = (200, 201), **kwargs: Any) -> Any:
        response = self._http.request(method, f"{self.url}{path}", headers=self.access_header(), **kwargs)
        expected = (expect,) if isinstance(expect, int) else expect
        assert response.status_code in expected, (
            f"{method} {path}: {response.status_code} {response.text[:500]}"
        )
        return response.json() if response.content else None

    def set_legacy_tokens(self, enabled: bool) -> None:
        self.api("POST", "/api/jwt/settings", json={"legacy_api_tokens_enabled": enabled})

    def legacy_token_works(self) -> bool:
        response = self._http.get(
            f"{self.url}/api/projects/", headers={"Authorization": f"Token {LEGACY_TOKEN}"}
        )
        return response.status_code == 200

    def create_project(self, title: str, label_config: str) -> int:
        return self.api("POST", "/api/projects/", json={"title": title, "label_config": label_config})["id"]

    def upload(self, project_id: int, path: Path) -> None:
        with path.open("rb") as handle:
            self.api(
                "POST", f"/api/projects/{project_id}/import", files={"file": (path.name, handle, "image/png")}
            )

    def sync_local_folder(self, project_id: int, folder: Path) -> None:
        storage = self.api(
            "POST",
            "/api/storages/localfiles/",
            json={"project": project_id, "path": str(folder), "regex_filter": ".*", "use_blob_urls": True},
        )
        self.api("POST", f"/api/storages/localfiles/{storage['id']}/sync")

    def tasks(self, project_id: int) -> list[dict]:
        body = self.api(
            "GET", "/api/tasks/", params={"project": project_id, "page_size": 1000, "fields": "all"}
        )
        return body["tasks"]

    def predictions(self, task_id: int) -> list[dict]:
        return self.api("GET", "/api/predictions/", params={"task": task_id})

    def connect_backend(self, project_id: int, backend_url: str, **extra: Any) -> dict:
        return self.api(
            "POST",
            "/api/ml/",
            json={"project": project_id, "url": backend_url, "title": "groundlabel", **extra},
        )

    def import_copies(self, project_id: int, count: int) -> set[int]:
        """``count`` new tasks pointing at the project's uploaded photos, in one import (one
        ``TASKS_CREATED`` webhook); returns the new task ids."""
        before = self.tasks(project_id)
        uploads = sorted({t["data"]["image"] for t in before if "/upload/" in t["data"]["image"]})
        self.api(
            "POST",
            f"/api/projects/{project_id}/import",
            json=[{"image": uploads[i % len(uploads)]} for i in range(count)],
        )
        return {t["id"] for t in self.tasks(project_id)} - {t["id"] for t in before}

    def retrieve_predictions(self, project_id: int) -> dict:
        return self.api(
            "POST",
            "/api/dm/actions/",
            params={"id": "retrieve_tasks_predictions", "project": project_id},
            json={"selectedItems": {"all": True, "excluded": []}},
        )

    def close(self) -> None:
        self._http.close()
        stop_process(self.process)


def start_label_studio(script: Path, base: Path, ready_timeout_s: float = 300) -> LabelStudio:
    """Start Label Studio with legacy tokens on, create a PAT, and return the handle.

    ``ready_timeout_s`` bounds the wait for ``/health``: the first start on an empty data
    folder migrates the database (30-45 s here; CI's Docker step allows a busy machine more).
    """
    data, home, files_root = base / "data", base / "home", base / "files"
    for folder in (data, home, files_root):
        folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {
        **os.environ,
        "HOME": str(home),
        "LABEL_STUDIO_BASE_DATA_DIR": str(data),
        "LABEL_STUDIO_USERNAME": USERNAME,
        "LABEL_STUDIO_PASSWORD": PASSWORD,
        "LABEL_STUDIO_USER_TOKEN": LEGACY_TOKEN,
        "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",
        "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "true",
        "LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED": "true",
        "LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT": str(files_root),
        "LABEL_STUDIO_ML_BLOCK_LOCAL_IP": "false",
        "LABEL_STUDIO_SSRF_PROTECTION_ENABLED": "false",
        "LABEL_STUDIO_LATEST_VERSION_CHECK": "false",
        "LABEL_STUDIO_COLLECT_ANALYTICS": "false",
        "LABEL_STUDIO_CONVERTER_DOWNLOAD_RESOURCES": "false",
        "LABEL_STUDIO_SENTRY_DSN": "",
        "LABEL_STUDIO_FRONTEND_SENTRY_DSN": "",
    }
    log = base / "label-studio.log"
    with log.open("wb") as log_handle:
        process = subprocess.Popen(
            [
                str(script),
                "start",
                "--no-browser",
                "--internal-host",
                "127.0.0.1",
                "--port",
                str(port),
                "--data-dir",
                str(data),
            ],
            env=env,
            stdout=log_handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=base,
        )
    url = f"http://127.0.0.1:{port}"
    server = LabelStudio(url=url, process=process, files_root=files_root)
    try:
        wait_for(f"{url}/health", process, ready_timeout_s, log)
        response = httpx.post(
            f"{url}/api/token/", headers={"Authorization": f"Token {LEGACY_TOKEN}"}, timeout=30
        )
        assert response.status_code in (200, 201), response.text
        server.pat = response.json()["token"]
    except BaseException:
        server.close()
        raise
    return server


def start_from_template(script: Path, cache: Path, base: Path, ready_timeout_s: float = 300) -> LabelStudio:
    """Label Studio on a copy of a data folder migrated once into ``cache`` (first start: minutes
    on a busy machine; from the copy: seconds). The copy holds only the admin user."""
    template = cache / "data-template"
    if not (template / "data").is_dir():
        scratch = cache / "data-template.partial"
        shutil.rmtree(scratch, ignore_errors=True)
        first = start_label_studio(script, scratch, ready_timeout_s)
        try:  # each copy makes its own Personal Access Token, and Label Studio allows one at a time
            revoked = httpx.post(f"{first.url}/api/token/blacklist/", json={"refresh": first.pat}, timeout=60)
            if revoked.status_code not in (200, 204):
                raise RuntimeError(
                    f"cannot revoke the template's token: {revoked.status_code} {revoked.text[:300]}"
                )
        finally:
            first.close()
        shutil.rmtree(template, ignore_errors=True)
        scratch.rename(template)
    base.mkdir(parents=True)
    shutil.copytree(template / "data", base / "data")
    return start_label_studio(script, base, ready_timeout_s)


def cached_label_studio(cache: str | None, base: Path) -> LabelStudio | None:
    """Label Studio from a cache that ``start_from_template`` completed (its venv and migrated data
    folder), started on a copy under ``base``; None when ``cache`` is unset or incomplete.

    The cache is only read: a test run never writes outside its temp folder.
    """
    if not cache:
        return None
    root = Path(cache)
    script = root / "venv" / "bin" / "label-studio"
    if not script.is_file() or not (root / "data-template" / "data").is_dir():
        return None
    return start_from_template(script, root, base)


@dataclass
class Backend:
    """``groundlabel serve`` as a subprocess: the whole CLI path, as a user starts it."""

    url: str
    process: subprocess.Popen
    log: Path

    def version(self) -> str:
        return httpx.post(f"{self.url}/setup", json={}, timeout=5).json()["model_version"]

    def close(self) -> None:
        stop_process(self.process)


def start_backend(model_dir: Path, log: Path, env: dict[str, str], *extra_args: str) -> Backend:
    port = free_port()
    # Each backend its own queue, unless the test shares one between restarts.
    full_env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "GROUNDLABEL_STATE_DIR": str(log.parent / "state"),
        **env,
    }
    with log.open("wb") as log_handle:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "groundlabel",
                "serve",
                "--model",
                str(model_dir),
                "--port",
                str(port),
                "--device",
                "cpu",
                *extra_args,
            ],
            env=full_env,
            stdout=log_handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{url}/health", process, 120, log)
    except BaseException:
        stop_process(process)
        raise
    return Backend(url, process, log)


def dump(value: Any) -> str:
    return json.dumps(value, indent=1)[:2000]
