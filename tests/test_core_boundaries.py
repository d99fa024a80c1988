"""The core stays free of Qt, web code, CVAT's SDK and its own front ends.

The front ends (backend, desktop, cvat) build on the core and the core's CLI runs without them;
front ends reach the
CLI only through the ``groundlabel.commands`` entry points, so the arrows point one way.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

CORE_DIR = Path(__file__).resolve().parents[1] / "groundlabel"

FRONT_END_PACKAGES = {
    "PySide6",
    "shiboken6",
    "fastapi",
    "starlette",
    "uvicorn",
    "httpx",
    "backend",
    "desktop",
    "cvat",
    # CVAT's SDK is the cvat front end's; the mask codec imports it only inside to_cvat_mask.
    "cvat_sdk",
    "cvat_cli",
}
# A module path of a front end, as an import, an importlib string or an entry point value.
FRONT_END_MODULE = re.compile(r"^(groundlabel\.)?(backend|desktop|cvat)(\.[\w.]+)?(:\w+)?$")
FRONT_END_TEXT = re.compile(r"groundlabel\.(backend|desktop|cvat)\b")

IMPORT_EVERY_CORE_MODULE = """
import json, pkgutil, importlib, sys
import groundlabel
names = [m.name for m in pkgutil.walk_packages(groundlabel.__path__, "groundlabel.") if not m.name.endswith("__main__")]
for name in names:
    importlib.import_module(name)
print(json.dumps({"modules": names, "loaded": sorted({m.split(".")[0] for m in sys.modules}),
                  "groundlabel": sorted(m for m in sys.modules if m.startswith("groundlabel."))}))
"""


def test_importing_every_core_module_loads_no_front_end_code():
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_EVERY_CORE_MODULE], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert "groundlabel.detector" in report["modules"] and "groundlabel.project.store" in report["modules"]
    assert FRONT_END_PACKAGES.isdisjoint(report["loaded"]), FRONT_END_PACKAGES & set(report["loaded"])
    front_ends = [
        m
        for m in report["groundlabel"]
        if m.startswith(("groundlabel.backend", "groundlabel.desktop", "groundlabel.cvat"))
    ]
    assert front_ends == []


def front_end_references(source: str) -> list[str]:
    """Every place a module names a front end: imports (lazy ones too), module strings, any text."""
    found = [f"text: {m.group(0)}" for m in FRONT_END_TEXT.finditer(source)]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [f"import {a.name}" for a in node.names if FRONT_END_MODULE.match(a.name)]
        elif (
            isinstance(node, ast.ImportFrom) and node.level == 0 and FRONT_END_MODULE.match(node.module or "")
        ):
            found.append(f"from {node.module} import")
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and FRONT_END_MODULE.match(node.value)
        ):
            found.append(f"string {node.value!r}")
    return found


def test_no_core_module_names_a_front_end():
    modules = sorted(CORE_DIR.rglob("*.py"))
    assert len(modules) > 30
    offenders = {str(p.relative_to(CORE_DIR)): front_end_references(p.read_text()) for p in modules}
    assert {name: refs for name, refs in offenders.items() if refs} == {}


def test_the_scan_catches_every_way_of_naming_a_front_end():
    """The scan above would fail on each of these, so a clean result means something."""
    for source in [
        "import backend.app",
        "from desktop.app import run_app",
        "def f():\n    from groundlabel.backend import server\n",
        "import importlib\nimportlib.import_module('groundlabel.desktop.app')",
        "X = 'groundlabel.backend.serve_cli:register'",
        "# see groundlabel.desktop for the window",
        "from groundlabel.cvat import create",
        "import cvat.function",
    ]:
        assert front_end_references(source), source
    assert (
        front_end_references('"""The backend and the desktop build on the core."""\nx = "backend-ish"') == []
    )


def imported_modules(source: str) -> set[str]:
    """Every ``groundlabel...`` module a source imports, at the top or inside functions."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("groundlabel.")}
        elif (
            isinstance(node, ast.ImportFrom)
            and node.level == 0
            and (node.module or "").startswith("groundlabel.")
        ):
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}  # a submodule imported by name
    return found


def cli_import_cycles() -> list[list[str]]:
    """Cycles among the CLI's modules (lazy imports count: they are knots all the same)."""
    cli_dir = CORE_DIR / "cli"
    modules = {f"groundlabel.cli.{p.stem}": p for p in cli_dir.glob("*.py") if p.stem != "__init__"}
    graph = {name: imported_modules(path.read_text()) & set(modules) for name, path in modules.items()}
    cycles: list[list[str]] = []

    def visit(name: str, trail: list[str]) -> None:
        for target in sorted(graph[name]):
            if target in trail:
                cycle = trail[trail.index(target) :]
                if min(cycle) == cycle[0]:  # each cycle once, from its smallest name
                    cycles.append(cycle)
            else:
                visit(target, [*trail, target])

    for name in sorted(graph):
        visit(name, [name])
    return cycles


def test_the_cli_modules_import_each_other_without_cycles():
    # detect and detect_bulk imported each other; their shared naming lives in detect_naming now.
    assert cli_import_cycles() == []
    assert "groundlabel.cli.detect_naming" in imported_modules(
        (CORE_DIR / "cli" / "detect_bulk.py").read_text()
    )


def test_the_cycle_scan_sees_a_lazy_import():
    assert imported_modules("def f():\n    from groundlabel.cli.detect import run\n") == {
        "groundlabel.cli.detect",
        "groundlabel.cli.detect.run",
    }
