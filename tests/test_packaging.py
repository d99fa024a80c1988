"""The wheel's package list in pyproject.toml names every package of the tree, mapped ones included."""

from __future__ import annotations

import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_every_package_folder_is_in_the_wheel():
    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    mapped = {folder: name for name, folder in setuptools["package-dir"].items()}
    on_disk = set()
    for init in REPO.glob("*/**/__init__.py"):
        parts = init.parent.relative_to(REPO).parts
        if parts[0] == "groundlabel":
            on_disk.add(".".join(parts))
        elif parts[0] in mapped:
            on_disk.add(".".join((mapped[parts[0]], *parts[1:])))
    assert {"groundlabel", "groundlabel.backend", "groundlabel.desktop"} <= on_disk
    assert set(setuptools["packages"]) == on_disk
