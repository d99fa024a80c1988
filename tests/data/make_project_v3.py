"""Writes ``project_v3.sql``: a project made by groundlabel at commit 58ca2c3 (schema v3, masks).

Run once, with that commit's code on the path, to refresh the fixture (the test only reads
the SQL, so CI needs neither git history nor the old code)::

    git archive 58ca2c3 groundlabel | tar -x -C /tmp/gl-v3
    PYTHONPATH=/tmp/gl-v3 python tests/data/make_project_v3.py

It holds what the last image-only version wrote: images in each state (one missing),
classes, boxes of each source and status, boxes with and without masks (mask score and
model), an undo-visible id gap (a deleted box), and settings. The video migration (v4)
must open it with nothing lost.
"""

from __future__ import annotations

import sqlite3
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from groundlabel import masks
from groundlabel.project import BoxSource, BoxStatus, ImageState, ReviewProject
from groundlabel.project.schema import SCHEMA_VERSION


def main() -> None:
    assert SCHEMA_VERSION == 3, "run with the code of commit 58ca2c3 on PYTHONPATH"
    out = Path(__file__).with_name("project_v3.sql")
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
        car = project.insert_class("car", ["automobile"], "#aa3300")
        person = project.insert_class("person")
        images = {Path(i.path).name: i for i in project.images()}
        for image in images.values():
            project.ensure_image_info(image.id)
        a, b, c = images["a.png"].id, images["b.png"].id, images["c.png"].id
        pixels = np.zeros((30, 40), dtype=bool)
        pixels[3:20, 4:25] = True
        mask = masks.encode(pixels)
        project.insert_box(a, car.id, (4, 3, 25, 20), source=BoxSource.MODEL, status=BoxStatus.ACCEPTED,
                           score=0.8, model="IDEA-Research/grounding-dino-tiny", box_threshold=0.3,
                           text_threshold=0.25, mask=mask, mask_score=0.93,
                           mask_model="facebook/sam2.1-hiera-tiny")  # fmt: skip
        project.insert_box(a, person.id, (0, 0, 10, 10), source=BoxSource.MODEL, status=BoxStatus.PENDING,
                           score=0.4, model="IDEA-Research/grounding-dino-tiny")  # fmt: skip
        gone = project.insert_box(a, person.id, (1, 1, 2, 2))
        project.delete_box(gone.id)
        project.insert_box(b, person.id, (3, 4, 12, 20))  # hand-drawn, accepted
        project.insert_box(b, car.id, (1, 1, 31, 23), source=BoxSource.IMPORT, status=BoxStatus.REJECTED)
        project.set_image_state(a, ImageState.REVIEWED)
        project.set_image_state(b, ImageState.PREDICTED)
        project.set_image_state(c, ImageState.REVIEWED_EMPTY)
        project.model = "IDEA-Research/grounding-dino-tiny"
        project.set_setting("box_threshold", 0.3)
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
