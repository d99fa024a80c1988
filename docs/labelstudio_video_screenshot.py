"""Take docs/images/labelstudio-video.png: a Label Studio video task with groundlabel's tracks.

Re-run with ``python docs/labelstudio_video_screenshot.py`` (about two minutes). Like
``labelstudio_masks_screenshot.py`` (whose Chromium driver it reuses) it starts what the
backend tests start (``tests/labelstudio_server.py``): Label Studio 1.23.2 on 127.0.0.1
(``GROUNDLABEL_TEST_LABEL_STUDIO_VENV`` names an installed one, else it is installed into a
temp folder) and ``groundlabel serve`` with a tiny random detector (no weights can be
downloaded here: its boxes mean nothing, only the way Label Studio shows the tracks does). The
clip is the synthetic one of the tracking tests (``groundlabel.devtools.synthetic_video``),
served from a local-files storage; retrieving predictions runs detection and ByteTrack on
every frame and stores one ``videorectangle`` track per object. Headless Chromium (Debian's
``chromium`` package) opens the task once the video has loaded. Everything lives in a temp
folder; every process started is stopped by its PID.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "docs"))

from labelstudio_masks_screenshot import screenshot  # noqa: E402  (one Chromium driver)
from labelstudio_server import install_label_studio, start_backend, start_label_studio  # noqa: E402

CONFIG = """
<View>
  <Labels name="videoLabels" toName="video" allowEmpty="true">
    <Label value="square" background="#1f77b4"/>
    <Label value="disc" background="#ff7f0e"/>
  </Labels>
  <Video name="video" value="$video" framerate="10"/>
  <VideoRectangle name="box" toName="video"/>
</View>
"""
# The tiny random detector scores nearly every box above 0.99; ByteTrack starts a track only at
# the box threshold + 0.1, so 0.89 keeps the boxes above 0.99 as tracks.
BOX_THRESHOLD = "0.89"
LENGTH = 30  # frames at 10 fps: a 3 s clip whose tracks fill the timeline


# The video editor is up when its video has a decoded frame and the regions' canvas exists.
VIDEO_READY = (
    "(() => { const v = document.querySelector('video'); "
    "return !!v && v.readyState >= 2 && document.querySelectorAll('canvas').length > 0; })()"
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "images" / "labelstudio-video.png")
    parser.add_argument("--chromium", default="chromium", help="Chromium binary (default: %(default)s)")
    args = parser.parse_args()

    from groundlabel.devtools.random_model import save_random_model
    from groundlabel.devtools.synthetic_video import standard_clip, write_clip

    with tempfile.TemporaryDirectory(prefix="groundlabel-screenshot-") as temp:
        base = Path(temp)
        model = save_random_model(base / "detector")
        label_studio = start_label_studio(install_label_studio(base), base)
        backend = None
        try:
            label_studio.set_legacy_tokens(False)
            folder = label_studio.files_root / "videos"
            write_clip(standard_clip(width=640, height=480, length=LENGTH, seed=5), folder / "shapes.mp4")
            project_id = label_studio.create_project("groundlabel video", CONFIG)
            storage = {
                "project": project_id,
                "path": str(folder),
                "regex_filter": "^$",
                "use_blob_urls": True,
            }
            label_studio.api("POST", "/api/storages/localfiles/", json=storage)
            reference = "/data/local-files/?d=videos/shapes.mp4"
            label_studio.api("POST", f"/api/projects/{project_id}/import", json=[{"video": reference}])
            env = {"LABEL_STUDIO_URL": label_studio.url, "LABEL_STUDIO_API_KEY": label_studio.pat}
            thresholds = ("--box-threshold", BOX_THRESHOLD, "--text-threshold", "0")
            backend = start_backend(model, base / "backend.log", env, *thresholds)
            label_studio.connect_backend(project_id, backend.url, is_interactive=True)
            label_studio.retrieve_predictions(project_id)
            (task,) = label_studio.tasks(project_id)
            (prediction,) = label_studio.predictions(task["id"])
            if not prediction["result"]:
                raise SystemExit("no track stored; the backend said:\n" + backend.log.read_text()[-3000:])
            print(f"{len(prediction['result'])} track(s) stored for the {LENGTH}-frame clip")
            screenshot(
                label_studio.url,
                f"/projects/{project_id}/data?task={task['id']}",
                args.out,
                args.chromium,
                base / "chromium",
                VIDEO_READY,
            )
        finally:
            if backend is not None:
                backend.close()
            label_studio.close()
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
