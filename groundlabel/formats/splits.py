"""Train/val/test splits that depend only on an image's path and the seed.

Each image gets a number ``u`` in [0, 1) from SHA-256 of ``"<seed>:<path>"`` and falls in
the split whose slice of [0, 1) holds it (slices in the order given, sized by the ratios).
So an export is a pure function of the folder and the seed: exporting twice gives the same
splits, and adding images never moves one that was already exported.

The price of that stability is that split sizes are binomial, not exact: with ``n`` images
and ratio ``p`` a split holds ``n·p ± sqrt(n·p·(1-p))`` images (one standard deviation). No
rule that looks at one image at a time can promise exact sizes for every set of paths;
``benchmarks/split_sizes.py`` measures how often sizes land within one image of the ratio.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from groundlabel.errors import GroundlabelError

DEFAULT_SPLIT = "train"
_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass(frozen=True)
class Split:
    name: str
    ratio: float  # fraction of the images, the ratios of a plan sum to 1


def parse_splits(text: str | None) -> list[Split]:
    """``"train=0.8,val=0.2"`` -> splits with ratios scaled to sum to 1; None -> all in ``train``.

    Ratios are relative weights (``train=8,val=2`` is the same plan), so a spec such as
    ``train=0.8,val=0.2,test=0.1`` means 8:2:1.
    """
    if text is None or not text.strip():
        return [Split(DEFAULT_SPLIT, 1.0)]
    pairs: list[tuple[str, float]] = []
    for part in text.split(","):
        name, sep, value = part.strip().partition("=")
        name = name.strip()
        if not sep or not _NAME.match(name):
            raise GroundlabelError(
                f"--split: {part.strip()!r} is not NAME=RATIO; write e.g. --split train=0.8,val=0.2"
            )
        try:
            ratio = float(value)
        except ValueError:
            raise GroundlabelError(f"--split: the ratio of {name!r} is not a number: {value!r}") from None
        if not ratio > 0 or ratio == float("inf"):
            raise GroundlabelError(f"--split: the ratio of {name!r} must be a positive number, got {value!r}")
        if name in (n for n, _ in pairs):
            raise GroundlabelError(f"--split: {name!r} is named twice")
        pairs.append((name, ratio))
    total = sum(r for _, r in pairs)
    return [Split(name, ratio / total) for name, ratio in pairs]


def split_key(path: str, seed: int) -> float:
    """The image's place in [0, 1): the first 8 bytes of SHA-256 of ``"<seed>:<path>"``."""
    digest = hashlib.sha256(f"{seed}:{path}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def split_of(path: str, splits: list[Split], seed: int) -> str:
    """The split of one image; depends on nothing but ``path``, the plan and ``seed``."""
    key, edge = split_key(path, seed), 0.0
    for split in splits:
        edge += split.ratio
        if key < edge:
            return split.name
    return splits[-1].name  # float rounding of the last edge


def assign_splits(paths: Iterable[str], splits: list[Split], seed: int) -> dict[str, str]:
    return {path: split_of(path, splits, seed) for path in paths}
