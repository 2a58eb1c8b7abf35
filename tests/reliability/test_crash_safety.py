"""Crash safety: traffic from several WebSocket and REST senders, `kill -9` of the
server at a random moment, restart on the same data; several rounds. On one process
(SQLite), and on two sharing one PostgreSQL database with the senders and the devices
that read spread over both, one of them killed while the other serves on.

After each restart: every acknowledged message is there with its id, seq and body;
each conversation's seqs are exactly 1..n; no (sender, clientMessageId) twice; the
event log agrees with the messages: every member's device on the other process got
each of them through /api/sync, once; retrying the sends that were in flight with the
same clientMessageId yields exactly one message each."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import signal
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from hubbub.domain.errors import Conflict
from hubbub.domain.models import User
from hubbub.services.auth import ABANDONED_AFTER
from tests.reliability.helpers import Deployment, own_server
from tests.support import Account, Api, Reader, ServerProcess, open_socket
from tests.unit.conftest import SETTINGS, World, make_world

ROUNDS = 4
WS_SENDERS = 3
REST_SENDERS = 3
AFTER_KILL = 10  # acks the process still up gives after the other one's kill


@dataclass
class Ledger:
    """What the clients know: every send they tried, and the acks they got."""

    attempted: dict[str, tuple[Account, str, str]] = field(default_factory=dict)
    acked: dict[str, dict[str, Any]] = field(default_factory=dict)

    def acks_from(self, tags: list[str]) -> int:
        return sum(cmid.rsplit("-", 1)[0] in tags for cmid in self.acked)


@dataclass
class Traffic:
    """What a round's senders share: where to send, what they know, when to stop."""

    rooms: list[str]
    ledger: Ledger
    stop: asyncio.Event = field(default_factory=asyncio.Event)


async def _rest_sender(
    api: Api, me: Account, tag: str, killed: asyncio.Event, traffic: Traffic
) -> None:
    """Sends until told to stop; only the kill of its process excuses a failed request."""
    rng, ledger = random.Random(tag), traffic.ledger
    for n in itertools.count():
        if traffic.stop.is_set():
            return
        cmid = f"{tag}-{n}"
        room = rng.choice(traffic.rooms)
        body = f"{me.username} rest {n}"
        ledger.attempted[cmid] = (me, room, body)
        try:
            reply = await api.call(
                "POST",
                f"/conversations/{room}/messages",
                me,
                json={"clientMessageId": cmid, "body": body},
            )
        except httpx.HTTPError:
            if killed.is_set():
                return  # the kill cut the request: the retry after the restart settles it
            raise
        assert reply.status_code == 201, reply.text
        ledger.acked[cmid] = reply.json()["message"]


async def _ws_sender(
    api: Api, me: Account, tag: str, killed: asyncio.Event, traffic: Traffic
) -> None:
    """Sends until told to stop, or until the kill of its process cuts the connection.
    Every reply must be an ack (or a rate limit, waited out); only a connection cut by
    the kill excuses a missing one."""
    rng, ledger = random.Random(tag), traffic.ledger
    try:
        async with open_socket(api, me) as socket_:
            for n in itertools.count():
                if traffic.stop.is_set():
                    return
                cmid = f"{tag}-{n}"
                room = rng.choice(traffic.rooms)
                body = f"{me.username} ws {n}"
                ledger.attempted[cmid] = (me, room, body)
                try:
                    reply = await socket_.request(
                        "sendMessage",
                        within=30,
                        conversationId=room,
                        clientMessageId=cmid,
                        body=body,
                    )
                except AssertionError:  # the connection ended without a reply
                    if killed.is_set() and socket_.closed:
                        return
                    raise
                if reply["type"] == "error" and reply["error"]["code"] == "rate_limited":
                    await asyncio.sleep(reply["error"].get("details", {}).get("retryAfter", 0.5))
                    continue
                assert reply["type"] == "ack", reply
                ledger.acked[cmid] = reply["message"]
    except (OSError, websockets.ConnectionClosed, httpx.HTTPError):
        if not killed.is_set():
            raise


async def _until(condition: Callable[[], bool], within: float, what: str) -> None:
    """Polls `condition` until it holds; fails after `within` seconds."""
    deadline = asyncio.get_running_loop().time() + within
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.005)


