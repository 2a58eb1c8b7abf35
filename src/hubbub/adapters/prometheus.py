"""What the platform measures, for Prometheus (`/metrics`), one process or many.

The metrics are module-level objects of the standard client library, so any module
counts with one call. With several processes on one port (`hubbub serve --workers N`)
each process writes its values to files in `PROMETHEUS_MULTIPROC_DIR` and `render`
adds them up, so whichever worker answers a scrape answers for all of them. The
library picks its storage when it is first imported: the variable must be set before
the worker processes start (`multiprocess_dir` does that for the supervisor).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)

# A `_created` series per counter doubles the output for a figure nobody graphs (and
# multi-process mode has none).
disable_created_metrics()  # type: ignore[no-untyped-call]

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST

# Sub-millisecond to seconds: queueing frames locally takes microseconds, handing them
# to Redis a round trip.
_FANOUT_BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
)  # fmt: skip
_STORE_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip

WEBSOCKET_CONNECTIONS = Gauge(
    "hubbub_websocket_connections",
    "Open WebSocket connections (past the handshake), summed over live processes.",
    multiprocess_mode="livesum",
)
FRAMES_RECEIVED = Counter(
    "hubbub_websocket_frames_received", "WebSocket frames received from clients."
)
FRAMES_SENT = Counter("hubbub_websocket_frames_sent", "WebSocket frames written to clients.")
MESSAGES_SENT = Counter(
    "hubbub_messages_sent",
    "Messages committed (a retried send that changes nothing is not counted).",
)
FANOUT_SECONDS = Histogram(
    "hubbub_fanout_seconds",
    "From the publish call after a commit until the frames are queued on this process's"
    " connections and handed on towards the other processes.",
    buckets=_FANOUT_BUCKETS,
)
STORE_SECONDS = Histogram(
    "hubbub_store_seconds",
    "Store transactions as the services see them, waits and retries included.",
    ["op"],
    buckets=_STORE_BUCKETS,
)
HTTP_REQUESTS = Counter(
    "hubbub_http_requests",
    "HTTP requests by method, route template and status class (2xx, 4xx, ...).",
    ["method", "route", "status"],
)
ERRORS = Counter(
    "hubbub_errors",
    "Error replies by stable error code and transport (http or ws).",
    ["code", "transport"],
)


def multiprocess_mode() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))


def render() -> bytes:
    """The exposition text: this process's metrics, or every process's when they share
    a metrics directory (live gauges only of processes still running)."""
    directory = os.environ.get(MULTIPROC_ENV)
    if not directory:
        return generate_latest(REGISTRY)
    sweep(Path(directory))
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
    return generate_latest(registry)


@contextlib.contextmanager
def multiprocess_dir() -> Iterator[Path]:
    """For the process that starts the workers, before it starts them: a clean metrics
    directory in `PROMETHEUS_MULTIPROC_DIR` (the operator's, emptied, or a temporary
    one removed afterwards). Values left by an earlier run would be added to this one's."""
    given = os.environ.get(MULTIPROC_ENV)
    if given:
        path = Path(given)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink()
        yield path
        return
    path = Path(tempfile.mkdtemp(prefix="hubbub-metrics-"))
    os.environ[MULTIPROC_ENV] = str(path)
    try:
        yield path
    finally:
        os.environ.pop(MULTIPROC_ENV, None)
        shutil.rmtree(path, ignore_errors=True)


def process_exiting() -> None:
    """A worker's last word: its open-connection gauge stops counting (its counters
    still add to the totals)."""
    directory = os.environ.get(MULTIPROC_ENV)
    if directory:
        multiprocess.mark_process_dead(os.getpid(), directory)  # type: ignore[no-untyped-call]


_LIVE_GAUGE_FILE = re.compile(r"gauge_live\w+?_(\d+)\.db")


def sweep(directory: Path) -> None:
    """Forgets the live gauges of processes that died without saying so (killed, or
    crashed): a dead worker's connections are not open any more."""
    for path in directory.glob("gauge_live*.db"):
        found = _LIVE_GAUGE_FILE.fullmatch(path.name)
        if found is not None and not _alive(int(found.group(1))):
            multiprocess.mark_process_dead(int(found.group(1)), str(directory))  # type: ignore[no-untyped-call]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process now holds the number
    return True
