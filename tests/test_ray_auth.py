"""Joining a token-protected Ray cluster without its token: one clear line, not 40 s of warnings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# Imported before Ray: it puts the test cluster's token in the environment Ray reads.
from ray_cluster import HEAD_IP, OBJECT_STORE_BYTES, TwoNodeCluster, _node_ports, short_temp_dir  # isort: skip

pytestmark = pytest.mark.slow  # a Ray head with a token

pytest.importorskip("ray", reason="the ray extra is part of .[all]; CI installs it")

PHOTO = Path(__file__).resolve().parents[1] / "assets" / "reference" / "photos" / "chelsea.png"


@pytest.fixture(scope="module")
def token_head(tmp_path_factory: pytest.TempPathFactory):
    """A one-node cluster with token authentication (the test token of ``ray_cluster``)."""
    cluster = TwoNodeCluster(short_temp_dir(tmp_path_factory))
    cluster.temp_dir.mkdir(parents=True, exist_ok=True)
    head = [
        "--head",
        "--node-ip-address",
        HEAD_IP,
        "--port",
        str(cluster.port),
        "--include-dashboard",
        "false",
    ]
    head += ["--temp-dir", str(cluster.temp_dir), "--num-cpus", "1", "--num-gpus", "0"]
    head += ["--object-store-memory", str(OBJECT_STORE_BYTES), *_node_ports(HEAD_IP)]
    try:
        cluster._start("head", head)
        cluster.wait_for_nodes(1)
        yield cluster
    finally:
        assert cluster.stop() == [], "the cluster left processes running"


@pytest.mark.parametrize("token", [None, "0" * 64], ids=["no-token", "wrong-token"])
def test_a_missing_or_wrong_token_is_one_clear_line(token_head, tiny_model_dir, tmp_path, token):
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_AUTH")}
    env.update(HOME=str(tmp_path), HF_HUB_OFFLINE="1")  # no ~/.ray/auth_token of the user's
    if token:
        env["RAY_AUTH_TOKEN"] = token
    command = [sys.executable, "-m", "groundlabel", "detect", str(PHOTO), "-l", "cat"]
    command += ["--model", str(tiny_model_dir), "-o", str(tmp_path / "out.json")]
    command += ["--ray", "--address", token_head.address]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr[-3000:]
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr[-3000:]  # no InvalidAuthToken warning per retry
    assert "uses token authentication" in lines[0] and token_head.address in lines[0]
    assert "ray get-auth-token" in lines[0] and "RAY_AUTH_TOKEN" in lines[0]
    assert ("refused the token" in lines[0]) == bool(token)
    assert not (tmp_path / "out.json").exists()
