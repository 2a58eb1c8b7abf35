"""Identity under many writers (issue 9): refresh-token rotation, account changes and
sign-up, driven through the services as `bootstrap.build` wires them, on the memory and
SQLite stores.

Memory and SQLite run one write transaction at a time, so a race between two
processes cannot happen on them by itself. `StaleReads` stages it: it hands a
transaction the answer a read had *before* another transaction committed, which is
what PostgreSQL's READ COMMITTED gives a transaction whose first statement ran before
that commit and whose later statements ran after it. It can also hold a write back
while another process goes ahead, to stand for a process that is busy between two
writes (hashing a password)."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest

from hubbub.adapters.memory import RecordingPublisher
from hubbub.bootstrap import Platform, build
from hubbub.config import Settings
from hubbub.domain.errors import Conflict, Unauthorized
from hubbub.ports import Credential, RefreshToken, Store, TokenSet, Transaction
from tests.dynamodb import settings_on_dynamodb
from tests.postgres import settings_on_postgres
from tests.unit.conftest import SETTINGS, CapturingCodeSender, ManualClock

T = TypeVar("T")


class _Repository:
    def __init__(self, inner: Any, name: str, planted: dict[tuple[Any, ...], Any]) -> None:
        self._inner, self._name, self._planted = inner, name, planted

    def __getattr__(self, method: str) -> Any:
        real = getattr(self._inner, method)

        def call(*args: Any, **options: Any) -> Any:
            key = (self._name, method, args)
            if key in self._planted and not options:
                return self._planted.pop(key)
            return real(*args, **options)

        return call


class _Transaction:
    def __init__(self, inner: Transaction, planted: dict[tuple[Any, ...], Any]) -> None:
        self._inner, self._planted = inner, planted

    def __getattr__(self, name: str) -> Any:
        return _Repository(getattr(self._inner, name), name, self._planted)


class StaleReads:
    """A `Store` as one more process sees a store it shares with others.

    `remember(repository, method, *args)` answers that read now and keeps the answer:
    the next transaction through this view that makes the same read (same arguments)
    gets the kept answer, once, as if that statement had run at `remember` time and
    everything after it runs when the transaction does. Every other read, a repeat of
    the same read, and every write see the store as it is.

    `hold_write(after=n)` lets n more writes through this view, then holds the next
    one before it starts until `release()`; `holding` is set while it waits."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.commits_in_call_order = store.commits_in_call_order
        self._planted: dict[tuple[Any, ...], Any] = {}
        self._let_through: int | None = None
        self.holding = asyncio.Event()
        self._released = asyncio.Event()

    async def remember(self, repository: str, method: str, *args: Any) -> None:
        def read(tx: Transaction) -> Any:
            return getattr(getattr(tx, repository), method)(*args)

        self._planted[(repository, method, args)] = await self._store.read(read)

    def hold_write(self, *, after: int) -> None:
        self._let_through = after

    def release(self) -> None:
        self._released.set()

    async def read(self, work: Callable[[Any], T], *, quick: bool = False) -> T:
        return await self._store.read(lambda tx: work(_Transaction(tx, self._planted)), quick=quick)

    async def write(
        self, work: Callable[[Any], T], on_commit: Callable[[T], None] | None = None
    ) -> T:
        if self._let_through is not None:
            if self._let_through == 0:
                self._let_through = None
                self.holding.set()
                await self._released.wait()
            else:
                self._let_through -= 1
        return await self._store.write(lambda tx: work(_Transaction(tx, self._planted)), on_commit)

    async def close(self) -> None:
        """The store belongs to the deployment, not to this process."""


@dataclass
class Deployment:
    """Processes sharing one store and one clock, each wired by `bootstrap.build`."""

    settings: Settings
    clock: ManualClock
    store: Store
    codes: CapturingCodeSender  # the mailbox: the last code sent to each username

    def process(self, store: Store | None = None) -> Platform:
        return build(
            self.settings,
            clock=self.clock,
            code_sender=self.codes,
            publisher=RecordingPublisher(),
            store=store or self.store,
        )

    def process_with_stale_reads(self) -> tuple[Platform, StaleReads]:
        view = StaleReads(self.store)
        return self.process(view), view


