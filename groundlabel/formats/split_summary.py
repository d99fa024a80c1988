"""The table an export prints: images and boxes per class per split, and what is missing."""

from __future__ import annotations

from groundlabel.formats.dataset import Dataset


def _counts(dataset: Dataset) -> dict[tuple[str, str], tuple[int, int]]:
    """(class, split) -> (images holding the class, boxes); class "" is every image."""
    counts: dict[tuple[str, str], list[int]] = {}
    for image in dataset.images:
        total = counts.setdefault(("", image.split), [0, 0])
        total[0] += 1
        total[1] += len(image.boxes)
        seen = set()
        for box in image.boxes:
            cell = counts.setdefault((box.class_name, image.split), [0, 0])
            cell[1] += 1
            if box.class_name not in seen:
                cell[0] += 1
                seen.add(box.class_name)
    return {key: (v[0], v[1]) for key, v in counts.items()}


def split_table(dataset: Dataset) -> str:
    """A fixed-width table: one row per class (and "all images"), "images/boxes" per split."""
    counts = _counts(dataset)
    rows = [("all images", "")] + [(name, name) for name in dataset.class_names]
    width = max(len(label) for label, _ in rows)
    header = f"{'class':<{width}}" + "".join(f"  {split + ' img/box':>16}" for split in dataset.splits)
    lines = [header]
    for label, name in rows:
        cells = []
        for split in dataset.splits:
            images, boxes = counts.get((name, split), (0, 0))
            cells.append(f"  {f'{images}/{boxes}':>16}")
        lines.append(f"{label:<{width}}" + "".join(cells))
    return "\n".join(lines)


def split_warnings(dataset: Dataset) -> list[str]:
    counts = _counts(dataset)
    warnings = []
    for split in dataset.splits:
        if counts.get(("", split), (0, 0))[0] == 0:
            warnings.append(f"split {split!r} has no image")
            continue
        for name in dataset.class_names:
            if counts.get((name, split), (0, 0))[1] == 0:
                warnings.append(f"class {name!r} has no box in split {split!r}")
    return warnings
