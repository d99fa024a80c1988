"""``groundlabel detect --exemplars FILE`` / ``--exemplars-from-project``: search by example boxes."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from groundlabel.errors import GroundlabelError

if TYPE_CHECKING:
    from groundlabel.exemplars import Exemplar


def add_exemplar_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "example boxes (OWLv2 / OWL-ViT models): find more boxes like given ones; replaces --labels"
    )
    group.add_argument(
        "--exemplars",
        type=Path,
        metavar="FILE",
        help="COCO JSON of example boxes; their categories become the classes "
        "(image file names relative to FILE's folder)",
    )
    group.add_argument(
        "--exemplars-from-project",
        action="store_true",
        help="use the accepted boxes of each class in FOLDER's review project as examples "
        "(--labels picks the classes; default all)",
    )


def exemplars_for(args: argparse.Namespace) -> list[Exemplar] | None:
    """The examples the command line asks for, or None for a search by class names."""
    from groundlabel.exemplar_sources import exemplars_from_coco, exemplars_from_project
    from groundlabel.labels import LabelSet

    if args.exemplars is not None and args.exemplars_from_project:
        raise GroundlabelError("give either --exemplars FILE or --exemplars-from-project, not both")
    if args.exemplars is not None:
        if args.labels:
            raise GroundlabelError(
                "--exemplars takes its classes from the file's categories; leave out --labels"
            )
        return exemplars_from_coco(args.exemplars)
    if args.exemplars_from_project:
        if len(args.paths) != 1 or not Path(args.paths[0]).is_dir():
            raise GroundlabelError("--exemplars-from-project needs exactly one folder: detect FOLDER ...")
        classes = LabelSet.parse(args.labels).names if args.labels else None
        return exemplars_from_project(args.paths[0], classes)
    return None


def exemplar_labels(exemplars: list[Exemplar]):  # noqa: ANN201 - LabelSet, imported lazily
    """The classes the examples name, in first-seen order (as ``exemplar_prompts`` orders them)."""
    from groundlabel.labels import LabelSet

    return LabelSet.from_names(list(dict.fromkeys(e.label for e in exemplars)))
