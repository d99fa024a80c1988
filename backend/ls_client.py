"""A small client for the parts of Label Studio's REST API that pre-labelling uses.

Written on httpx rather than label-studio-sdk's generated client so that credentials,
401 handling and PAT refresh behave the same here and in image downloads.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from typing import Any

import httpx
from groundlabel.backend.ls_auth import LabelStudioAuth, LabelStudioAuthError, explain_401

from groundlabel.errors import GroundlabelError

log = logging.getLogger(__name__)


class LabelStudioApiError(GroundlabelError):
    """Label Studio is unreachable or rejected a call."""


class LabelStudioClient:
    """Label Studio's API at ``base_url`` with the given API key (legacy token or PAT)."""

    def __init__(self, base_url: str, api_key: str | None, timeout_s: float = 30.0) -> None:
        if not base_url:
            raise LabelStudioApiError(
                "LABEL_STUDIO_URL is not set: set it to Label Studio's address, e.g. http://localhost:8080"
            )
        self.base_url = base_url.rstrip("/")
        self.auth = LabelStudioAuth(self.base_url, api_key) if api_key else None
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout_s)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> LabelStudioClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def auth_header(self, force_refresh: bool = False) -> dict[str, str]:
        return self.auth.header(force_refresh) if self.auth else {}

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send one API call; on 401 with a PAT, refresh the access token once and retry."""
        for attempt in range(2):
            headers = {**kwargs.pop("headers", {}), **self.auth_header(force_refresh=attempt > 0)}
            try:
                response = self._http.request(method, path, headers=headers, **kwargs)
            except httpx.HTTPError as exc:
                raise LabelStudioApiError(
                    f"cannot reach Label Studio at {self.base_url} ({exc.__class__.__name__}: {exc}); "
                    "check LABEL_STUDIO_URL and that Label Studio is running"
                ) from None
            if response.status_code != 401 or not (self.auth and self.auth.is_pat) or attempt:
                break
        if response.status_code == 401:
            raise LabelStudioAuthError(explain_401(self.base_url, self.auth, response.text))
        if response.status_code == 403:
            raise LabelStudioApiError(
                f"Label Studio refused {method} {path} (HTTP 403): the API key's user has no access to it"
            )
        if response.status_code == 404:
            raise LabelStudioApiError(f"Label Studio has no {path} (HTTP 404): check the project or task id")
        if response.status_code >= 400:
            raise LabelStudioApiError(
                f"Label Studio answered HTTP {response.status_code} to {method} {path}: {response.text[:200]}"
            )
        return response

    def get_project(self, project_id: int) -> dict[str, Any]:
        return self.request("GET", f"/api/projects/{project_id}/").json()

    def iter_tasks(
        self, project_id: int, task_ids: Sequence[int] | None = None, page_size: int = 100
    ) -> Iterator[dict[str, Any]]:
        """A project's tasks (or only ``task_ids``), with their predictions, page by page.

        The list endpoint is used even for single tasks: ``GET /api/tasks/{id}/`` makes
        Label Studio call the backend's /predict synchronously when the task has no
        prediction yet.
        """
        params: dict[str, Any] = {"project": project_id, "fields": "all", "page_size": page_size}
        if task_ids is not None:
            ids = [int(i) for i in task_ids]
            if not ids:
                return
            params["query"] = json.dumps({"selectedItems": {"all": False, "included": ids}})
        page = 1
        while True:
            body = self.request("GET", "/api/tasks/", params={**params, "page": page}).json()
            tasks = body.get("tasks", []) if isinstance(body, dict) else body
            yield from tasks
            total = body.get("total") if isinstance(body, dict) else None
            if not tasks or len(tasks) < page_size or (total is not None and page * page_size >= total):
                return
            page += 1

    def task_model_versions(self, task_id: int) -> set[str]:
        """The model versions of the predictions a task already has."""
        body = self.request("GET", "/api/predictions/", params={"task": task_id}).json()
        items = body.get("results", []) if isinstance(body, dict) else body
        return {str(p.get("model_version")) for p in items if p.get("task") in (task_id, None)}

    def create_prediction(self, task_id: int, prediction: dict[str, Any]) -> dict[str, Any]:
        payload = {"task": task_id, **prediction}
        return self.request("POST", "/api/predictions/", json=payload).json()
