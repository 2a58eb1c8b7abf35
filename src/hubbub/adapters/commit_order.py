"""Commit order for stores whose writers commit in parallel (PostgreSQL, DynamoDB).

`Store.write` promises `on_commit` results in commit order. Each transaction takes a
ticket just before it commits (COMMIT, TransactWriteItems); results are handed over to
the event loop in ticket order. Two transactions whose order matters touched the same
row, so the second took its ticket only after the first's commit had returned: ticket
order is their commit order (docs/decisions.md). Driver-free, so a store loads it
without the other's driver."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger("hubbub.store")


class CommitOrder:
    """Hands committed results over in ticket order. Every ticket taken must be `done`
    exactly once, with its hand-over or None (no commit)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._taken = 0
        self._next = 0
        self._finished: dict[int, Callable[[], object] | None] = {}

    def take(self) -> int:
        with self._lock:
            self._taken += 1
            return self._taken - 1

    def done(self, ticket: int, hand_over: Callable[[], object] | None) -> None:
        with self._lock:
            self._finished[ticket] = hand_over
            while self._next in self._finished:
                ready = self._finished.pop(self._next)
                self._next += 1
                if ready is not None:
                    try:
                        ready()
                    except Exception:
                        # A closed loop (the caller's process is stopping): the
                        # commits after this one must still be handed over.
                        log.exception("could not hand over a committed result")


def settle(
    future: asyncio.Future[Any],
    on_commit: Callable[[Any], None] | None,
    result: Any,
    error: BaseException | None,
) -> None:
    """Runs on the caller's event loop; committed results arrive in commit order."""
    if error is None and on_commit is not None:
        try:
            on_commit(result)
        except Exception:
            # Publishing is best effort (clients resync); the commit stands.
            log.exception("after-commit callback failed")
    if future.done():
        return
    if error is None:
        future.set_result(result)
    else:
        future.set_exception(error)