async def _traffic_then_kill(
    deployment: Deployment,
    victim: int,
    people: list[Account],
    rooms: list[str],
    readers: list[Reader],
    ledger: Ledger,
    tag: str,
    rng: random.Random,
) -> None:
    """Runs every sender (sender i on process i) and every reader, then kills process
    `victim` at a random point in the traffic, counted in acks (not in seconds, which
    would depend on the machine's speed), with both kinds of sender in full flow. On two
    processes the other one serves on: its senders go on until they have more acks.
    Returns once every sender and reader has stopped."""
    d = deployment
    killed = [asyncio.Event() for _ in d.servers]
    traffic = Traffic(rooms, ledger)
    kinds = [(_ws_sender, "w")] * WS_SENDERS + [(_rest_sender, "h")] * REST_SENDERS
    tags = [f"{tag}{kind}{i}" for i, (_, kind) in enumerate(kinds)]
    tasks = [
        asyncio.create_task(sender(d.api(i), people[i], tags[i], killed[d.index(i)], traffic))
        for i, (sender, _) in enumerate(kinds)
    ] + [asyncio.create_task(r.follow(traffic.stop, killed[d.apis.index(r.api)])) for r in readers]
    ws_goal, rest_goal = rng.randint(10, 60), rng.randint(10, 60)
    survivors = [t for i, t in enumerate(tags) if d.index(i) != d.index(victim)]

    def ready() -> bool:
        a_task_stopped = any(t.done() for t in tasks)  # it failed: show why
        return a_task_stopped or (
            ledger.acks_from(tags[:WS_SENDERS]) >= ws_goal
            and ledger.acks_from(tags[WS_SENDERS:]) >= rest_goal
        )

    try:
        await _until(ready, 120, "acks from every kind of sender")
        killed[d.index(victim)].set()
        d.stop(victim, signal.SIGKILL)
        at_kill = ledger.acks_from(survivors)
        await _until(
            lambda: (
                any(t.done() for t in tasks)
                or ledger.acks_from(survivors) >= at_kill + AFTER_KILL * bool(survivors)
            ),
            120,
            "acks from the process still up",
        )
    finally:
        killed[d.index(victim)].set()
        d.stop(victim, signal.SIGKILL)
        traffic.stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 60)


async def _check_store(
    api: Api, people: list[Account], rooms: list[str], ledger: Ledger, readers: list[Reader]
) -> int:
    stored: dict[str, dict[str, Any]] = {}
    for room in rooms:
        messages = await api.history_all(people[0], room)
        assert messages is not None
        assert [m["seq"] for m in messages] == list(range(1, len(messages) + 1)), room
        keys = [(m["senderId"], m["clientMessageId"]) for m in messages]
        assert len(keys) == len(set(keys)), "a clientMessageId was stored twice"
        for message in messages:
            stored[message["clientMessageId"]] = message
    for cmid, acked in ledger.acked.items():
        assert cmid in stored, f"acknowledged message {cmid} was lost"
        kept = stored[cmid]
        assert (kept["id"], kept["seq"], kept["body"]) == (
            acked["id"],
            acked["seq"],
            acked["body"],
        ), (acked, kept)
    # The event log was written in the same transactions: every device, on whichever
    # process, got one message.created for each stored message, in seq order, and none
    # for anything else, whichever process stored it.
    for reader in readers:
        await reader.catch_up()
        for room in rooms:
            expected = sorted(
                (m for m in stored.values() if m["conversationId"] == room),
                key=lambda m: int(m["seq"]),
            )
            assert reader.created(room) == [m["id"] for m in expected], room
    return len(stored)


async def _retry_in_flight(api: Api, ledger: Ledger) -> tuple[int, int]:
    """Resends every attempted but unacknowledged message with its clientMessageId;
    returns how many, and how many of those had been committed before the kill."""
    retried = committed = 0
    for cmid, (sender, room, body) in list(ledger.attempted.items()):
        if cmid in ledger.acked:
            continue
        reply = await api.call(
            "POST",
            f"/conversations/{room}/messages",
            sender,
            json={"clientMessageId": cmid, "body": body},
        )
        # 200: it had been committed and only the ack was lost; 201: it had not.
        assert reply.status_code in (200, 201), reply.text
        ledger.acked[cmid] = reply.json()["message"]
        retried += 1
        committed += reply.status_code == 200
    return retried, committed


