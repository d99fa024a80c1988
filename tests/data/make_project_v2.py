"""Writes ``project_v2.sql``: a project made by groundlabel at commit 3a42f32 (schema v2).

Run once, with that commit's code on the path, to refresh the fixture (the test only reads
the SQL, so CI needs neither git history nor the old code)::

    git archive 3a42f32 groundlabel | tar -x -C /tmp/gl-v2
    PYTHONPATH=/tmp/gl-v2 python tests/data/make_project_v2.py

It holds every kind of row the old code wrote: images in each state (one missing), classes
with aliases and colours, boxes of each source and status (one auto-accepted) with scores,
models and thresholds, and settings.
"""

from __future__ import annotations

import sqlite3
import sys
import tempfile
from pathlib import Path

from PIL import Image

from groundlabel.project import BoxSource, BoxStatus, ImageState, ReviewProject
from groundlabel.project.schema import SCHEMA_VERSION


def main() -> None:
    assert SCHEMA_VERSION == 2, "run with the code of commit 3a42f32 on PYTHONPATH"
    out = Path(__file__).with_name("project_v2.sql")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name, size in [
            ("a.png", (40, 30)),
            ("b.png", (32, 24)),
            ("c.png", (16, 16)),
            ("gone.png", (8, 8)),
        ]:
            Image.new("RGB", size, (10, 20, 30)).save(folder / name)
        project = ReviewProject.open(folder)
        cat = project.insert_class("cat", ["kitty", "tabby cat"], "#112233")
        dog = project.insert_class("dog")
        images = {Path(i.path).name: i for i in project.images()}
        for image in images.values():
            project.ensure_image_info(image.id)
        a, b, c = images["a.png"].id, images["b.png"].id, images["c.png"].id
        project.insert_box(a, cat.id, (1.5, 2, 20, 25), source=BoxSource.MODEL, status=BoxStatus.PENDING,
                           score=0.41, model="IDEA-Research/grounding-dino-tiny", box_threshold=0.3,
                           text_threshold=0.25)  # fmt: skip
        project.insert_box(a, dog.id, (5, 5, 30, 28), source=BoxSource.MODEL, status=BoxStatus.ACCEPTED,
                           score=0.9, model="google/owlv2-base-patch16-ensemble", box_threshold=0.1,
                           auto_accepted=True)  # fmt: skip
        project.insert_box(a, cat.id, (0, 0, 10, 10), source=BoxSource.MODEL, status=BoxStatus.REJECTED,
                           score=0.2, model="IDEA-Research/grounding-dino-tiny")  # fmt: skip
        project.insert_box(b, dog.id, (3, 4, 12, 20))  # hand-drawn, accepted
        project.insert_box(b, cat.id, (1, 1, 31, 23), source=BoxSource.IMPORT, status=BoxStatus.ACCEPTED)
        project.set_image_state(a, ImageState.REVIEWED)
        project.set_image_state(b, ImageState.PREDICTED)
        project.set_image_state(c, ImageState.REVIEWED_EMPTY)
        project.model = "IDEA-Research/grounding-dino-tiny"
        project.set_setting("box_threshold", 0.3)
        project.set_setting("class_thresholds", {"cat": 0.45})
        project.close()
        (folder / "gone.png").unlink()
        ReviewProject.open(folder).close()  # the rescan marks gone.png missing
        connection = sqlite3.connect(folder / ".groundlabel" / "project.db")
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        lines = [f"PRAGMA user_version = {version};", *connection.iterdump()]
        connection.close()
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {out} (schema v{version})", file=sys.stderr)


if __name__ == "__main__":
    main()
