"""The serve and ls-prelabel commands: lazy imports and one-line user errors."""

from __future__ import annotations

import os
import subprocess
import sys


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("LABEL_STUDIO_", "GROUNDLABEL_"))}
    full_env.update({"HF_HUB_OFFLINE": "1", **(env or {})})
    return subprocess.run(
        [sys.executable, "-m", "groundlabel", *args],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_building_the_cli_imports_no_web_code():
    code = (
        "import sys, groundlabel.cli as cli; cli.build_parser(); "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'fastapi', 'uvicorn', 'httpx', 'backend', "
        "'label_studio_sdk', 'starlette'}))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "[]", result.stdout + result.stderr


def test_serve_with_a_missing_model_is_one_line(tmp_path):
    result = run_cli("serve", "--model", str(tmp_path / "nothing"), "--port", "1")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"groundlabel: error: model directory {str(tmp_path / 'nothing')!r} does not exist"
    ]


def test_serve_rejects_a_bad_port_from_the_environment():
    result = run_cli("serve", env={"GROUNDLABEL_PORT": "99999"})
    assert result.returncode == 2
    assert "GROUNDLABEL_PORT: 99999 is not a port" in result.stderr and "Traceback" not in result.stderr
    # Other commands still work with a bad serve setting in the environment.
    assert run_cli("--version", env={"GROUNDLABEL_PORT": "99999"}).returncode == 0


def test_ls_prelabel_needs_url_and_key():
    no_url = run_cli("ls-prelabel", "--project", "1")
    assert no_url.returncode == 2
    assert no_url.stderr.strip().splitlines() == [
        "groundlabel: error: LABEL_STUDIO_URL is not set: export LABEL_STUDIO_URL=http://localhost:8080"
    ]
    no_key = run_cli("ls-prelabel", "--project", "1", env={"LABEL_STUDIO_URL": "http://127.0.0.1:1"})
    assert no_key.returncode == 2 and "LABEL_STUDIO_API_KEY is not set" in no_key.stderr


def test_ls_prelabel_reports_an_unreachable_label_studio_in_one_line():
    env = {"LABEL_STUDIO_URL": "http://127.0.0.1:1", "LABEL_STUDIO_API_KEY": "legacy-key"}
    result = run_cli("ls-prelabel", "--project", "1", env=env)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert "cannot reach Label Studio at http://127.0.0.1:1" in line
