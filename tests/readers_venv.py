"""A venv for the readers that need torchvision (torchvision itself, Ultralytics).

From PyPI, torchvision and Ultralytics pull a CUDA build of torch (about 4 GB) in place of
the project's CPU wheel. So this venv installs them without dependencies, adds their small
pure dependencies, and sees the project venv's packages (torch included) through a
``.pth`` file: about 60 MB and 30 s. Ultralytics is AGPL: it is a test-only reader here,
never imported by groundlabel. ``GROUNDLABEL_TEST_READERS_VENV`` may name a venv made by
this function earlier, to skip the install while developing; CI installs every time.
"""

from __future__ import annotations

import os
import site
import subprocess
import sys
from pathlib import Path

import torch

ULTRALYTICS_VERSION = "8.4.190"


def torchvision_version() -> str:
    """torchvision 0.N pairs with torch 2.(N-15): torch 2.13 -> torchvision 0.28."""
    major, minor = (int(p) for p in torch.__version__.split("+")[0].split(".")[:2])
    assert major == 2, f"torch {torch.__version__}: update the torchvision pairing"
    return f"0.{minor + 15}.*"


def readers_python(root: Path) -> Path:
    existing = os.environ.get("GROUNDLABEL_TEST_READERS_VENV")
    if existing and (Path(existing) / "bin" / "python").is_file():
        return Path(existing) / "bin" / "python"
    venv = root / "readers-venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    venv_site = subprocess.run(
        [str(python), "-c", "import site; print(site.getsitepackages()[0])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # The project's packages (CPU torch, numpy, Pillow, OpenCV headless) after the venv's own;
    # torch's own folder too, for a project venv that reaches its packages through a .pth itself.
    project = dict.fromkeys([*site.getsitepackages(), str(Path(torch.__file__).resolve().parents[1])])
    Path(venv_site, "groundlabel-project.pth").write_text("\n".join(project) + "\n")
    env = {**os.environ, "PIP_CACHE_DIR": str(root / "pip-cache"), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    pip = [str(python), "-m", "pip", "install", "-q", "--no-compile"]
    subprocess.run(
        [
            *pip,
            "--no-deps",
            f"ultralytics=={ULTRALYTICS_VERSION}",
            f"torchvision=={torchvision_version()}",
            "ultralytics-thop>=2",
        ],
        check=True,
        env=env,
    )
    subprocess.run([*pip, "matplotlib", "polars", "psutil"], check=True, env=env)
    return python
