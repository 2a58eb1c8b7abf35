"""The DynamoDB store: the tables of `dynamodb_tables`, shared by every process and
every Lambda function of a deployment.

Optimistic transactions. DynamoDB has no transaction that reads, waits and writes;
it has `TransactWriteItems`: up to 100 conditional writes that all happen or none.
So a transaction function runs against a `_Tx` whose reads go to DynamoDB (strongly
consistent on the tables, eventually consistent on the indexes) and whose writes are
buffered (later reads of the same run see them, queries included). Every item carries
a version (`ver`); the commit is one `TransactWriteItems` in which each written item
is conditional on the version this run read (or on not existing), and each locked
item (`lock`, the conversation row that `next_seq`/`append` move, a family's row for
refresh rotation) has its version bumped under the same condition. If any condition
fails, another transaction committed in between: the function is run again from the
start (as PostgreSQL re-runs a serialization failure), up to `_COMMIT_ATTEMPTS` times,
then `Conflict`. A repository's own `LostRace` counts against `WRITE_ATTEMPTS`, as on
every store. A function that wrote nothing sends nothing.

Locking reads are current because they are consistent reads, and serialise because a
lock is a version bump: of two transactions that locked the same row, the second to
commit fails its condition and runs again, reading what the first committed.

Commit order: `on_commit` results are handed over in the order the transactions took
a ticket, just before sending their `TransactWriteItems` (`commit_order.CommitOrder`, shared with
PostgreSQL's reasoning). A transaction whose final run read version v of a row took
its ticket after the commit that wrote v had returned, so whenever two commits touch
the same row (and so their order matters), ticket order is commit order.

A commit could need more than 100 actions only for a big group. Creating one writes
the surplus memberships ahead of the commit (nothing reaches them before the
conversation row exists; they are deleted again if the commit fails). Deleting one
commits its row, direct key and as many children as fit; each member's departure
(two writes) that does not fit is committed right after, in a small transaction of
its own; the remaining children (messages, log, reactions, memberships) are deleted
by batch writes. All of it happens before `write` returns. The children are
unreachable once the conversation row is gone (every path to them starts from a
conversation the caller is in), so a crash in between leaves only garbage, and
departures not yet recorded (a client that learned of the group live and resumes
from a cursor would keep showing it until it reloads).

Modules: `dynamodb_core` (items, versions, the run and its commit), `dynamodb_repos`
(the repositories), `dynamodb_tables` (the tables), this one (the store: threads,
re-runs, commit order).

No Scan anywhere: every read is a GetItem, a BatchGetItem or a Query on a key or an
index. Full-text message search is not offered (`SearchUnavailable`): DynamoDB has no
text index, and scanning a user's conversations is not a query.
"""

import asyncio
import random
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from hubbub.adapters.commit_order import CommitOrder, settle
from hubbub.adapters.dynamodb_core import (
    _COMMIT_ATTEMPTS,
    _STRIPES,
    Key,
    _Stale,
    _Tx,
)
from hubbub.adapters.dynamodb_repos import DynamoTransaction
from hubbub.domain.errors import Conflict
from hubbub.ports import WRITE_ATTEMPTS, LostRace

T = TypeVar("T")

# ---- the store ------------------------------------------------------------------


def client(workers: int = 16) -> Any:
    """A DynamoDB client (thread-safe) with a connection per worker thread; the
    endpoint comes from the standard AWS_ENDPOINT_URL(_DYNAMODB) variables."""
    config = Config(
        max_pool_connections=workers * 2,
        retries={"mode": "standard", "max_attempts": 5},
        connect_timeout=5,
        read_timeout=30,
    )
    return boto3.client("dynamodb", config=config)


