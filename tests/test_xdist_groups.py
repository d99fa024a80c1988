"""The run's costly session resources (one Label Studio server, the readers venv, a local Ray
cluster) are shared because conftest.xdist_group_of sends the tests that need them to one
worker. That only holds while pytest-xdist's loadgroup sees the groups: with pytest 9.2 and
xdist 3.8 it silently does not (pytest-dev/pytest-xdist#1386), and each worker starts its own
server. This test is in the "ray" group by its name; its node id must carry the group."""

from __future__ import annotations

import os

import pytest


def test_a_ray_group_test_reaches_the_scheduler_with_its_group(request):
    if not os.environ.get("PYTEST_XDIST_WORKER") or not getattr(request.config.option, "loadgroup", False):
        pytest.skip("runs under the suite's parallel run (pytest -n N --dist loadgroup); this run is not one")
    assert request.node.get_closest_marker("xdist_group").args == ("ray",)
    assert request.node.nodeid.endswith("@ray"), (
        f"{request.node.nodeid}: the xdist group did not reach the scheduler (pytest and pytest-xdist "
        "versions that do not work together; see pyproject.toml's dev extra)"
    )
