"""``groundlabel --help`` and every ``groundlabel CMD --help`` answer without importing torch,
transformers, numpy or Pillow.

torch alone costs about a second to import; a help text that waits for it feels broken. numpy
and Pillow cost about 0.12 s together, half of the 0.25 s the help may take
(``benchmarks/cli_startup.py``). Each
case runs in a fresh interpreter, so a module an earlier test imported cannot hide a heavy import.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("torch", "transformers", "numpy", "PIL")

PROBE = """
import contextlib, io, json, sys
from groundlabel.cli import main
argv = json.loads(sys.argv[1])
with contextlib.redirect_stdout(io.StringIO()) as out:
    try:
        main(argv)
    except SystemExit as exc:
        code = exc.code
    else:
        code = None
print(json.dumps({"code": code, "help": out.getvalue(),
                  "heavy": [name for name in HEAVY if name in sys.modules]}))
""".replace("HEAVY", repr(HEAVY))


def _help(argv: list[str]) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(argv)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def _commands() -> list[str]:
    from groundlabel.cli import build_parser

    parser = build_parser()
    (sub,) = [action for action in parser._actions if action.dest == "command"]
    return sorted(sub.choices)


def test_every_installed_command_is_probed() -> None:
    """The core's commands and the plug-ins this environment installs (backend, desktop)."""
    commands = _commands()
    for name in ("detect", "export", "import", "calibrate", "report", "segment", "train"):
        assert name in commands
    for name in ("serve", "ls-prelabel", "review"):
        assert name in commands, f"plug-in {name} is not installed here; the startup test would miss it"


@pytest.mark.parametrize("argv", [["--help"]] + [[name, "--help"] for name in _commands()])
def test_help_imports_no_heavy_library(argv: list[str]) -> None:
    result = _help(argv)
    assert result["code"] == 0
    assert "usage: groundlabel" in result["help"]
    assert result["heavy"] == [], f"groundlabel {' '.join(argv)} imported {result['heavy']}"
