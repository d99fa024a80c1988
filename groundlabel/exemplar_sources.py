"""Where example boxes come from: a COCO file, or the accepted boxes of a review project."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from groundlabel.exemplars import Exemplar, ExemplarError

#: examples taken per class from a project: enough to cover a class's looks, few enough
#: that embedding them (one image pass each) stays short.
MAX_EXAMPLES_PER_CLASS = 8


def exemplars_from_coco(path: str | os.PathLike[str]) -> list[Exemplar]:
    """Every box of a COCO file as an example of its category.

    Image ``file_name``s are relative to the COCO file's folder (or absolute).
    """
    from groundlabel.formats.coco import read_coco

    path = Path(path)
    if not path.is_file():
        raise ExemplarError(f"example file {path} does not exist: pass a COCO JSON of example boxes")
    dataset = read_coco(path)
    examples = []
    for image in dataset.images:
        file = (
            (path.parent / image.file_name)
            if not Path(image.file_name).is_absolute()
            else Path(image.file_name)
        )
        if image.boxes and not file.is_file():
            raise ExemplarError(
                f"{path}: image {image.file_name!r} of the example boxes is not at {file} "
                "(file names are relative to the COCO file's folder)"
            )
        examples.extend(Exemplar(str(file), box.xyxy, box.class_name) for box in image.boxes)
    if not examples:
        raise ExemplarError(f"{path} has no boxes: it needs at least one annotation to use as an example")
    return examples


def exemplars_from_project(
    folder: str | os.PathLike[str], classes: Sequence[str] | None = None
) -> list[Exemplar]:
    """The accepted boxes of each class (or of ``classes``) in ``folder``'s review project."""
    from groundlabel.project import ReviewProject
    from groundlabel.project.models import BoxStatus

    folder = Path(folder)
    if not (folder / ".groundlabel" / "project.db").is_file():
        raise ExemplarError(
            f"{folder} has no review project: accept some boxes there first (groundlabel review)"
        )
    examples: list[Exemplar] = []
    with ReviewProject.open(folder, scan=False) as project:
        known = {c.name: c for c in project.classes()}
        wanted = list(classes) if classes else list(known)
        for name in wanted:
            if name not in known:
                raise ExemplarError(f"class {name!r} is not in the project at {folder}")
            accepted = [b for b in project.boxes_of_class(known[name].id) if b.status == BoxStatus.ACCEPTED]
            for box in accepted[:MAX_EXAMPLES_PER_CLASS]:
                examples.append(Exemplar(str(project.image_file(box.image_id)), box.xyxy, name))
    if not examples:
        raise ExemplarError(
            f"the project at {folder} has no accepted boxes to use as examples: accept some first"
        )
    return examples
