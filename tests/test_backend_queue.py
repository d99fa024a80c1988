"""The persistent background queue: survives reopening, one claimant per task, stale claims freed."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import pytest
from groundlabel.backend.task_queue import QueueFullError, TaskQueue


def test_tasks_survive_reopening_and_duplicates_are_ignored(tmp_path):
    queue = TaskQueue(tmp_path, "v1")
    assert queue.add(3, [1, 2, 3]) == 3
    assert queue.add(3, [2, 3, 4]) == 1  # a task is queued once per model version
    queue.close()  # as after a crash: nothing but the file is left

    again = TaskQueue(tmp_path, "v1")
    assert again.length() == 4
    assert TaskQueue(tmp_path, "v2").length() == 0  # another model version has its own rows
    assert again.claim(limit=3) == (3, [1, 2, 3])
    again.done([1, 2])
    again.release()
    assert again.claim(limit=10) == (3, [3, 4])


def test_two_replicas_never_claim_the_same_task(tmp_path):
    first, second = TaskQueue(tmp_path, "v1"), TaskQueue(tmp_path, "v1")
    first.add(1, list(range(10)))
    first.add(2, [100])
    assert first.claim(limit=6) == (1, [0, 1, 2, 3, 4, 5])
    assert second.claim(limit=6) == (1, [6, 7, 8, 9])
    assert second.claim(limit=6) == (2, [100])
    assert first.claim() is None and second.claim() is None
    second.release([6, 7])
    assert first.claim() == (1, [6, 7])


def test_claims_of_a_silent_worker_become_free(tmp_path):
    dead, alive = TaskQueue(tmp_path, "v1"), TaskQueue(tmp_path, "v1")
    dead.add(1, [1, 2])
    assert dead.claim() == (1, [1, 2])
    assert alive.claim() is None
    with sqlite3.connect(tmp_path / "queue.db") as db:  # its heartbeat stopped a minute ago
        db.execute("UPDATE workers SET heartbeat = heartbeat - 60 WHERE owner = ?", (dead.owner,))
    assert alive.claim() == (1, [1, 2])


def test_claims_of_an_exited_process_on_this_host_are_free_at_once(tmp_path):
    code = (
        "import sys; from pathlib import Path; from groundlabel.backend.task_queue import TaskQueue;"
        "q = TaskQueue(Path(sys.argv[1]), 'v1'); q.add(1, [7, 8]); print(q.claim())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "(1, [7, 8])"
    assert TaskQueue(tmp_path, "v1").claim() == (1, [7, 8])


def test_a_full_queue_refuses_with_a_message(tmp_path):
    queue = TaskQueue(tmp_path, "v1", max_tasks=5)
    queue.add(1, [1, 2, 3])
    with pytest.raises(QueueFullError, match="GROUNDLABEL_QUEUE_MAX"):
        queue.add(1, [4, 5, 6])
    assert queue.length() == 3  # nothing of the refused batch was stored


def test_many_ids_are_stored_on_disk(tmp_path):
    queue = TaskQueue(tmp_path, "v1")
    assert queue.add(1, range(200_000)) == 200_000
    assert queue.length() == 200_000
    assert (tmp_path / "queue.db").stat().st_size + (tmp_path / "queue.db-wal").stat().st_size < 30e6
