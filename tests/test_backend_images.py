"""Task image fetching against fake servers: what a real Label Studio can't easily show.

Presigned cloud storage, access-token expiry and 401s, and hostile task data (other
hosts, huge or slow downloads). The servers run in this process on 127.0.0.1 and are
shut down by the fixtures.
"""

from __future__ import annotations

import base64
import io
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from groundlabel.backend.ls_auth import LabelStudioAuth
from groundlabel.backend.settings import BackendSettings
from groundlabel.backend.task_images import TaskImageFetcher
from PIL import Image

from groundlabel.errors import ImageLoadError

PAT = "x.eyJ0b2tlbl90eXBlIjoicmVmcmVzaCJ9.sig"  # a JWT-shaped refresh token


def png_bytes(size=(40, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def make_jwt(claims: dict) -> str:
    def encode(part: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(part).encode()).decode().rstrip("=")

    return f"{encode({'alg': 'HS256'})}.{encode(claims)}.signature"


class FakeServer:
    """A threaded HTTP server whose handler is a method of this object; it records requests."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, str | None]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_GET(self):
                owner.requests.append(("GET", self.path, self.headers.get("Authorization")))
                owner.handle(self)

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                self.body = json.loads(self.rfile.read(length) or b"{}")
                owner.requests.append(("POST", self.path, self.headers.get("Authorization")))
                owner.handle(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)

    @staticmethod
    def send(request, status: int, body: bytes = b"", headers: dict | None = None) -> None:
        request.send_response(status)
        for key, value in (headers or {}).items():
            request.send_header(key, value)
        if "Content-Length" not in (headers or {}):
            request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)


class FakeStorage(FakeServer):
    """A cloud bucket behind a presigned URL: it must never see Label Studio's token."""

    def handle(self, request):
        if urlsplit(request.path).path == "/bucket/cat.png":
            self.send(request, 200, png_bytes((64, 48)), {"Content-Type": "image/png"})
        else:
            self.send(request, 404)


class FakeLabelStudio(FakeServer):
    """Label Studio's token refresh, uploads, presign endpoint and some hostile URLs."""

    def __init__(self, storage: FakeStorage) -> None:
        super().__init__()
        self.storage = storage
        self.access_lifetime_s = 300.0
        self.valid_access: set[str] = set()
        self.refreshes = 0
        self.legacy_enabled = True

    def authorized(self, request) -> bool:
        header = request.headers.get("Authorization") or ""
        if header == "Token legacy-key":
            return self.legacy_enabled
        return header.startswith("Bearer ") and header[7:] in self.valid_access

    def handle(self, request):
        parts = urlsplit(request.path)
        if parts.path == "/api/token/refresh/":
            if request.body.get("refresh") != PAT:
                return self.send(request, 401, b'{"detail": "Token is invalid or expired"}')
            self.refreshes += 1
            access = make_jwt(
                {"token_type": "access", "exp": time.time() + self.access_lifetime_s, "n": self.refreshes}
            )
            self.valid_access.add(access)
            return self.send(request, 200, json.dumps({"access": access}).encode())
        if parts.path == "/slow.png":
            request.send_response(200)
            request.send_header("Content-Length", "100000")
            request.end_headers()
            for _ in range(100):
                request.wfile.write(b"x" * 10)
                request.wfile.flush()
                time.sleep(0.05)
            return None
        if parts.path == "/huge.png":
            return self.send(request, 200, b"", {"Content-Length": str(10**10)})
        if parts.path == "/endless.png":
            request.send_response(200)
            request.send_header("Transfer-Encoding", "chunked")
            request.end_headers()
            chunk = b"y" * 65536
            try:
                for _ in range(64):
                    request.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                request.wfile.write(b"0\r\n\r\n")
            except OSError:
                pass
            return None
        if parts.path == "/away":
            return self.send(request, 302, headers={"Location": "http://169.254.169.254/latest/meta-data"})
        if not self.authorized(request):
            body = b'{"detail": "Authentication credentials were not provided."}'
            if (request.headers.get("Authorization") or "").startswith("Token") and not self.legacy_enabled:
                body = b'{"detail": "legacy token authentication has been disabled for this organization"}'
            return self.send(request, 401, body)
        if parts.path.startswith("/data/upload/"):
            return self.send(request, 200, png_bytes(), {"Content-Type": "image/png"})
        if parts.path == "/tasks/5/presign/":
            fileuri = base64.urlsafe_b64decode(parse_qs(parts.query)["fileuri"][0]).decode()
            assert fileuri == "s3://bucket/cat.png"
            return self.send(
                request, 303, headers={"Location": f"{self.storage.url}/bucket/cat.png?X-Sig=abc"}
            )
        return self.send(request, 404)


@pytest.fixture
def storage():
    server = FakeStorage()
    yield server
    server.close()


@pytest.fixture
def label_studio(storage):
    server = FakeLabelStudio(storage)
    yield server
    server.close()


def fetcher_for(label_studio: FakeLabelStudio, api_key: str = PAT, **overrides) -> TaskImageFetcher:
    settings = BackendSettings(label_studio_url=label_studio.url, api_key=api_key, **overrides)
    return TaskImageFetcher(settings, LabelStudioAuth(label_studio.url, api_key))


def test_upload_is_fetched_with_a_refreshed_pat_access_token(label_studio):
    image = fetcher_for(label_studio).fetch("/data/upload/1/a.png", task_id=1)
    assert image.size == (40, 30) and image.mode == "RGB"
    assert label_studio.refreshes == 1
    (download,) = [r for r in label_studio.requests if r[1].startswith("/data/upload/")]
    assert download[2].startswith("Bearer ") and PAT not in download[2]


def test_access_token_is_refreshed_before_it_expires(label_studio):
    label_studio.access_lifetime_s = 31.0  # inside the 30 s safety margin after one second
    fetcher = fetcher_for(label_studio)
    fetcher.fetch("/data/upload/1/a.png")
    fetcher.fetch("/data/upload/1/a.png")
    assert label_studio.refreshes == 1
    time.sleep(1.2)
    fetcher.fetch("/data/upload/1/a.png")
    assert label_studio.refreshes == 2


def test_a_401_refreshes_once_and_retries(label_studio):
    fetcher = fetcher_for(label_studio)
    fetcher.fetch("/data/upload/1/a.png")
    label_studio.valid_access.clear()  # e.g. Label Studio restarted with a new secret
    assert fetcher.fetch("/data/upload/1/b.png").size == (40, 30)
    assert label_studio.refreshes == 2


def test_wrong_pat_is_one_clear_message(label_studio):
    wrong = "x.eyJ0b2tlbl90eXBlIjoicmVmcmVzaCJ9.other"
    with pytest.raises(ImageLoadError, match="refused LABEL_STUDIO_API_KEY"):
        fetcher_for(label_studio, api_key=wrong).fetch("/data/upload/1/a.png")


def test_legacy_token_is_sent_as_token_and_explained_when_disabled(label_studio):
    fetcher = fetcher_for(label_studio, api_key="legacy-key")
    assert fetcher.fetch("/data/upload/1/a.png").size == (40, 30)
    assert label_studio.requests[-1][2] == "Token legacy-key"
    label_studio.legacy_enabled = False
    with pytest.raises(ImageLoadError, match=r"legacy tokens turned off.*Personal Access Token"):
        fetcher.fetch("/data/upload/1/a.png")


def test_cloud_uri_goes_through_presign_and_the_token_stays_with_label_studio(label_studio, storage):
    image = fetcher_for(label_studio).fetch("s3://bucket/cat.png", task_id=5)
    assert image.size == (64, 48)
    assert [r[1].split("?")[0] for r in storage.requests] == ["/bucket/cat.png"]
    assert storage.requests[0][2] is None, "Label Studio's token must not reach the storage host"


def test_other_hosts_are_refused_unless_allowed(label_studio, storage):
    fetcher = fetcher_for(label_studio)
    with pytest.raises(ImageLoadError, match="GROUNDLABEL_ALLOWED_HOSTS"):
        fetcher.fetch(f"{storage.url}/bucket/cat.png")
    assert storage.requests == []
    host_port = storage.url.removeprefix("http://")
    allowed = fetcher_for(label_studio, allowed_hosts=(host_port,))
    assert allowed.fetch(f"{storage.url}/bucket/cat.png").size == (64, 48)
    assert storage.requests[-1][2] is None, "no token for an allowed foreign host"


def test_redirect_to_an_internal_address_is_refused(label_studio):
    with pytest.raises(ImageLoadError, match=r"169\.254\.169\.254"):
        fetcher_for(label_studio).fetch("/away")


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/a.png"])
def test_non_http_schemes_are_refused(label_studio, url):
    with pytest.raises(ImageLoadError, match="not supported"):
        fetcher_for(label_studio).fetch(url)


def test_huge_downloads_are_cut_off(label_studio):
    fetcher = fetcher_for(label_studio, max_image_bytes=1_000_000)
    with pytest.raises(ImageLoadError, match="byte limit"):
        fetcher.fetch("/huge.png")
    with pytest.raises(ImageLoadError, match="over the limit"):
        fetcher.fetch("/endless.png")


def test_slow_downloads_are_cut_off(label_studio):
    fetcher = fetcher_for(label_studio, download_timeout_s=0.5)
    with pytest.raises(ImageLoadError, match=r"download (took over|timed out)"):
        fetcher.fetch("/slow.png")


def test_relative_urls_need_label_studio_url(tmp_path: Path):
    fetcher = TaskImageFetcher(BackendSettings())
    with pytest.raises(ImageLoadError, match="set LABEL_STUDIO_URL"):
        fetcher.fetch("/data/upload/1/a.png")
    with pytest.raises(ImageLoadError, match="no image URL"):
        fetcher.fetch(None)


def test_local_files_are_read_from_the_root(tmp_path: Path):
    (tmp_path / "images").mkdir()
    Image.new("RGB", (10, 20)).save(tmp_path / "images" / "a b.png")
    fetcher = TaskImageFetcher(BackendSettings(local_files_root=tmp_path))
    assert fetcher.fetch("/data/local-files/?d=images/a%20b.png").size == (10, 20)
    assert fetcher.fetch("/data/local-files?d=images/a b.png").size == (10, 20)
    for escape in ("../etc/passwd", "images/../../x.png", "/etc/passwd"):
        with pytest.raises(ImageLoadError):
            fetcher.fetch(f"/data/local-files/?d={escape}")
