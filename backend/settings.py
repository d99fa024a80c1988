"""Backend settings read from the environment, the way Docker and Label Studio pass them."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from groundlabel.errors import GroundlabelError


def default_state_dir() -> Path:
    """Where the background queue lives unless --state-dir says: the user's data directory."""
    data_home = os.environ.get("XDG_DATA_HOME", "").strip()
    return (Path(data_home) if data_home else Path.home() / ".local" / "share") / "groundlabel" / "backend"


def _float_env(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise GroundlabelError(f"{name}={raw!r} is not a number") from None
    if value <= 0:
        raise GroundlabelError(f"{name}={raw!r} must be above 0")
    return value


@dataclass(frozen=True)
class BackendSettings:
    """Where Label Studio is, how to authenticate, and what task data may be fetched."""

    label_studio_url: str | None = None
    api_key: str | None = None
    basic_auth_user: str | None = None
    basic_auth_password: str | None = None
    local_files_root: Path | None = None
    # Extra hosts (``host`` or ``host:port``) task images may come from besides Label Studio.
    allowed_hosts: tuple[str, ...] = field(default_factory=tuple)
    max_image_bytes: int = 50 * 1024 * 1024
    download_timeout_s: float = 30.0
    # A video task's clip is downloaded to a temporary file under these bounds.
    max_video_bytes: int = 2048 * 1024 * 1024
    video_download_timeout_s: float = 600.0
    # Seconds /predict may spend before answering with what is done; Label Studio stores
    # nothing past its ML_TIMEOUT_PREDICT (100 s by default).
    predict_budget_s: float = 80.0
    # Pre-label in the background (needs URL and key): TASKS_CREATED webhooks' tasks, and
    # the tasks a /predict could not finish within its budget.
    background_prelabel: bool = True
    # The persistent background queue (``task_queue.py``); shared by replicas of one model.
    state_dir: Path = field(default_factory=default_state_dir)
    # Tasks the queue may hold; a webhook that would pass it is refused with 429.
    queue_max: int = 1_000_000
    # A larger webhook body is refused with 413 (it is parsed in memory, one at a time).
    webhook_max_bytes: int = 32 * 1024 * 1024

    @classmethod
    def from_env(cls) -> BackendSettings:
        url = os.environ.get("LABEL_STUDIO_URL", "").strip().rstrip("/") or None
        if url and not url.startswith(("http://", "https://")):
            raise GroundlabelError(f"LABEL_STUDIO_URL={url!r} must start with http:// or https://")
        root_text = (
            os.environ.get("LOCAL_FILES_DOCUMENT_ROOT")
            or os.environ.get("LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT")
            or ""
        ).strip()
        root = Path(root_text).expanduser().resolve() if root_text else None
        if root is not None and not root.is_dir():
            raise GroundlabelError(f"LOCAL_FILES_DOCUMENT_ROOT={root_text!r} is not a folder")
        hosts = tuple(
            h.strip().lower() for h in os.environ.get("GROUNDLABEL_ALLOWED_HOSTS", "").split(",") if h.strip()
        )
        user = os.environ.get("BASIC_AUTH_USER") or None
        password = os.environ.get("BASIC_AUTH_PASS") or None
        if bool(user) != bool(password):
            raise GroundlabelError("set both BASIC_AUTH_USER and BASIC_AUTH_PASS, or neither")
        return cls(
            label_studio_url=url,
            api_key=(os.environ.get("LABEL_STUDIO_API_KEY") or "").strip() or None,
            basic_auth_user=user,
            basic_auth_password=password,
            local_files_root=root,
            allowed_hosts=hosts,
            max_image_bytes=int(_float_env("GROUNDLABEL_MAX_IMAGE_MB", 50) * 1024 * 1024),
            download_timeout_s=_float_env("GROUNDLABEL_DOWNLOAD_TIMEOUT", 30.0),
            max_video_bytes=int(_float_env("GROUNDLABEL_MAX_VIDEO_MB", 2048) * 1024 * 1024),
            video_download_timeout_s=_float_env("GROUNDLABEL_VIDEO_DOWNLOAD_TIMEOUT", 600.0),
            predict_budget_s=_float_env("GROUNDLABEL_PREDICT_BUDGET", 80.0),
            state_dir=Path(os.environ.get("GROUNDLABEL_STATE_DIR") or default_state_dir()).expanduser(),
            queue_max=int(_float_env("GROUNDLABEL_QUEUE_MAX", 1_000_000)),
            webhook_max_bytes=int(_float_env("GROUNDLABEL_WEBHOOK_MAX_MB", 32) * 1024 * 1024),
            background_prelabel=os.environ.get("GROUNDLABEL_BACKGROUND_PRELABEL", "true").strip().lower()
            not in ("0", "false", "no"),
        )
