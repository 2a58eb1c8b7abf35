"""A server in console confirmation mode (HUBBUB_CONFIRMATION=console) and the codes it
prints, read from its log the way a person reads their mail."""

from __future__ import annotations

import os
import re
import sqlite3
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.support import ServerProcess


def start_console_server(tmp_path_factory: pytest.TempPathFactory) -> ServerProcess:
    if os.environ.get("HUBBUB_TEST_BASE_URL"):
        pytest.skip("reads codes from the local server's console")
    process = ServerProcess(
        data_dir=Path(tmp_path_factory.mktemp("hubbub-console")) / "data",
        # PYTHONUNBUFFERED off as on a real deployment: a code must reach the console
        # when it is sent, not when an output buffer happens to fill.
        env={"HUBBUB_CONFIRMATION": "console", "PYTHONUNBUFFERED": ""},
    )
    process.start()
    return process


def codes(server: ServerProcess, purpose: str, username: str) -> list[str]:
    """Every code printed so far for `username` ("confirmation" or "password reset")."""
    assert server.log is not None
    pattern = rf"\[hubbub\] {purpose} code for {re.escape(username)} <[^>]*>: (\S+)"
    return re.findall(pattern, server.log.read_text())


def next_code(server: ServerProcess, purpose: str, username: str, seen: int = 0) -> str:
    """The newest code once more than `seen` have been printed (waits up to 10 s)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = codes(server, purpose, username)
        if len(found) > seen:
            return found[-1]
        time.sleep(0.05)
    raise AssertionError(f"no new {purpose} code for {username} in the server log")


def age_sign_up(server: ServerProcess, username: str, by: timedelta) -> None:
    """Moves a stored sign-up back in time, as if `by` had passed since it was made."""
    with sqlite3.connect(server.data_dir / "hubbub.db", timeout=30) as db:
        (created,) = db.execute(
            "SELECT created_at FROM users WHERE username = ?", (username,)
        ).fetchone()
        earlier = datetime.fromisoformat(created) - by
        db.execute(
            "UPDATE users SET created_at = ? WHERE username = ?",
            (earlier.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00"), username),
        )