@pytest.fixture(params=["memory", "sqlite", "postgres", "dynamodb"])
async def deployment(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Deployment]:
    settings = SETTINGS  # confirmation codes on
    if request.param == "sqlite":
        settings = replace(settings, store="sqlite", data_dir=tmp_path, sqlite_synchronous="NORMAL")
    if request.param == "postgres":
        settings = settings_on_postgres(settings, request)
    if request.param == "dynamodb":
        settings = settings_on_dynamodb(settings, request)
    clock, codes = ManualClock(), CapturingCodeSender()
    first = build(settings, clock=clock, code_sender=codes, publisher=RecordingPublisher())
    yield Deployment(settings, clock, first.store, codes)
    await first.close()


def _hashed(refresh_token: str) -> str:
    """How the local identity keys a refresh token in the store (SHA-256)."""
    return hashlib.sha256(refresh_token.encode()).hexdigest()


async def _signed_up(deployment: Deployment, platform: Platform, name: str) -> None:
    await platform.auth.sign_up(name, f"{name}@example.test", "long enough", name, "ip")
    await platform.auth.confirm(name, deployment.codes.codes[name])


async def _signed_in(deployment: Deployment, platform: Platform, name: str = "ana") -> TokenSet:
    await _signed_up(deployment, platform, name)
    tokens, _ = await platform.auth.sign_in(name, "long enough", "ip")
    return tokens


async def test_one_refresh_token_yields_one_chain(deployment: Deployment) -> None:
    """A second tab's refresh read the token before the first tab's rotation
    committed, and commits after the first tab has moved on: a rotated token must not
    come back to life as a second chain that works after the grace."""
    a = deployment.process()
    b, b_view = deployment.process_with_stale_reads()
    first = await _signed_in(deployment, a)
    await b_view.remember("credentials", "get_refresh", _hashed(first.refresh_token))
    second = await a.auth.refresh(first.refresh_token)
    await a.auth.refresh(second.refresh_token)  # the first tab moves on
    with pytest.raises(Unauthorized):
        # Its successor was rotated in turn, so this is reuse, whatever it read earlier.
        await b.auth.refresh(first.refresh_token)
    deployment.clock.advance(a.settings.refresh_grace_seconds + 1)
    with pytest.raises(Unauthorized):
        await a.auth.refresh(second.refresh_token)


async def test_the_loser_of_a_refresh_race_gets_the_same_successor(
    deployment: Deployment,
) -> None:
    """Two refreshes of one token that both read it unused: the one that commits
    second gets the first one's successor, not a revocation and not a second chain."""
    a = deployment.process()
    b, b_view = deployment.process_with_stale_reads()
    first = await _signed_in(deployment, a)
    await b_view.remember("credentials", "get_refresh", _hashed(first.refresh_token))
    winner = await a.auth.refresh(first.refresh_token)
    loser = await b.auth.refresh(first.refresh_token)
    assert loser.refresh_token == winner.refresh_token
    deployment.clock.advance(a.settings.refresh_grace_seconds + 1)
    onward = await b.auth.refresh(loser.refresh_token)  # the one chain goes on
    await a.auth.authenticate(onward.access_token)
    with pytest.raises(Unauthorized):
        await a.auth.refresh(first.refresh_token)  # and reuse after the grace is caught


async def test_refresh_racing_sign_out_does_not_revive_the_session(
    deployment: Deployment,
) -> None:
    """A refresh read its token, then the user signed out, then the refresh
    committed: the session stays ended, with no refresh token left to bring it back
    once its access tokens have expired."""
    a = deployment.process()
    b, b_view = deployment.process_with_stale_reads()
    tokens = await _signed_in(deployment, a)
    session = await a.auth.authenticate(tokens.access_token)
    await b_view.remember("credentials", "get_refresh", _hashed(tokens.refresh_token))
    await a.auth.sign_out(session, tokens.refresh_token, everywhere=False)
    with pytest.raises(Unauthorized):
        await b.auth.refresh(tokens.refresh_token)
    left = await a.store.read(lambda tx: tx.credentials.families_of(session.user_id))
    assert session.session_id not in left


