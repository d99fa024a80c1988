"""Starting Ray on this machine, or joining a cluster, quietly.

Local mode stays on loopback: Ray refuses 127.0.0.1 as a node address (it falls back to
the machine's network address and opens ports there), but takes any other 127.x address,
so a laptop run listens on ``127.0.0.2`` unless ``GROUNDLABEL_RAY_NODE_IP`` says otherwise.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from groundlabel.errors import GroundlabelError

DEFAULT_NODE_IP = "127.0.0.2"
_QUIET_LOGGERS = ("ray", "ray.data", "ray._private", "ray.data._internal")


def quiet_ray_logs() -> None:
    """Ray Data's plan, progress and "execution finished" lines stay out of the user's terminal."""
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    # Ray Data's tuning advice ("at most 1 task(s)...") and deprecation notes are Python
    # warnings, which a terminal would show.
    warnings.filterwarnings("ignore", module=r"ray(\.|$)")
    import ray.data

    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False


def start_local(num_cpus: int | None = None, **options: object) -> None:
    """Ray on this machine, listening on a loopback address only, without the dashboard."""
    import ray

    ray.init(
        address="local",
        _node_ip_address=os.environ.get("GROUNDLABEL_RAY_NODE_IP", DEFAULT_NODE_IP),
        num_cpus=num_cpus,
        include_dashboard=False,
        log_to_driver=False,
        logging_level=logging.ERROR,
        **options,
    )


@contextmanager
def ray_session(address: str | None, *, num_cpus: int | None = None) -> Iterator[None]:
    """Ray for the length of a command: joined at ``address`` (or ``RAY_ADDRESS``), else started here.

    A Ray already initialised in this process (a test, a notebook) is used as it is and
    left running.
    """
    import ray

    if ray.is_initialized():
        quiet_ray_logs()
        yield
        return
    address = address or os.environ.get("RAY_ADDRESS") or None
    try:
        if address:
            ray.init(address=address, log_to_driver=False, logging_level=logging.ERROR)
        else:
            start_local(num_cpus)
    except (ConnectionError, RuntimeError, ValueError, OSError) as exc:
        where = f"the Ray cluster at {address}" if address else "a local Ray"
        raise GroundlabelError(
            f"cannot start or join {where} ({exc}); check --address / RAY_ADDRESS and that "
            "`ray start` runs there"
        ) from None
    quiet_ray_logs()
    try:
        yield
    finally:
        ray.shutdown()
