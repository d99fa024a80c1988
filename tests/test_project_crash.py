"""Killing a writer at any moment loses at most the change in flight and never corrupts the database."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

from PIL import Image

from groundlabel.project import ReviewProject

BATCH = 50

WRITER = textwrap.dedent(
    f"""
    import sys
    from groundlabel.project import ReviewProject, AddBox
    project = ReviewProject.open(sys.argv[1])
    image = project.images()[0].id
    single = project.insert_class("single").id
    batch = project.insert_class("batch").id
    for step in range(100000):
        if step % 2:
            project.execute(AddBox(image, single, (0, 0, step, step)))
            print("single", flush=True)
        else:
            with project.batch():  # an import: {BATCH} boxes land together or not at all
                for k in range({BATCH}):
                    project.insert_box(image, batch, (0, 0, k, k))
            print("batch", flush=True)
    """
)


def test_sigkill_mid_write_keeps_every_committed_change(tmp_path: Path) -> None:
    Image.new("RGB", (10, 10)).save(tmp_path / "a.png")
    ReviewProject.open(tmp_path).close()
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    reported = {"single": 0, "batch": 0}
    try:
        for _ in range(80):  # let it commit some changes, then kill it without warning mid-way
            reported[writer.stdout.readline().strip()] += 1
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait()
        for line in writer.stdout:  # commits it reported before dying but we had not read yet
            reported[line.strip()] += 1
    finally:
        if writer.poll() is None:
            os.kill(writer.pid, signal.SIGKILL)
            writer.wait()
        writer.stdout.close()
    assert writer.returncode == -signal.SIGKILL

    connection = sqlite3.connect(tmp_path / ".groundlabel" / "project.db")
    assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    connection.close()
    with ReviewProject.open(tmp_path) as project:
        classes = {c.name: c.id for c in project.classes()}
        boxes = project.boxes(project.images()[0].id)
        singles = sum(1 for b in boxes if b.class_id == classes["single"])
        batched = sum(1 for b in boxes if b.class_id == classes["batch"])
    # Every reported commit survived; beyond them at most the one change in flight.
    assert reported["single"] <= singles <= reported["single"] + 1
    assert reported["batch"] * BATCH <= batched <= (reported["batch"] + 1) * BATCH
    # A batch is never half there.
    assert batched % BATCH == 0
