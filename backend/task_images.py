"""Fetching the image a task points at, safely.

Task data is written by whoever imports tasks, so a URL in it is untrusted: only Label
Studio's own host and an explicit allow-list are fetched (no requests to arbitrary
internal services), Label Studio's credentials are sent to Label Studio's host only,
downloads are capped in size and time, and local files never escape their root.
Cloud-storage URIs are turned into URLs by Label Studio's presign endpoint.
"""

from __future__ import annotations

import base64
import io
import logging
import time
import warnings
from pathlib import Path
from typing import BinaryIO
from urllib.parse import parse_qs, unquote, urljoin, urlsplit

import httpx
from groundlabel.backend.ls_auth import LabelStudioAuth, LabelStudioAuthError, explain_401
from groundlabel.backend.settings import BackendSettings
from PIL import Image

from groundlabel.errors import ImageLoadError
from groundlabel.images import DEFAULT_MAX_PIXELS, load_image

log = logging.getLogger(__name__)

CLOUD_SCHEMES = ("s3", "gs", "gcs", "azure-blob")
MAX_REDIRECTS = 5


def _origin(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or (443 if scheme == "https" else 80)
    return scheme, (parts.hostname or "").lower(), port


class TaskImageFetcher:
    """Resolves a task's image reference to an upright RGB image, or raises ``ImageLoadError``."""

    def __init__(self, settings: BackendSettings, auth: LabelStudioAuth | None = None) -> None:
        self.settings = settings
        self.auth = auth
        self.ls_url = settings.label_studio_url
        self._http = httpx.Client(timeout=settings.download_timeout_s, follow_redirects=False)

    def close(self) -> None:
        self._http.close()

    def fetch(self, reference: object, task_id: int | None = None) -> Image.Image:
        if not isinstance(reference, str) or not reference.strip():
            raise ImageLoadError(str(reference), "the task has no image URL under this key")
        reference = reference.strip()
        local = self._local_file(reference)
        if local is not None:
            return load_image(local)
        url, presigned = self._absolute_url(reference, task_id)
        return self._decode(reference, self._download(reference, url, presigned))

    # -- resolving -------------------------------------------------------------------------

    def _local_file(self, reference: str) -> Path | None:
        """The file behind ``/data/local-files/?d=...`` under LOCAL_FILES_DOCUMENT_ROOT, if set."""
        root = self.settings.local_files_root
        parts = urlsplit(reference)
        if root is None or not parts.path.rstrip("/").endswith("/data/local-files"):
            return None
        if parts.netloc and (self.ls_url is None or _origin(reference) != _origin(self.ls_url)):
            return None
        relative = parse_qs(parts.query).get("d", [""])[0]
        if not relative:
            raise ImageLoadError(reference, "local-files URL without ?d=<path>")
        candidate = (root / unquote(relative).lstrip("/")).resolve()
        if not candidate.is_relative_to(root):
            raise ImageLoadError(reference, f"the path leaves LOCAL_FILES_DOCUMENT_ROOT ({root}); refused")
        return candidate

    def _absolute_url(self, reference: str, task_id: int | None) -> tuple[str, bool]:
        """An http(s) URL to download, and whether it is Label Studio's presign endpoint."""
        scheme = urlsplit(reference).scheme.lower()
        if scheme in CLOUD_SCHEMES:
            if task_id is None:
                raise ImageLoadError(reference, "a cloud-storage URI needs the task id to be presigned")
            fileuri = base64.urlsafe_b64encode(reference.encode()).decode()
            return self._on_label_studio(reference, f"/tasks/{task_id}/presign/?fileuri={fileuri}"), True
        if scheme in ("http", "https"):
            return reference, "/presign/" in urlsplit(reference).path and self._is_label_studio(reference)
        if scheme:
            raise ImageLoadError(
                reference, f"{scheme}:// URLs are not supported; use http(s), s3, gs or azure-blob"
            )
        url = self._on_label_studio(reference, reference)
        return url, "/presign/" in urlsplit(url).path

    def _on_label_studio(self, reference: str, path: str) -> str:
        if not self.ls_url:
            raise ImageLoadError(
                reference,
                "this image is stored in Label Studio: set LABEL_STUDIO_URL (and LABEL_STUDIO_API_KEY) "
                "so the backend can download it",
            )
        return f"{self.ls_url}/{path.lstrip('/')}"

    def _is_label_studio(self, url: str) -> bool:
        return self.ls_url is not None and _origin(url) == _origin(self.ls_url)

    def _is_allowed(self, url: str) -> bool:
        if self._is_label_studio(url):
            return True
        _, host, port = _origin(url)
        return host in self.settings.allowed_hosts or f"{host}:{port}" in self.settings.allowed_hosts

    # -- downloading -----------------------------------------------------------------------

    def _limits(self, sink: BinaryIO | None) -> tuple[int, str, float, str]:
        """(bytes, its setting, seconds, its setting): an image's limits, or a video's with a sink."""
        if sink is None:
            return (
                self.settings.max_image_bytes, "GROUNDLABEL_MAX_IMAGE_MB",
                self.settings.download_timeout_s, "GROUNDLABEL_DOWNLOAD_TIMEOUT",
            )  # fmt: skip
        return (
            self.settings.max_video_bytes, "GROUNDLABEL_MAX_VIDEO_MB",
            self.settings.video_download_timeout_s, "GROUNDLABEL_VIDEO_DOWNLOAD_TIMEOUT",
        )  # fmt: skip

    def _download(self, reference: str, url: str, presigned: bool, sink: BinaryIO | None = None) -> bytes:
        """Follow redirects by hand so every hop is checked; a presign redirect is trusted.

        With ``sink`` (a video) the body is written there under the video limits and ``b""`` returned.
        """
        deadline = time.monotonic() + self._limits(sink)[2]
        trusted_hop = False
        for _ in range(MAX_REDIRECTS + 1):
            if urlsplit(url).scheme.lower() not in ("http", "https"):
                raise ImageLoadError(reference, f"redirected to a non-http URL {url!r}; refused")
            if not trusted_hop and not self._is_allowed(url):
                raise ImageLoadError(
                    reference,
                    f"host {urlsplit(url).hostname!r} is neither Label Studio's (LABEL_STUDIO_URL) nor in "
                    "GROUNDLABEL_ALLOWED_HOSTS; refused",
                )
            response_or_next = self._get(reference, url, deadline, sink)
            if isinstance(response_or_next, bytes):
                return response_or_next
            trusted_hop = presigned and self._is_label_studio(url)
            url = urljoin(url, response_or_next)
        raise ImageLoadError(reference, f"more than {MAX_REDIRECTS} redirects")

    def _get(self, reference: str, url: str, deadline: float, sink: BinaryIO | None = None) -> bytes | str:
        """The body, or the next URL when the answer is a redirect."""
        on_label_studio = self._is_label_studio(url)
        for attempt in range(2):
            headers = {}
            if on_label_studio and self.auth is not None:
                try:
                    headers = self.auth.header(force_refresh=attempt > 0)
                except LabelStudioAuthError as exc:
                    raise ImageLoadError(reference, str(exc)) from None
            try:
                with self._http.stream("GET", url, headers=headers) as response:
                    if (
                        response.status_code == 401
                        and on_label_studio
                        and attempt == 0
                        and self.auth
                        and self.auth.is_pat
                    ):
                        continue
                    return self._read(reference, response, deadline, sink)
            except httpx.TimeoutException:
                raise ImageLoadError(
                    reference, f"download timed out (limit {self._limits(sink)[2]:g} s)"
                ) from None
            except httpx.HTTPError as exc:
                raise ImageLoadError(
                    reference, f"download failed ({exc.__class__.__name__}: {exc})"
                ) from None
        raise AssertionError("unreachable")

    def _read(
        self, reference: str, response: httpx.Response, deadline: float, sink: BinaryIO | None = None
    ) -> bytes | str:
        if response.is_redirect:
            location = response.headers.get("location")
            if not location:
                raise ImageLoadError(reference, f"HTTP {response.status_code} without a Location")
            return location
        if response.status_code == 401:
            response.read()
            url = str(response.url)
            if self._is_label_studio(url):
                raise ImageLoadError(reference, explain_401(self.ls_url or url, self.auth, response.text))
            raise ImageLoadError(reference, "HTTP 401 from the image host")
        if response.status_code != 200:
            raise ImageLoadError(
                reference, f"HTTP {response.status_code} from {urlsplit(str(response.url)).hostname}"
            )
        limit, limit_name, seconds, seconds_name = self._limits(sink)
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise ImageLoadError(
                reference, f"{int(declared)} bytes, over the {limit} byte limit ({limit_name})"
            )
        buffer = bytearray()
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if sink is None:
                buffer.extend(chunk)
            else:
                sink.write(chunk)
            if size > limit:
                raise ImageLoadError(reference, f"more than {limit} bytes, over the limit ({limit_name})")
            if time.monotonic() > deadline:
                raise ImageLoadError(
                    reference, f"download took over {seconds:g} s (the limit is {seconds_name})"
                )
        return bytes(buffer)

    @staticmethod
    def _decode(reference: str, data: bytes) -> Image.Image:
        if not data:
            raise ImageLoadError(reference, "the download is empty")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                opened = Image.open(io.BytesIO(data))
                width, height = opened.size
                if width * height > DEFAULT_MAX_PIXELS:
                    raise ImageLoadError(reference, f"{width}x{height} is too many pixels to decode safely")
                opened.seek(0)
                opened.load()
        except ImageLoadError:
            raise
        except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as exc:
            raise ImageLoadError(
                reference, f"not an image Pillow can read ({exc.__class__.__name__}: {exc})"
            ) from None
        image = load_image(opened)
        return image
