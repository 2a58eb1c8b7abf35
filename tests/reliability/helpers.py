"""Helpers of the reliability suites: servers with chosen settings, minted tokens."""

from __future__ import annotations

import contextlib
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt

from tests.support import ServerProcess

TOKEN_SECRET = "reliability-suite-secret-0123456789abcdef"


@contextlib.contextmanager
def own_server(data_dir: Path, **env: str) -> Iterator[ServerProcess]:
    """`hubbub serve` with a known token secret and the given HUBBUB_* settings;
    killed at the end even if the test failed."""
    process = ServerProcess(data_dir=data_dir, env={"HUBBUB_TOKEN_SECRET": TOKEN_SECRET, **env})
    process.start()
    try:
        yield process
    finally:
        process.stop(signal.SIGKILL)


def server_rss_kib(process: ServerProcess) -> int:
    """Resident memory of the server process, from /proc (Linux)."""
    assert process.process is not None
    status = Path(f"/proc/{process.process.pid}/status").read_text()
    line = next(x for x in status.splitlines() if x.startswith("VmRSS:"))
    return int(line.split()[1])


def mint_token(
    subject: str,
    *,
    key: str = TOKEN_SECRET,
    algorithm: str = "HS256",
    expires_in: int = 600,
    drop: tuple[str, ...] = (),
    **claims: Any,
) -> str:
    """An access token signed like the server's, with any claim overridden or dropped."""
    now = int(time.time())
    body: dict[str, Any] = {
        "sub": subject,
        "iat": now,
        "exp": now + expires_in,
        "iss": "hubbub-local",
        "aud": "hubbub",
        "token_use": "access",
        "sid": "minted-session",
        **claims,
    }
    for name in drop:
        body.pop(name, None)
    return jwt.encode(body, key if algorithm != "none" else None, algorithm=algorithm)
