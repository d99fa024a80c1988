"""The documentation site builds strictly, every nav page exists, and the README's links land.

The README is the front page and links into ``docs/`` (relative links, so they work on GitHub as
well); the site is MkDocs (``mkdocs.yml``). A page renamed or removed, a broken link inside the
site, or a docstring mkdocstrings cannot read would otherwise go unnoticed until someone clicks.
"""

import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def _nav_pages(nav: list) -> list[str]:
    pages = []
    for entry in nav:
        value = next(iter(entry.values())) if isinstance(entry, dict) else entry
        if isinstance(value, list):
            pages += _nav_pages(value)
        else:
            pages.append(value)
    return pages


def _config() -> dict:
    # mkdocs.yml may hold !!python tags in other projects; this one is plain YAML.
    return yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))


def test_every_nav_page_exists_and_every_page_is_in_nav():
    nav = _nav_pages(_config()["nav"])
    missing = [page for page in nav if not (DOCS / page).is_file()]
    assert not missing, f"mkdocs.yml nav names pages that do not exist: {missing}"
    assert len(nav) == len(set(nav)), "a page is listed twice in nav"
    pages = {
        p.relative_to(DOCS).as_posix()
        for p in DOCS.rglob("*.md")
        if not p.relative_to(DOCS).parts[0].startswith("_")
    }
    assert pages - set(nav) == set(), "pages in docs/ that nav does not list"


def test_readme_links_resolve_to_real_pages_and_images():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)\s]+)\)", readme)
    local = [t.split("#")[0] for t in targets if not re.match(r"[a-z]+://|#|mailto:", t)]
    assert any(t.startswith("docs/") and t.endswith(".md") for t in local), "README links no page"
    nav = set(_nav_pages(_config()["nav"]))
    for target in local:
        assert (ROOT / target).exists(), f"README links {target}, which does not exist"
        if target.startswith("docs/") and target.endswith(".md"):
            assert target.removeprefix("docs/") in nav, f"README links {target}, not in the site's nav"


def test_readme_anchors_into_the_site_exist():
    """A README link ``docs/page.md#anchor`` names a heading of that page (MkDocs' slugs)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for page, anchor in re.findall(r"\]\(docs/([^)#\s]+\.md)#([^)\s]+)\)", readme):
        text = (DOCS / page).read_text(encoding="utf-8")
        headings = re.findall(r"^#{1,6} (.+)$", text, flags=re.M)
        slugs = {
            re.sub(r"[-\s]+", "-", re.sub(r"[^\w\s-]", "", h.replace("`", "")).strip().lower())
            for h in headings
        }
        assert anchor in slugs, f"README links docs/{page}#{anchor}; that page has no such heading"


def test_site_builds_strictly(tmp_path):
    """``mkdocs build --strict``: broken links, missing pages and bad docstrings fail the build."""
    # The dev extra installs MkDocs (pyproject.toml): missing, this fails rather than skips.
    command = [
        sys.executable,
        "-X",
        "importtime",
        "-m",
        "mkdocs",
        "build",
        "--strict",
        "--site-dir",
        str(tmp_path / "site"),
    ]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    # griffe reads the docstrings from the source: the API reference needs no torch import.
    imported = {
        line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if "import time:" in line
    }
    assert "torch" not in imported and "transformers" not in imported
    # The import-time log is there (the handler shows in it), so the check above means something.
    assert any(name.startswith("mkdocstrings_handlers.python") for name in imported)
    site = tmp_path / "site"
    for page in _nav_pages(_config()["nav"]):
        built = site / (page.removesuffix(".md") + "/index.html" if page != "index.md" else "index.html")
        assert built.is_file(), f"{page} was not built"
    # The API reference is rendered from the docstrings, not left empty.
    assert "encode" in (site / "api" / "masks" / "index.html").read_text(encoding="utf-8")
    # Architecture is ARCHITECTURE.md itself (the hook), glossary included.
    assert "Glossary" in (site / "architecture" / "index.html").read_text(encoding="utf-8")
    for image in (DOCS / "images").glob("*.png"):
        assert (site / "images" / image.name).is_file()