async def test_kill_9_under_load_loses_nothing_acknowledged(deployment: Deployment) -> None:
    """Each round kills one process (on two, they take turns) mid-traffic and starts it
    again. Clients that never heard back retry through the process that stayed up (on
    one, the restarted one). Every member has a device on the process it does not send
    through, which learns everything through /api/sync from page cursors."""
    d = deployment
    rng = random.Random(20261125)
    people = [await d.api(i).sign_up() for i in range(WS_SENDERS + REST_SENDERS)]
    rooms = [
        await d.api(0).group(people[0], "everyone", *people[1:]),
        await d.api(1).group(people[1], "also everyone", *people[0:1], *people[2:]),
    ]
    readers = [await Reader.now(d.api(i + 1), person) for i, person in enumerate(people)]
    ledger = Ledger()
    report = []
    for round_ in range(ROUNDS):
        await _traffic_then_kill(d, round_, people, rooms, readers, ledger, f"r{round_}", rng)
        d.start(round_)
        api = d.api(round_ + 1)
        in_flight = await _retry_in_flight(api, ledger)
        total = await _check_store(api, people, rooms, ledger, readers)
        # Retrying what is already stored, after the restart, changes nothing.
        for n, cmid in enumerate(rng.sample(sorted(ledger.acked), 10)):
            sender, room, body = ledger.attempted[cmid]
            again = await d.api(n).call(
                "POST",
                f"/conversations/{room}/messages",
                sender,
                json={"clientMessageId": cmid, "body": body + " (again)"},
            )
            assert again.status_code == 200
            assert again.json()["message"]["id"] == ledger.acked[cmid]["id"]
        assert await _check_store(d.api(round_), people, rooms, ledger, readers) == total
        report.append((round_, total, in_flight))
    print("rounds (round, stored, (in flight at the kill, of which committed)):", report)


def _kill(server: ServerProcess) -> None:
    assert server.process is not None
    server.process.send_signal(signal.SIGKILL)
    server.process.wait(timeout=10)


async def test_a_sign_up_cut_by_kill_9_is_whole_or_can_be_done_again(tmp_path: Path) -> None:
    """A sign-up writes the profile, then the account, then marks the profile
    confirmed. Killed in between, the name must not be lost: either sign-in works and
    the user can be found, or signing up again works once the cut sign-up counts as
    abandoned (ten minutes on; until then another process might still be hashing its
    password, so the name stays held)."""
    password = "correct horse battery"
    # The real password-hash cost, which is what holds the gap between the writes open.
    with own_server(tmp_path, HUBBUB_PASSWORD_HASH_MEMORY_KIB="65536") as server:
        names: list[str] = []
        cut: list[str] = []
        for round_ in range(2):
            api = Api(server.base_url)
            batch = [f"cut{round_}x{i}" for i in range(8)]
            names += batch

            async def sign_up(name: str, api: Api = api) -> None:
                body = {
                    "username": name,
                    "email": f"{name}@example.test",
                    "password": password,
                    "displayName": name,
                }
                with contextlib.suppress(httpx.HTTPError):
                    await api.call("POST", "/auth/signup", json=body)

            tasks = [asyncio.create_task(sign_up(name)) for name in batch]
            # The kill lands while a sign-up is between its writes: its profile is in
            # the database and its account is not yet.
            seen: list[str] = []

            def between(
                batch: list[str] = batch, tasks: list[Any] = tasks, seen: list[str] = seen
            ) -> bool:
                seen[:] = _half_signed_up(server, batch)
                return bool(seen) or all(t.done() for t in tasks)

            await _until(between, 120, "a sign-up between its writes")
            _kill(server)
            cut += seen
            await asyncio.gather(*tasks)
            await api.close()
            if round_ == 1:  # checking needs no expensive hashes
                server.env["HUBBUB_PASSWORD_HASH_MEMORY_KIB"] = "1024"
            server.start()
        api = Api(server.base_url)
        observer = await api.sign_up()
        half = _half_signed_up(server, names)
        if half:
            held = await api.call(
                "POST",
                "/auth/signup",
                json={
                    "username": half[0],
                    "email": f"{half[0]}@example.test",
                    "password": password,
                    "displayName": half[0],
                },
            )
            assert held.status_code == 409, held.text
        _age_half_sign_ups(server, names, ABANDONED_AFTER + timedelta(minutes=1))
        outcomes: dict[str, str] = {}
        for name in names:
            signin = await api.call(
                "POST", "/auth/signin", json={"username": name, "password": password}
            )
            if signin.status_code == 200:
                found = await api.call("GET", "/users/search", observer, params={"q": name})
                visible = name in [u["username"] for u in found.json()["users"]]
                outcomes[name] = "whole" if visible else "invisible"
                continue
            again = await api.call(
                "POST",
                "/auth/signup",
                json={
                    "username": name,
                    "email": f"{name}@example.test",
                    "password": password,
                    "displayName": name,
                },
            )
            outcomes[name] = "redone" if again.status_code == 201 else f"stuck {again.status_code}"
        await api.close()
        print("sign-ups cut by kill -9:", outcomes)
        assert set(outcomes.values()) <= {"whole", "redone"}, outcomes
        assert cut, "no sign-up was cut between its writes: the test proved nothing"
        assert "redone" in outcomes.values(), outcomes


