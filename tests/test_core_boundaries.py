"""The core stays free of Qt and web code: both front ends build on it, the CLI runs without them."""

from __future__ import annotations

import json
import subprocess
import sys

FRONT_END_PACKAGES = {
    "PySide6",
    "shiboken6",
    "fastapi",
    "starlette",
    "uvicorn",
    "httpx",
    "backend",
    "desktop",
}

IMPORT_EVERY_CORE_MODULE = """
import json, pkgutil, importlib, sys
import groundlabel
names = [m.name for m in pkgutil.walk_packages(groundlabel.__path__, "groundlabel.") if not m.name.endswith("__main__")]
for name in names:
    importlib.import_module(name)
print(json.dumps({"modules": names, "loaded": sorted({m.split(".")[0] for m in sys.modules})}))
"""


def test_importing_every_core_module_loads_no_front_end_code():
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_EVERY_CORE_MODULE], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert "groundlabel.detector" in report["modules"] and "groundlabel.project.store" in report["modules"]
    assert FRONT_END_PACKAGES.isdisjoint(report["loaded"]), FRONT_END_PACKAGES & set(report["loaded"])
