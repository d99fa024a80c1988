"""The result of CI's Docker step (.ci/docker-check), reported in the test runner's summary.

`.ci/run` runs the Docker step before pytest and points ``GROUNDLABEL_DOCKER_STATUS`` at the
status line it wrote. Here that line becomes a test result, so the run's closing summary names
it: "passed ..." passes, "FAILED ..." fails, and "NOT RUN: <why>" (no Docker engine could start
on the machine) is a skip whose reason ``-ra`` prints, never a pass. Outside CI (no status file
named) the step did not run in this session, and the test says so the same way.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def docker_step_status() -> str | None:
    path = os.environ.get("GROUNDLABEL_DOCKER_STATUS")
    if not path:
        return None
    file = Path(path)
    return file.read_text(encoding="utf-8").strip() if file.is_file() else "FAILED (no status written)"


def test_docker_step_built_ran_and_stopped_the_image():
    status = docker_step_status()
    if status is None:
        pytest.skip("Docker step NOT RUN: it runs in .ci/run (bash .ci/docker-check)")
    if status.startswith("NOT RUN"):
        pytest.skip(f"Docker step {status}")
    assert status.startswith("passed"), f"Docker step {status}"
