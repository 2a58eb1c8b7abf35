"""Child processes of the launcher (and of the tests that share its nginx): started in a
process group of their own, waited for until they answer, stopped in order."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from types import FrameType

_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the launcher dies, even by SIGKILL, so no
    child is left holding a port (Linux; elsewhere nothing happens)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def spawn(
    command: list[str],
    log: Path,
    env: Mapping[str, str] | None = None,
    *,
    die_with_parent: bool = True,
    cwd: Path | None = None,
) -> subprocess.Popen[bytes]:
    """`command` as a child in a process group of its own (a Ctrl-C in the terminal
    reaches the launcher only, which stops everything in order), its output appended to
    `log`. `die_with_parent` runs code between fork and exec, which is safe only in a
    parent without threads (the launcher, not a test process)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        return subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=None if env is None else dict(env),
            cwd=cwd,
            start_new_session=True,
            preexec_fn=_die_with_parent if die_with_parent else None,
        )


def wait_for(
    ready: Callable[[], bool],
    process: subprocess.Popen[bytes] | None,
    what: str,
    log: Path,
    timeout: float = 60,
) -> None:
    """Polls `ready` until it is true; fails with the log's tail if `process` exits first
    or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what} exited early:\n{tail(log)}")
        if ready():
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not become ready in {timeout:.0f} s:\n{tail(log)}")


def stop(process: subprocess.Popen[bytes] | None, sig: int = signal.SIGTERM) -> None:
    """Sends `sig` and waits; SIGKILL after 20 s."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def stop_group(process: subprocess.Popen[bytes] | None) -> None:
    """Stops `process` (a `spawn`ed child: the leader of its own process group) and every
    process of its group, which outlive it otherwise: serverless-offline starts a Python
    process per function and per concurrent invocation, and they are its group's, not
    its children once it has gone."""
    if process is None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    stop(process)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def healthy(url: str) -> bool:
    """Whether `url` answers 200 now (never through an HTTP proxy of the environment)."""
    with (
        contextlib.suppress(OSError, urllib.error.URLError),
        _NO_PROXY.open(url, timeout=1) as reply,
    ):
        return bool(reply.status == 200)
    return False


def tail(log: Path, lines: int = 30) -> str:
    if not log.exists():
        return "(no log)"
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


class Stop(Exception):
    """SIGINT or SIGTERM arrived: the launcher unwinds and stops everything it started."""


def stop_on_signals() -> None:
    """Turns the first SIGINT or SIGTERM into `Stop`, raised in the main thread."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _raise_stop)


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    # Once: a second Ctrl-C during the shutdown must not cut it short.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    raise Stop


def watch(prog: str, children: list[tuple[str, subprocess.Popen[bytes] | None, Path]]) -> None:
    """Waits for a signal; if a child dies meanwhile, says which (with its log's tail) and
    returns, so the rest is stopped rather than left serving half a platform."""
    while True:
        time.sleep(0.5)
        for name, process, log in children:
            if process is not None and process.poll() is not None:
                print(
                    f"{prog}: {name} exited; stopping the rest. Its log:\n{tail(log)}",
                    file=sys.stderr,
                    flush=True,
                )
                return
