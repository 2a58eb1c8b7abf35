"""A race fixture for the store contract: one transaction reads, another commits, the
first writes.

The memory and SQLite adapters run one write transaction at a time, so two of them can
never truly overlap here, and a fixture that pauses one transaction while another
commits would deadlock (SQLite's single writer thread) or never interleave (memory runs
each transaction function to completion). So the interleaving is simulated, honestly:

1. *Rehearsal.* The slow call runs once against the store as it is, and every plain
   read its write transaction makes is recorded; the transaction is then rolled back.
2. *The other transaction commits* (the fast call), for real.
3. *Replay.* The slow call runs again. Its plain reads (`get`, `of_conversation`,
   `by_client_id`, ...) are answered with what they returned in the rehearsal: the
   state before the other transaction committed, plus the slow transaction's own
   writes. Its writes run against the current state, as an `UPDATE`/`INSERT` of
   PostgreSQL at READ COMMITTED does (it waits for the row and changes the newest
   version). A locking read (`lock`) returns the current row, and every read after it
   is current too: it waited for the writers of that row to commit, and each later
   statement takes a new snapshot. A re-run of the transaction function (after it
   lost a race) is a new transaction and reads the current state throughout.

That is the worst READ COMMITTED allows a transaction that does not lock, and what
PostgreSQL does with `SELECT ... FOR UPDATE`. A read the rehearsal did not make (a
different path, a freshly generated id) is answered live.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from hubbub.domain.errors import DomainError
from hubbub.ports import Store

T = TypeVar("T")

# The plain (non-locking) reads of each repository the chat services use.
PLAIN_READS: dict[str, frozenset[str]] = {
    "users": frozenset({"get", "get_many", "by_username", "by_email", "search"}),
    "conversations": frozenset({"get", "by_direct_key", "for_user"}),
    "members": frozenset({"get", "of_conversation", "ids_of", "contacts_of", "share_conversation"}),
    "messages": frozenset({"get", "by_seq", "by_client_id", "page"}),
}
LOCKING_READS = frozenset({"lock"})

_Key = tuple[str, str, str, int]


class _Rehearsed(Exception):
    """Raised at the end of a rehearsal to roll its transaction back."""


@dataclass
class _Reads:
    """The plain reads of one transaction, by (repository, method, arguments, nth call)."""

    recorded: dict[_Key, Any] = field(default_factory=dict)
    counts: dict[tuple[str, str, str], int] = field(default_factory=dict)
    fresh: bool = False

    def key(self, repo: str, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> _Key:
        call = (repo, method, repr((args, sorted(kwargs.items()))))
        n = self.counts.get(call, 0)
        self.counts[call] = n + 1
        return (*call, n)


class _Repo:
    def __init__(self, inner: Any, name: str, reads: _Reads, *, replay: bool) -> None:
        self._inner, self._name, self._reads, self._replay = inner, name, reads, replay

    def __getattr__(self, method: str) -> Any:
        real = getattr(self._inner, method)
        if method in LOCKING_READS:

            def locking(*args: Any, **kwargs: Any) -> Any:
                self._reads.fresh = True
                return real(*args, **kwargs)

            return locking
        if method not in PLAIN_READS.get(self._name, frozenset()):
            return real

        def plain(*args: Any, **kwargs: Any) -> Any:
            key = self._reads.key(self._name, method, args, kwargs)
            if not self._replay:
                self._reads.recorded[key] = value = real(*args, **kwargs)
                return value
            if self._reads.fresh or key not in self._reads.recorded:
                return real(*args, **kwargs)
            return self._reads.recorded[key]

        return plain


class _Tx:
    def __init__(self, inner: Any, reads: _Reads, *, replay: bool) -> None:
        self._inner, self._reads, self._replay = inner, reads, replay

    def __getattr__(self, name: str) -> Any:
        return _Repo(getattr(self._inner, name), name, self._reads, replay=self._replay)


class _RacingStore:
    """The store as the slow transaction sees it (rehearsal or replay)."""

    def __init__(self, store: Store, recorded: _Reads | None) -> None:
        self._store = store
        self._recorded = recorded  # None: this is the rehearsal
        self.rehearsal = _Reads()

    async def read(self, work: Callable[[Any], T], *, quick: bool = False) -> T:
        return await self._store.read(work, quick=quick)

    async def write(
        self, work: Callable[[Any], T], on_commit: Callable[[T], None] | None = None
    ) -> T:
        attempts = 0

        def attempt(tx: Any) -> T:
            nonlocal attempts
            attempts += 1
            if self._recorded is None:
                self.rehearsal = _Reads()
                work(_Tx(tx, self.rehearsal, replay=False))
                raise _Rehearsed
            if attempts > 1:  # a re-run after a lost race: a new transaction
                return work(tx)
            replayed = _Reads(recorded=self._recorded.recorded)
            return work(_Tx(tx, replayed, replay=True))

        return await self._store.write(attempt, on_commit)

    async def close(self) -> None:
        return None


async def race(
    store: Store,
    slow: Callable[[Store], Awaitable[T]],
    fast: Callable[[], Awaitable[object]],
) -> T | DomainError:
    """Runs `slow` (a call through services built on the store it is given) with its
    plain reads taken before `fast` commits and its writes after; returns what `slow`
    returned, or the domain error it raised (what its caller would have seen)."""
    rehearsing = _RacingStore(store, None)
    with contextlib.suppress(_Rehearsed, DomainError):
        await slow(rehearsing)
    await fast()
    try:
        return await slow(_RacingStore(store, rehearsing.rehearsal))
    except DomainError as error:
        return error
