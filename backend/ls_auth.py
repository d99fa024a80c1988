"""Credentials for Label Studio's API: legacy tokens and Personal Access Tokens.

A legacy key is sent as ``Authorization: Token <key>``. A Personal Access Token (the
default since Label Studio 1.23 turns legacy tokens off) is a JWT *refresh* token: it is
exchanged at ``POST /api/token/refresh/`` for an access token valid five minutes, sent as
``Bearer``, and exchanged again shortly before it expires or when Label Studio answers 401.
"""

from __future__ import annotations

import base64
import json
import threading
import time

import httpx

from groundlabel.errors import GroundlabelError

# Refresh this long before the access token's ``exp`` so a slow request never carries a stale one.
REFRESH_MARGIN_S = 30.0


class LabelStudioAuthError(GroundlabelError):
    """Label Studio refused the API key, or cannot be reached to exchange it."""


def _jwt_payload(token: str) -> dict | None:
    """The claims of a JWT (unverified: we only read ``exp``), or None if ``token`` is not one."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        padded = parts[1] + "=" * (-len(parts[1]) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError):
        return None
    return payload if isinstance(payload, dict) else None


def is_personal_access_token(api_key: str) -> bool:
    return _jwt_payload(api_key) is not None


class LabelStudioAuth:
    """Produces the ``Authorization`` header for Label Studio, refreshing PAT access tokens."""

    def __init__(self, base_url: str, api_key: str, timeout_s: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.is_pat = is_personal_access_token(api_key)
        self._timeout_s = timeout_s
        self._access: str | None = None
        self._expires_at = 0.0
        self._lock = threading.Lock()

    def header(self, force_refresh: bool = False) -> dict[str, str]:
        if not self.is_pat:
            return {"Authorization": f"Token {self.api_key}"}
        with self._lock:
            if force_refresh or self._access is None or time.time() >= self._expires_at - REFRESH_MARGIN_S:
                self._refresh()
            return {"Authorization": f"Bearer {self._access}"}

    def _refresh(self) -> None:
        url = f"{self.base_url}/api/token/refresh/"
        try:
            response = httpx.post(url, json={"refresh": self.api_key}, timeout=self._timeout_s)
        except httpx.HTTPError as exc:
            raise LabelStudioAuthError(
                f"cannot reach Label Studio at {self.base_url} to exchange LABEL_STUDIO_API_KEY ({exc}); "
                "check LABEL_STUDIO_URL and that Label Studio is running"
            ) from None
        if response.status_code in (400, 401, 403):
            raise LabelStudioAuthError(
                f"Label Studio at {self.base_url} refused LABEL_STUDIO_API_KEY "
                f"(HTTP {response.status_code}): "
                "the Personal Access Token is expired, revoked or from another server; "
                "create a new one under Account & Settings > Personal Access Token"
            )
        if response.status_code != 200:
            raise LabelStudioAuthError(
                f"Label Studio at {self.base_url} answered HTTP {response.status_code} to the token refresh"
            )
        access = response.json().get("access")
        if not isinstance(access, str):
            raise LabelStudioAuthError(f"Label Studio at {self.base_url} returned no access token on refresh")
        claims = _jwt_payload(access) or {}
        expires = claims.get("exp")
        # Without a readable exp, assume Label Studio's default lifetime (five minutes).
        self._expires_at = float(expires) if isinstance(expires, (int, float)) else time.time() + 300.0
        self._access = access


def explain_401(base_url: str, auth: LabelStudioAuth | None, body: str) -> str:
    """One line saying why Label Studio answered 401 and what to change."""
    if auth is None:
        return (
            f"Label Studio at {base_url} needs authentication: set LABEL_STUDIO_API_KEY "
            "(Account & Settings > Personal Access Token)"
        )
    if not auth.is_pat and "legacy token" in body.lower():
        return (
            f"Label Studio at {base_url} has legacy tokens turned off, and LABEL_STUDIO_API_KEY is a "
            "legacy token: use a Personal Access Token (Account & Settings) or enable legacy tokens "
            "in Organization > API Tokens"
        )
    return (
        f"Label Studio at {base_url} refused LABEL_STUDIO_API_KEY (HTTP 401): check that the key is current"
    )
