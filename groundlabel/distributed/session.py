"""Starting Ray on this machine, or joining a cluster, quietly.

Local mode stays on loopback: Ray refuses 127.0.0.1 as a node address (it falls back to
the machine's network address and opens ports there), but takes any other 127.x address,
so a laptop run listens on ``127.0.0.2`` unless ``GROUNDLABEL_RAY_NODE_IP`` says otherwise.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from groundlabel import interrupts
from groundlabel.errors import GroundlabelError

DEFAULT_NODE_IP = "127.0.0.2"
AUTH_PROBE_S = 10.0  # one connection attempt; Ray's own join retries for about 20-40 s
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
def _stderr_silenced() -> Iterator[None]:
    """Ray's C++ client logs a warning line per refused attempt straight to fd 2."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def refuses_our_token(address: str) -> bool:
    """True when the cluster at ``address`` rejects this machine's Ray token (or its absence).

    One quick connection, bounded by ``AUTH_PROBE_S``: without it ``ray.init`` retries for
    20-40 s, printing an ``InvalidAuthToken`` warning each second, then fails with a
    generic connection error.
    """
    if "://" in address or address in ("auto", "local"):
        return False
    try:
        from ray._raylet import GcsClient  # private, stable for years; without it: no probe
        from ray.exceptions import AuthenticationError
    except ImportError:
        return False
    refused: list[bool] = []

    def probe() -> None:
        try:
            GcsClient(address=address)
        except AuthenticationError:
            refused.append(True)
        except Exception:  # unreachable, wrong port...: ray.init reports those itself
            pass

    thread = threading.Thread(target=probe, name="groundlabel-ray-auth-probe", daemon=True)
    with _stderr_silenced():
        thread.start()
        thread.join(AUTH_PROBE_S)
    return bool(refused)


def _token_advice(address: str) -> str:
    given = os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH")
    return (
        f"the Ray cluster at {address} uses token authentication and "
        + ("refused the token given here" if given else "no token was given")
        + ": on its head node run `ray get-auth-token`, then export RAY_AUTH_TOKEN=<that token> here "
        "(or save it in ~/.ray/auth_token)"
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
    if address and refuses_our_token(address):
        raise GroundlabelError(_token_advice(address))
    try:
        if address:
            ray.init(address=address, log_to_driver=False, logging_level=logging.ERROR)
        else:
            start_local(num_cpus)
    except (ConnectionError, RuntimeError, ValueError, OSError) as exc:
        if address and "InvalidAuthToken" in f"{exc} {exc.__cause__}":
            raise GroundlabelError(_token_advice(address)) from None
        where = f"the Ray cluster at {address}" if address else "a local Ray"
        raise GroundlabelError(
            f"cannot start or join {where} ({exc}); check --address / RAY_ADDRESS and that "
            "`ray start` runs there"
        ) from None
    quiet_ray_logs()
    watch = interrupts.current()
    if watch is not None:
        watch.handle_signals()  # ray.init replaced SIGTERM's handler with a sys.exit of its own
    try:
        yield
    finally:
        ray.shutdown()