class DynamoStore:
    """A `Store` in the DynamoDB tables named `prefix` + logical name (created by
    `dynamodb_tables.create_tables`, i.e. `hubbub migrate`)."""

    # Writes run on parallel threads and commit optimistically.
    commits_in_call_order = False

    def __init__(self, prefix: str, *, workers: int = 16, dynamodb: Any = None) -> None:
        self.prefix = prefix
        self.client = dynamodb if dynamodb is not None else client(workers)
        self._workers = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dynamodb")
        self._commit_order = CommitOrder()
        self._closed = False
        self._locks = [threading.Lock() for _ in range(_STRIPES)]

    def _stripes(self, keys: Iterable[Key]) -> list[threading.Lock]:
        """The stripe locks of `keys`, each once, in a fixed order (no deadlock)."""
        found = sorted({zlib.crc32("\x1f".join(key).encode()) % _STRIPES for key in keys})
        return [self._locks[i] for i in found]

    async def read(self, work: Callable[[DynamoTransaction], T], *, quick: bool = False) -> T:
        if self._closed:
            raise RuntimeError("store is closed")
        run = partial(self._read, work)
        return await asyncio.get_running_loop().run_in_executor(self._workers, run)

    def _read(self, work: Callable[[DynamoTransaction], T]) -> T:
        return work(DynamoTransaction(_Tx(self, writing=False)))

    async def write(
        self,
        work: Callable[[DynamoTransaction], T],
        on_commit: Callable[[T], None] | None = None,
    ) -> T:
        if self._closed:
            raise RuntimeError("store is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._workers.submit(self._write, work, on_commit, loop, future)
        return await asyncio.shield(future)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await asyncio.to_thread(self._workers.shutdown, wait=True)

    def _write(
        self,
        work: Callable[[DynamoTransaction], T],
        on_commit: Callable[[T], None] | None,
        loop: asyncio.AbstractEventLoop,
        future: asyncio.Future[T],
    ) -> None:
        held: list[threading.Lock] = []
        try:
            races = losses = 0
            while True:
                tx = _Tx(self, writing=True)
                try:
                    result = work(DynamoTransaction(tx))
                except _Stale as stale:
                    losses += 1
                    if losses >= _COMMIT_ATTEMPTS:
                        raise Conflict("Too many concurrent changes; try again.") from stale
                    _back_off(losses)
                    continue
                except LostRace as lost:
                    races += 1
                    if races >= WRITE_ATTEMPTS:
                        raise Conflict(lost.message) from lost
                    continue
                need = self._stripes(tx.written())
                if not {id(n) for n in need} <= {id(h) for h in held}:
                    waited = _swap(held, need)
                    held = need
                    if waited:
                        # Another writer of this process committed these rows while
                        # we waited: run again, now holding them.
                        continue
                actions, later, ahead, follow = tx.actions()
                if ahead:
                    self._batch(ahead, "PutRequest")
                hand_over = partial(
                    loop.call_soon_threadsafe, settle, future, on_commit, result, None
                )
                ticket = self._commit_order.take()
                if actions:
                    try:
                        self.client.transact_write_items(TransactItems=actions)
                    except ClientError as error:
                        self._commit_order.done(ticket, None)
                        if ahead:
                            self._forget(ahead)
                        if not _lost(error):
                            raise
                        losses += 1
                        if losses >= _COMMIT_ATTEMPTS:
                            raise Conflict("Too many concurrent changes; try again.") from error
                        # Another process won.
                        _back_off(losses)
                        continue
                    except BaseException:
                        self._commit_order.done(ticket, None)
                        if ahead:
                            self._forget(ahead)
                        raise
                try:
                    # Before the hand-over: when `write` returns, all of it is done.
                    for more in follow:
                        self._follow(more)
                    if later:
                        self._clean_up(later)
                finally:
                    self._commit_order.done(ticket, hand_over)
                _swap(held, [])
                held = []
                return
        except BaseException as failure:
            _swap(held, [])
            loop.call_soon_threadsafe(settle, future, None, None, failure)

    def _follow(self, work: Callable[[DynamoTransaction], object]) -> None:
        """Commits a follow-up transaction (`_Tx.follow_up`): small, so it always fits;
        re-run while it loses races, like any write."""
        for attempt in range(1, _COMMIT_ATTEMPTS + 1):
            tx = _Tx(self, writing=True)
            work(DynamoTransaction(tx))
            actions, _, _, _ = tx.actions()
            try:
                if actions:
                    self.client.transact_write_items(TransactItems=actions)
                return
            except ClientError as error:
                if not _lost(error) or attempt == _COMMIT_ATTEMPTS:
                    raise
                _back_off(attempt)

    def _clean_up(self, keys: Sequence[Key]) -> None:
        """Deletes what did not fit in a commit (module docstring)."""
        requests = [
            {"table": self.prefix + table, "item": {"pk": {"S": pk}, "sk": {"S": sk}}}
            for table, pk, sk in keys
        ]
        self._batch(requests, "DeleteRequest")

    def _forget(self, ahead: list[dict[str, Any]]) -> None:
        """Deletes items written ahead of a commit that did not happen."""
        keys = [
            {"table": r["table"], "item": {"pk": r["item"]["pk"], "sk": r["item"]["sk"]}}
            for r in ahead
        ]
        self._batch(keys, "DeleteRequest")

    def _batch(self, requests: list[dict[str, Any]], kind: str) -> None:
        """BatchWriteItem, 25 at a time, retrying what DynamoDB left unprocessed."""
        field = "Item" if kind == "PutRequest" else "Key"
        for start in range(0, len(requests), 25):
            pending: dict[str, Any] = {}
            for request in requests[start : start + 25]:
                pending.setdefault(request["table"], []).append({kind: {field: request["item"]}})
            pause = 0.01
            while pending:
                response = self.client.batch_write_item(RequestItems=pending)
                pending = response.get("UnprocessedItems") or {}
                if pending:
                    time.sleep(pause)
                    pause = min(pause * 2, 1.0)


def _swap(held: list[threading.Lock], need: list[threading.Lock]) -> bool:
    """Releases `held` and takes `need` (in stripe order, so never a deadlock);
    True if it had to wait for one."""
    for lock in reversed(held):
        lock.release()
    waited = False
    for lock in need:
        if not lock.acquire(blocking=False):
            waited = True
            lock.acquire()
    return waited


def _back_off(losses: int) -> None:
    """Waits a little after the `losses`-th lost run, more each time, with jitter."""
    time.sleep(random.uniform(0, 0.002 * 2 ** min(losses, 7)))


def _lost(error: ClientError) -> bool:
    code = error.response.get("Error", {}).get("Code", "")
    if code == "TransactionConflictException":
        return True
    if code != "TransactionCanceledException":
        return False
    reasons = error.response.get("CancellationReasons") or []
    codes = {r.get("Code") for r in reasons} - {"None", None}
    # Conflicts and failed conditions are races; anything else (validation) is not.
    return not codes or codes <= {"ConditionalCheckFailed", "TransactionConflict"}
