"""Front ends and third-party packages add subcommands through ``groundlabel.commands`` entry points."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PLUGIN_MODULE = """
def register(subparsers):
    parser = subparsers.add_parser("hello", help="say hello (a third-party plug-in)")
    parser.set_defaults(handler=lambda args: print("hello from a plug-in") or 0)
"""


def run_groundlabel(
    *args: str, prelude: str = "", pythonpath: Path | None = None
) -> subprocess.CompletedProcess:
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    if pythonpath:
        env["PYTHONPATH"] = str(pythonpath)
    code = f"import sys\n{prelude}\nfrom groundlabel.cli import main\nsys.exit(main({list(args)!r}))"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)


def test_help_lists_the_installed_front_end_commands():
    result = run_groundlabel("--help")
    assert result.returncode == 0
    for command in ("detect", "export", "import", "serve", "ls-prelabel", "review"):
        assert f"    {command} " in result.stdout, command


def test_a_missing_backend_extra_is_one_line_naming_it():
    result = run_groundlabel("serve", "--port", "1", prelude="sys.modules['fastapi'] = None")
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert "pip install 'groundlabel[backend]'" in line


def test_a_missing_desktop_extra_is_one_line_naming_it(tmp_path):
    result = run_groundlabel("review", str(tmp_path), prelude="sys.modules['PySide6'] = None")
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert "pip install 'groundlabel[desktop]'" in line


def install_fake_distribution(site: Path, entry_point: str) -> None:
    """A distribution as pip would leave it: a module and a dist-info with entry_points.txt."""
    (site / "hello_plugin.py").write_text(PLUGIN_MODULE)
    info = site / "hello_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: hello-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[groundlabel.commands]\nhello = {entry_point}\n")


def test_a_third_party_plugin_adds_its_command(tmp_path):
    install_fake_distribution(tmp_path, "hello_plugin:register")
    assert "hello" in run_groundlabel("--help", pythonpath=tmp_path).stdout
    result = run_groundlabel("hello", pythonpath=tmp_path)
    assert result.returncode == 0 and result.stdout.strip() == "hello from a plug-in"


def test_a_broken_plugin_costs_only_its_own_command(tmp_path):
    install_fake_distribution(tmp_path, "hello_plugin:no_such_function")
    result = run_groundlabel("--help", pythonpath=tmp_path)
    assert result.returncode == 0 and "    detect " in result.stdout and "    serve " in result.stdout
    assert "plug-in command 'hello'" in result.stderr and "Traceback" not in result.stderr
