"""The options of ``groundlabel detect`` for large datasets (Ray, sharded output, resume).

Kept apart from ``detect_bulk`` so that building the parser imports neither torch nor Ray.
"""

from __future__ import annotations

import argparse

from groundlabel.cli.options import positive_int
from groundlabel.errors import GroundlabelError


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{value} must be above 0")
    return value


def add_bulk_options(parser: argparse.ArgumentParser) -> None:
    group = add_ray_options(parser)
    group.add_argument(
        "--resume",
        action="store_true",
        help="with -o DIR/: skip images already in DIR and add the rest",
    )


def add_ray_options(parser: argparse.ArgumentParser) -> argparse._ArgumentGroup:
    """--ray and how the actor pool is placed (shared by detect and ls-prelabel)."""
    group = parser.add_argument_group("large datasets")
    group.add_argument(
        "--ray", action="store_true", help="run on Ray (pip install 'groundlabel[ray]'): here or on a cluster"
    )
    group.add_argument(
        "--address",
        default=None,
        help="join the Ray cluster at this address (default: RAY_ADDRESS, else start Ray on this machine)",
    )
    group.add_argument(
        "--workers", type=positive_int, default=None, help="detector actors (default: fill the cluster)"
    )
    group.add_argument(
        "--threads-per-worker", type=positive_int, default=1, help="CPU threads per actor (default: 1)"
    )
    group.add_argument(
        "--gpus-per-worker",
        type=positive_float,
        default=None,
        help="GPUs per actor, e.g. 1 or 0.5 (default: none)",
    )
    return group


def wants_bulk(args: argparse.Namespace) -> bool:
    """Whether ``detect`` goes through ``detect_bulk`` (which also rejects Ray options without --ray)."""
    from groundlabel.formats.shards import is_sharded_output

    ray_options = (args.address, args.workers, args.gpus_per_worker)
    return (
        args.ray or args.resume or any(o is not None for o in ray_options) or is_sharded_output(args.output)
    )


def check_ray_options(args: argparse.Namespace) -> None:
    """Placement options mean nothing without --ray: say so rather than ignore them."""
    given = [name for name in ("address", "workers", "gpus_per_worker") if getattr(args, name) is not None]
    if given and not args.ray:
        flags = ", ".join("--" + name.replace("_", "-") for name in given)
        raise GroundlabelError(f"{flags} only work with --ray: add --ray, or leave them out")
