"""MkDocs hook: the Architecture page is ARCHITECTURE.md itself, so the two never drift apart.

ARCHITECTURE.md lives at the repository root (GitHub shows it there) and links into ``docs/``;
on the site the page sits inside ``docs/``, so those links lose their ``docs/`` prefix.
"""

from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def on_page_markdown(markdown: str, page: Any, **kwargs: Any) -> str:
    """Replace the Architecture page's body with ARCHITECTURE.md, its ``docs/`` links made local."""
    if page.file.src_uri != "architecture.md":
        return markdown
    text = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    return text.replace("](docs/", "](")
