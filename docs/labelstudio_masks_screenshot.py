"""Take docs/images/labelstudio-masks.png: Label Studio showing groundlabel's mask predictions.

Re-run with ``python docs/labelstudio_masks_screenshot.py`` (about two minutes). It starts
what the backend tests start (``tests/labelstudio_server.py``): Label Studio 1.23.2 on
127.0.0.1 (``GROUNDLABEL_TEST_LABEL_STUDIO_VENV`` names an installed one, else it is
installed into a temp folder), ``groundlabel serve --masks`` with tiny random models (no
weights can be downloaded here: the masks are a random SAM's and mean nothing, only the
way Label Studio shows them does), retrieves predictions for one photo, logs into Label
Studio's web page and takes the screenshot with headless Chromium (Debian's ``chromium``
package) driven over the DevTools protocol on a pipe, so nothing beyond the standard
library and httpx is needed. Everything lives in a temp folder; every process started is
stopped by its PID.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from labelstudio_server import (  # noqa: E402  (the tests' helpers, on purpose: the same servers)
    PASSWORD,
    USERNAME,
    install_label_studio,
    start_backend,
    start_label_studio,
    stop_process,
)

CONFIG = """
<View>
  <Image name="image" value="$image" zoom="true"/>
  <RectangleLabels name="box" toName="image">
    <Label value="Cat" background="#1f77b4"/><Label value="Astronaut" background="#2ca02c"/>
  </RectangleLabels>
  <BrushLabels name="brush" toName="image">
    <Label value="Cat" background="#ff7f0e"/><Label value="Astronaut" background="#d62728"/>
  </BrushLabels>
  <KeyPointLabels name="click" toName="image" smart="true">
    <Label value="Cat" smart="true"/><Label value="Astronaut" smart="true"/>
  </KeyPointLabels>
</View>
"""
PHOTO = REPO / "assets" / "reference" / "photos" / "chelsea.png"
# The tiny random detector scores nearly every box ~0.9999; this keeps its top few.
BOX_THRESHOLD = "0.99995"


class DevTools:
    """Chromium's DevTools protocol over ``--remote-debugging-pipe`` (NUL-separated JSON)."""

    def __init__(self, chromium: str, width: int, height: int, profile: Path) -> None:
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()

        def as_fds_3_and_4() -> None:
            read, write = os.dup(to_browser_r), os.dup(from_browser_w)
            os.dup2(read, 3)
            os.dup2(write, 4)
            os.set_inheritable(3, True)
            os.set_inheritable(4, True)

        self.process = subprocess.Popen(
            [
                chromium,
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                "--remote-debugging-pipe",
                f"--user-data-dir={profile}",
                f"--window-size={width},{height}",
                "about:blank",
            ],
            preexec_fn=as_fds_3_and_4,
            close_fds=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next_id = 0
        self.session = ""

    def call(self, method: str, session: bool = True, **params: Any) -> dict:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session and self.session:
            message["sessionId"] = self.session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        while True:
            while b"\0" not in self._buffer:
                chunk = os.read(self._from_browser, 1 << 20)
                if not chunk:
                    raise RuntimeError("chromium closed the DevTools pipe")
                self._buffer += chunk
            raw, self._buffer = self._buffer.split(b"\0", 1)
            reply = json.loads(raw)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def open_page(self) -> None:
        targets = self.call("Target.getTargets", session=False)["targetInfos"]
        page = next(t for t in targets if t["type"] == "page")
        self.session = self.call(
            "Target.attachToTarget", session=False, targetId=page["targetId"], flatten=True
        )["sessionId"]
        self.call("Page.enable")
        self.call("Network.enable")

    def evaluate(self, expression: str) -> Any:
        return self.call("Runtime.evaluate", expression=expression, returnByValue=True)["result"].get("value")

    def close(self) -> None:
        os.close(self._to_browser)
        os.close(self._from_browser)
        stop_process(self.process, 10)


def session_cookie(url: str) -> dict[str, str]:
    """Django's session cookies for the test user, from Label Studio's own login form."""
    with httpx.Client(base_url=url, timeout=30, follow_redirects=False) as client:
        form = client.get("/user/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
        assert token, "no CSRF token on Label Studio's login page"
        answer = client.post(
            "/user/login/",
            data={"email": USERNAME, "password": PASSWORD, "csrfmiddlewaretoken": token.group(1)},
            headers={"Referer": f"{url}/user/login/"},
        )
        assert answer.status_code in (302, 303) and "sessionid" in client.cookies, answer.text[:500]
        return dict(client.cookies)


# The image editor is up when its canvas is drawn.
IMAGE_READY = "document.querySelectorAll('canvas').length > 0"


def screenshot(
    url: str, page: str, out: Path, chromium: str, profile: Path, ready: str = IMAGE_READY
) -> None:
    """Open ``page`` in Label Studio's editor, logged in, and save it once ``ready`` (a JS expression) holds.

    The video script calls this too, with its own ``ready``; the 8 s after it let the predictions
    load and be painted (brush masks are decoded after the image, tracks after the video).
    """
    tools = DevTools(chromium, 1440, 900, profile)
    try:
        tools.open_page()
        host = httpx.URL(url).host
        for name, value in session_cookie(url).items():
            tools.call("Network.setCookie", name=name, value=value, domain=host, path="/")
        tools.call(
            "Emulation.setDeviceMetricsOverride", width=1440, height=900, deviceScaleFactor=1, mobile=False
        )
        tools.call("Page.navigate", url=f"{url}{page}")
        deadline = time.monotonic() + 120
        while not tools.evaluate(ready):
            if time.monotonic() > deadline:
                raise RuntimeError("Label Studio's editor did not show up within 120 s")
            time.sleep(1)
        time.sleep(8)
        shot = tools.call("Page.captureScreenshot", format="png")["data"]
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(base64.b64decode(shot))
    finally:
        tools.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "images" / "labelstudio-masks.png")
    parser.add_argument("--chromium", default="chromium", help="Chromium binary (default: %(default)s)")
    args = parser.parse_args()

    from groundlabel.devtools.random_model import save_random_model
    from groundlabel.devtools.random_segmenters import save_random_segmenter

    with tempfile.TemporaryDirectory(prefix="groundlabel-screenshot-") as temp:
        base = Path(temp)
        model = save_random_model(base / "detector")
        sam = save_random_segmenter("sam", base / "sam")
        label_studio = start_label_studio(install_label_studio(base), base)
        backend = None
        try:
            label_studio.set_legacy_tokens(False)
            project_id = label_studio.create_project("groundlabel masks", CONFIG)
            label_studio.upload(project_id, PHOTO)
            env = {"LABEL_STUDIO_URL": label_studio.url, "LABEL_STUDIO_API_KEY": label_studio.pat}
            thresholds = ("--box-threshold", BOX_THRESHOLD, "--text-threshold", "0")
            backend = start_backend(model, base / "backend.log", env, *thresholds, "--masks", str(sam))
            label_studio.connect_backend(project_id, backend.url, is_interactive=True)
            label_studio.retrieve_predictions(project_id)
            (task,) = label_studio.tasks(project_id)
            assert label_studio.predictions(task["id"]), "no prediction stored"
            screenshot(
                label_studio.url,
                f"/projects/{project_id}/data?task={task['id']}",
                args.out,
                args.chromium,
                base / "chromium",
            )
        finally:
            if backend is not None:
                backend.close()
            label_studio.close()
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