async def test_a_sign_up_in_progress_is_not_freed_by_a_process_started_later(
    deployment: Deployment,
) -> None:
    """Process A has written carol's profile and is still busy (hashing) before
    writing her account; process B, started after that, gets carol's sign-up too:
    B must be refused, and A's sign-up must finish whole."""
    a, a_view = deployment.process_with_stale_reads()
    a_view.hold_write(after=1)  # the profile goes in; the account waits
    signing_up = asyncio.create_task(
        a.auth.sign_up("carol", "carol@example.test", "carol's password", "Carol", "ip-a")
    )
    await asyncio.wait_for(a_view.holding.wait(), timeout=60)
    deployment.clock.advance(1)
    b = deployment.process()  # started after A's sign-up began
    with pytest.raises(Conflict):
        await b.auth.sign_up("carol", "carol@example.test", "other password", "C", "ip-b")
    a_view.release()
    user, _ = await signing_up
    assert user.username == "carol"
    await a.auth.confirm("carol", deployment.codes.codes["carol"])
    _, signed_in = await b.auth.sign_in("carol", "carol's password", "ip-b")
    assert signed_in.id == user.id
    with pytest.raises(Unauthorized):
        await b.auth.sign_in("carol", "other password", "ip-b")


async def test_a_reset_password_is_not_undone_by_a_racing_forgot_password(
    deployment: Deployment,
) -> None:
    """Anyone may ask for a reset code for any account. One such request read the
    account before its owner's password reset committed and wrote after it: the new
    password must stay, and the old one must not come back."""
    a = deployment.process()
    b, b_view = deployment.process_with_stale_reads()
    await _signed_up(deployment, a, "ana")
    await a.auth.forgot_password("ana")
    await b_view.remember("credentials", "by_login", "ana")
    await a.auth.reset_password("ana", deployment.codes.codes["ana"], "new password")
    await b.auth.forgot_password("ana")
    await a.auth.sign_in("ana", "new password", "ip")
    with pytest.raises(Unauthorized):
        await a.auth.sign_in("ana", "long enough", "ip")


async def test_confirming_is_not_undone_by_a_racing_resend(deployment: Deployment) -> None:
    """A resend read the account unconfirmed, the user confirmed with the code they
    had, then the resend wrote: the account stays confirmed and signs in."""
    a = deployment.process()
    b, b_view = deployment.process_with_stale_reads()
    await a.auth.sign_up("ana", "ana@example.test", "long enough", "Ana", "ip")
    await b_view.remember("credentials", "by_login", "ana")
    await a.auth.confirm("ana", deployment.codes.codes["ana"])
    await b.auth.resend_code("ana")
    _, user = await a.auth.sign_in("ana", "long enough", "ip")
    assert user.confirmed


async def test_an_expiring_sign_up_confirmed_meanwhile_keeps_its_account(
    deployment: Deployment,
) -> None:
    """An unconfirmed sign-up a day old is replaced by the next sign-up for its name;
    if its owner confirms (with a resent code) while that replacement is under way,
    the owner keeps the account and the newcomer is refused."""
    a = deployment.process()
    b, b_view = deployment.process_with_stale_reads()
    first, _ = await a.auth.sign_up("dan", "dan@example.test", "long enough", "Dan", "ip")
    deployment.clock.advance(23 * 3600)
    await a.auth.resend_code("dan")
    deployment.clock.advance(3600 + 1)
    # B's sign-up reads who holds the name and the account, then the owner confirms.
    await b_view.remember("users", "by_username", "dan")
    await b_view.remember("users", "by_email", "dan@example.test")
    await b_view.remember("credentials", "get", first.id)
    await a.auth.confirm("dan", deployment.codes.codes["dan"])
    with pytest.raises(Conflict):
        await b.auth.sign_up("dan", "dan@example.test", "other password", "D", "ip-b")
    _, user = await a.auth.sign_in("dan", "long enough", "ip")
    assert user.id == first.id