def _half_signed_up(server: ServerProcess, names: list[str]) -> list[str]:
    """Which of `names` have a profile and no account yet, read from the database."""
    marks = ",".join("?" * len(names))
    uri = f"file:{server.data_dir / 'hubbub.db'}?mode=ro"
    try:
        with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=5)) as db:
            rows = db.execute(
                f"SELECT username FROM users WHERE username IN ({marks}) AND username NOT IN"
                " (SELECT username FROM credentials)",
                names,
            ).fetchall()
    except sqlite3.OperationalError:  # the tables are created at start-up
        return []
    return [row[0] for row in rows]


def _age_half_sign_ups(server: ServerProcess, names: list[str], by: timedelta) -> None:
    """Moves the profiles of `names` that have no account `by` back in time, as if
    that long had passed since the kill."""
    marks = ",".join("?" * len(names))
    with contextlib.closing(sqlite3.connect(server.data_dir / "hubbub.db", timeout=10)) as db:
        rows = db.execute(
            f"SELECT id, created_at FROM users WHERE username IN ({marks}) AND username NOT IN"
            " (SELECT username FROM credentials)",
            names,
        ).fetchall()
        with db:
            for user_id, created_at in rows:
                earlier = datetime.fromisoformat(created_at) - by
                db.execute(
                    "UPDATE users SET created_at = ? WHERE id = ?",
                    (earlier.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00"), user_id),
                )


def _world() -> World:
    """The platform as bootstrap builds it, on the memory store, confirmation off."""
    return make_world(replace(SETTINGS, confirmation="none"))


async def test_a_sign_up_in_progress_is_never_taken_for_an_abandoned_one() -> None:
    """Only a profile older than ten minutes is freed: a younger one may be a sign-up
    still hashing its password, in this process or another."""
    world = _world()
    store, auth, clock = world.store, world.auth, world.clock
    clock.advance(1)
    # A profile whose account is not written yet, as in the middle of a sign-up.
    pending = User("01pending", "pending", "pending@example.test", "P", clock.now(), False)
    await store.write(lambda tx: tx.users.insert(pending))
    with pytest.raises(Conflict):
        await auth.sign_up("pending", "other@example.test", "long enough", "X", "ip")
    with pytest.raises(Conflict):
        await auth.sign_up("someone", "pending@example.test", "long enough", "X", "ip")
    clock.advance(11 * 60)
    user, _ = await auth.sign_up("pending", "pending@example.test", "long enough", "X", "ip")
    assert user.id != pending.id and user.confirmed
    # A finished account is never freed, however old.
    clock.advance(86400)
    with pytest.raises(Conflict):
        await auth.sign_up("pending", "third@example.test", "long enough", "X", "ip")


async def test_sign_in_finishes_a_sign_up_cut_after_the_account_was_written() -> None:
    """Killed between the account and the profile's confirmation, the user can sign
    in; signing in confirms the profile, so others can find and add them again."""
    world = _world()
    store, auth = world.store, world.auth
    whole, _ = await auth.sign_up("halfway", "halfway@example.test", "long enough", "H", "ip")
    # The state such a kill leaves: the account written, the profile not yet confirmed.
    await store.write(lambda tx: tx.users.update(replace(whole, confirmed=False)))
    _, user = await auth.sign_in("halfway", "long enough", "ip")
    assert user.confirmed
    stored = await store.read(lambda tx: tx.users.get(whole.id))
    assert stored is not None and stored.confirmed
