"""Sessions on the in-memory adapters with a clock we control: the refresh grace, and
signing out reaching access tokens, tickets and live connections."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace

import pytest

from hubbub.adapters.local_hub import Connection, LocalHub
from hubbub.adapters.local_sessions import StoredSessions
from hubbub.adapters.memory import MemoryStore
from hubbub.bootstrap import build
from hubbub.domain.errors import Unauthorized
from hubbub.ports import TokenSet
from hubbub.services.auth import AuthService
from tests.unit.conftest import SETTINGS, ManualClock


@dataclass
class _Sink:
    closed: list[tuple[int, str]] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)

    async def send(self, text: str) -> None:
        self.sent.append(text)

    async def close(self, code: int, reason: str) -> None:
        self.closed.append((code, reason))


@dataclass
class _Setup:
    clock: ManualClock
    store: MemoryStore
    hub: LocalHub
    auth: AuthService


@pytest.fixture
def setup() -> _Setup:
    clock = ManualClock()
    platform = build(replace(SETTINGS, confirmation="none"), clock=clock)
    assert isinstance(platform.store, MemoryStore)
    return _Setup(clock, platform.store, platform.hub, platform.auth)


async def _signed_in(setup: _Setup, name: str = "ada") -> TokenSet:
    await setup.auth.sign_up(name, f"{name}@x.io", "pass phrase 1", name.title(), "ip")
    tokens, _ = await setup.auth.sign_in(name, "pass phrase 1", "ip")
    return tokens


async def _closes(sink: _Sink) -> list[tuple[int, str]]:
    """The close frames sent so far, once the hub's close tasks have had their turn."""
    for _ in range(10):
        if sink.closed:
            break
        await asyncio.sleep(0)
    return sink.closed


async def test_a_token_presented_again_within_the_grace_gets_the_same_successor(
    setup: _Setup,
) -> None:
    tokens = await _signed_in(setup)
    first = await setup.auth.refresh(tokens.refresh_token)
    setup.clock.advance(9.9)
    second = await setup.auth.refresh(tokens.refresh_token)
    assert second.refresh_token == first.refresh_token
    for access in (first.access_token, second.access_token):
        assert (await setup.auth.authenticate(access)).user_id
    assert (await setup.auth.refresh(first.refresh_token)).refresh_token


async def test_a_token_presented_after_the_grace_ends_the_session(setup: _Setup) -> None:
    tokens = await _signed_in(setup)
    rotated = await setup.auth.refresh(tokens.refresh_token)
    session = await setup.auth.authenticate(rotated.access_token)
    sink = _Sink()
    setup.hub.attach(Connection("c1", session.user_id, 10, sink, session.session_id))
    setup.clock.advance(10)
    with pytest.raises(Unauthorized):
        await setup.auth.refresh(tokens.refresh_token)
    with pytest.raises(Unauthorized):
        await setup.auth.refresh(rotated.refresh_token)
    with pytest.raises(Unauthorized):
        await setup.auth.authenticate(rotated.access_token)
    assert await _closes(sink) == [(4401, "session ended")]


async def test_signing_out_reaches_tokens_tickets_and_connections_of_that_session_only(
    setup: _Setup,
) -> None:
    laptop = await _signed_in(setup)
    phone, _ = await setup.auth.sign_in("ada", "pass phrase 1", "ip")
    laptop_session = await setup.auth.authenticate(laptop.access_token)
    phone_session = await setup.auth.authenticate(phone.access_token)
    assert laptop_session.session_id != phone_session.session_id
    laptop_sink, phone_sink = _Sink(), _Sink()
    setup.hub.attach(Connection("c1", "u", 10, laptop_sink, laptop_session.session_id))
    setup.hub.attach(Connection("c2", "u", 10, phone_sink, phone_session.session_id))
    ticket, _ = await setup.auth.issue_ticket(laptop_session)

    await setup.auth.sign_out(laptop_session, None, everywhere=False)
    with pytest.raises(Unauthorized):
        await setup.auth.authenticate(laptop.access_token)
    assert await setup.auth.redeem_ticket(ticket) is None
    assert await _closes(laptop_sink) == [(4401, "session ended")]
    assert phone_sink.closed == []
    assert await setup.auth.authenticate(phone.access_token) == phone_session

    # A handshake that passed the ticket check before the sign-out is closed on attach.
    late = _Sink()
    setup.hub.attach(Connection("c3", "u", 10, late, laptop_session.session_id))
    assert await _closes(late) == [(4401, "session ended")]

    await setup.auth.sign_out(phone_session, None, everywhere=True)
    with pytest.raises(Unauthorized):
        await setup.auth.authenticate(phone.access_token)
    assert await _closes(phone_sink) == [(4401, "session ended")]


async def test_ended_sessions_are_forgotten_once_their_access_tokens_have_expired(
    setup: _Setup,
) -> None:
    tokens = await _signed_in(setup)
    session = await setup.auth.authenticate(tokens.access_token)
    await setup.auth.sign_out(session, None, everywhere=False)
    recorded = await setup.store.read(lambda tx: tx.sessions.live(setup.clock.now()))
    assert set(recorded) == {session.session_id}
    setup.clock.advance(901)
    assert await setup.store.read(lambda tx: tx.sessions.live(setup.clock.now())) == {}
    # By then the token itself has expired: still refused, for that reason.
    with pytest.raises(Unauthorized):
        await setup.auth.authenticate(tokens.access_token)


async def test_a_fresh_process_still_knows_the_ended_sessions(setup: _Setup) -> None:
    tokens = await _signed_in(setup)
    session = await setup.auth.authenticate(tokens.access_token)
    await setup.auth.sign_out(session, None, everywhere=False)
    restarted = StoredSessions(setup.store, setup.clock)
    assert await restarted.is_ended(session.session_id)
    assert not await restarted.is_ended("another")