# The conditional writes those guarantees rest on, as every store adapter keeps them.


async def test_a_refresh_token_is_claimed_once_and_never_after_revocation(
    deployment: Deployment,
) -> None:
    store, later = deployment.store, deployment.clock.now()
    token = RefreshToken("r1", "u1", "f1", later + timedelta(days=30))
    assert await store.write(lambda tx: tx.credentials.add_refresh(token))

    def claim(tx: Transaction) -> bool:
        return tx.credentials.claim_refresh("r1", later)

    assert await store.write(claim)
    assert not await store.write(claim)
    stored = await store.read(lambda tx: tx.credentials.get_refresh("r1"))
    assert stored == replace(token, used_at=later)
    await store.write(lambda tx: tx.credentials.revoke_family("f1"))
    assert not await store.write(claim)
    assert await store.read(lambda tx: tx.credentials.get_refresh("r1")) is None


async def test_a_successor_is_added_once_and_only_while_its_predecessor_is_stored(
    deployment: Deployment,
) -> None:
    store, now = deployment.store, deployment.clock.now()
    expires = now + timedelta(days=30)
    first = RefreshToken("r1", "u1", "f1", expires)
    successor = RefreshToken("r2", "u1", "f1", expires)
    assert await store.write(lambda tx: tx.credentials.add_refresh(first))
    assert await store.write(lambda tx: tx.credentials.add_refresh(successor, after="r1"))
    await store.write(lambda tx: tx.credentials.claim_refresh("r2", now))
    # Added again (by a rotation that lost the race), it stays as it is: rotated.
    assert not await store.write(lambda tx: tx.credentials.add_refresh(successor, after="r1"))
    stored = await store.read(lambda tx: tx.credentials.get_refresh("r2"))
    assert stored == replace(successor, used_at=now)
    await store.write(lambda tx: tx.credentials.revoke_family("f1"))
    assert not await store.write(lambda tx: tx.credentials.add_refresh(successor, after="r1"))
    assert await store.read(lambda tx: tx.credentials.families_of("u1")) == set()


async def test_account_changes_apply_only_to_the_state_they_were_meant_for(
    deployment: Deployment,
) -> None:
    store, now = deployment.store, deployment.clock.now()
    account = Credential("u1", "ana", "ana@x.io", "hash", confirmed=False)
    await store.write(lambda tx: tx.credentials.put(account))

    later = now + timedelta(hours=1)
    assert not await store.write(
        lambda tx: tx.credentials.replace_code("u1", "c", later, confirmed=True)
    )
    assert await store.write(
        lambda tx: tx.credentials.replace_code("u1", "c1", later, confirmed=False)
    )
    assert not await store.write(
        lambda tx: tx.credentials.set_password("u1", "new", code_hash="c1")
    )
    assert not await store.write(lambda tx: tx.credentials.confirm("u1", "an older code"))
    assert await store.write(lambda tx: tx.credentials.confirm("u1", "c1"))
    assert not await store.write(lambda tx: tx.credentials.confirm("u1", "c1"))
    assert not await store.write(lambda tx: tx.credentials.delete_unconfirmed("u1"))
    assert await store.write(
        lambda tx: tx.credentials.replace_code("u1", "r1", later, confirmed=True)
    )
    assert not await store.write(
        lambda tx: tx.credentials.set_password("u1", "new", code_hash="r0")
    )
    assert await store.write(lambda tx: tx.credentials.set_password("u1", "new", code_hash="r1"))
    assert not await store.write(
        lambda tx: tx.credentials.set_password("u1", "newer", code_hash="r1")
    )
    stored = await store.read(lambda tx: tx.credentials.get("u1"))
    assert stored == replace(account, password_hash="new", confirmed=True)
    pending = Credential("u2", "bo", "bo@x.io", "hash", confirmed=False)
    await store.write(lambda tx: tx.credentials.put(pending))
    assert await store.write(lambda tx: tx.credentials.delete_unconfirmed("u2"))
    assert await store.read(lambda tx: tx.credentials.by_login("bo")) is None
