"""Train/val/test splits: deterministic, exact to one image, and stable when images are added.

Each image gets a number in [0, 1) from SHA-256 of ``"<seed>:<path>"`` (a hash, not a
shuffle). A first export walks the images in that order and gives each to the split furthest
below its quota (quotas by largest remainder of ``ratio · n``), so every split holds its
ratio within one image and the same folder and seed always give the same splits.

Adding images must not move the ones already exported, and no rule that looks at one image
at a time can also keep the sizes exact (a pure hash threshold misses the ratio by about
``sqrt(n·p·(1-p))`` images; ``python -m benchmarks.split_sizes`` measures it). So an export
remembers its assignment in the export folder's marker (``staging.MARKER``), and exporting
again into that folder with the same plan and seed keeps every image where it was and gives
the new ones to the splits furthest below their quota: still within one image while images
are only added. A different plan or seed, or a new folder, starts over.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
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


def quotas(splits: list[Split], count: int) -> dict[str, int]:
    """Images per split: ``ratio · count`` rounded by largest remainder (ties: plan order)."""
    exact = [split.ratio * count for split in splits]
    floors = [math.floor(e) for e in exact]
    order = sorted(range(len(splits)), key=lambda i: (-(exact[i] - floors[i]), i))
    for i in order[: count - sum(floors)]:
        floors[i] += 1
    return {split.name: floor for split, floor in zip(splits, floors, strict=True)}


def assign_splits(
    paths: Iterable[str], splits: list[Split], seed: int, previous: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Path -> split. ``previous`` (an earlier export's assignment) is kept for the paths it has."""
    paths = list(paths)
    names = [split.name for split in splits]
    result = {p: previous[p] for p in paths if previous and previous.get(p) in names}
    target = quotas(splits, len(paths))
    counts = Counter(result.values())
    for path in sorted((p for p in paths if p not in result), key=lambda p: (split_key(p, seed), p)):
        name = max(names, key=lambda n: (target[n] - counts[n], -names.index(n)))
        result[path] = name
        counts[name] += 1
    return {path: result[path] for path in paths}


def describe(splits: list[Split]) -> str:
    """The plan as text, to tell whether an earlier export used the same one."""
    return ",".join(f"{split.name}={split.ratio:.12g}" for split in splits)


def threshold_split(path: str, splits: list[Split], seed: int) -> str:
    """The memoryless rule (the split whose slice of [0, 1) holds the hash), kept as the
    reference ``benchmarks/split_sizes.py`` compares the sizes of ``assign_splits`` with."""
    key, edge = split_key(path, seed), 0.0
    for split in splits:
        edge += split.ratio
        if key < edge:
            return split.name
    return splits[-1].name
