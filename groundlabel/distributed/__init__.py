"""Bulk detection on Ray: the same ``Detector`` in a pool of actors, locally or on a cluster.

Nothing here is imported unless ``--ray`` is asked for, and Ray itself only inside
``require_ray``'s callers, so the core installs and runs without the ``ray`` extra.
"""

from __future__ import annotations

from groundlabel.errors import GroundlabelError


def require_ray(command: str) -> None:
    """One line naming the extra when Ray Data is not installed."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise GroundlabelError(
            f"{command} --ray needs the ray extra: pip install 'groundlabel[ray]'"
        ) from None
