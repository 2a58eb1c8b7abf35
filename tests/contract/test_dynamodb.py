"""What only the DynamoDB store has to get right, on moto's server over HTTP: both ways
a Query's last page ends, the 100-write limit of a transaction on the paths that can
pass it, the tables `hubbub migrate` and the stack create, and no Scan anywhere."""

from __future__ import annotations

import asyncio
import itertools
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hubbub.adapters.dynamodb import DynamoStore
from hubbub.adapters.dynamodb_tables import TABLES, cloudformation_resources, create_tables
from hubbub.adapters.memory import RecordingPublisher
from hubbub.adapters.system import UlidGenerator
from hubbub.domain import rules
from hubbub.domain.models import (
    Conversation,
    ConversationKind,
    LogEntry,
    Membership,
    Message,
    Role,
    User,
)
from hubbub.ports import Transaction
from hubbub.services.conversations import ConversationService
from hubbub.services.messages import MessageService
from tests.dynamodb import client_of, fresh_prefix, settings_on_dynamodb
from tests.moto import MotoServer
from tests.unit.conftest import SETTINGS, make_world

T0 = datetime(2026, 1, 1, tzinfo=UTC)


class PagingClient:
    """A DynamoDB client that answers every Query `page` items at a time and records
    each operation. `empty_tail`: the last full page carries a `LastEvaluatedKey` and an
    empty page follows (DynamoDB); otherwise an exactly full last page carries none
    (moto)."""

    def __init__(self, real: Any, *, page: int, empty_tail: bool) -> None:
        self._real, self._page, self._empty_tail = real, page, empty_tail
        self.operations: list[str] = []

    def __getattr__(self, name: str) -> Any:
        self.operations.append(name)
        return getattr(self._real, name)

    def query(self, **arguments: Any) -> dict[str, Any]:
        self.operations.append("query")
        limit = arguments.pop("Limit", None)
        start = arguments.pop("ExclusiveStartKey", None)
        everything = self._real.query(**arguments)["Items"]
        offset = int(start["offset"]["N"]) if start else 0
        size = min(self._page, limit or self._page)
        chunk = everything[offset : offset + size]
        end = offset + len(chunk)
        answer: dict[str, Any] = {"Items": chunk}
        more = end < len(everything) or (self._empty_tail and len(chunk) == size)
        if more:
            answer["LastEvaluatedKey"] = {"offset": {"N": str(end)}}
        return answer


@pytest.fixture(params=["empty-last-page", "no-key-on-full-page"])
async def paged(request: pytest.FixtureRequest) -> AsyncIterator[tuple[DynamoStore, PagingClient]]:
    server: MotoServer = request.getfixturevalue("dynamodb_moto")
    real = client_of(server)
    client = PagingClient(real, page=3, empty_tail=request.param == "empty-last-page")
    store = DynamoStore(fresh_prefix(server), dynamodb=client)
    yield store, client
    await store.close()


def _message(seq: int) -> Message:
    return Message(f"m{seq}", "c1", seq, "u1", f"body {seq}", f"cm{seq}", T0)


async def test_every_query_reads_past_page_ends_of_both_kinds(
    paged: tuple[DynamoStore, PagingClient],
) -> None:
    store, client = paged

    def seed(tx: Transaction) -> None:
        tx.conversations.insert(
            Conversation("c1", ConversationKind.GROUP, "g", "u1", T0, T0, last_seq=9)
        )
        for n in range(1, 7):  # two full pages of members
            tx.members.put(Membership("c1", f"u{n}", Role.MEMBER, T0 + timedelta(seconds=n)))
        for seq in range(1, 10):  # three full pages of messages
            tx.messages.insert(_message(seq))
        for _ in range(6):
            tx.log.append(LogEntry("c1", "n", T0))

    await store.write(seed)
    members = await store.read(lambda tx: tx.members.of_conversation("c1"))
    assert [m.user_id for m in members] == [f"u{n}" for n in range(1, 7)]
    everything = await store.read(lambda tx: tx.messages.page("c1", before=None, after=0, limit=50))
    assert [m.seq for m in everything] == list(range(1, 10))
    newest = await store.read(lambda tx: tx.messages.page("c1", before=None, after=None, limit=6))
    assert [m.seq for m in newest] == [4, 5, 6, 7, 8, 9]
    entries = await store.read(lambda tx: tx.log.after("c1", 0, 100))
    assert [e.event_seq for e in entries] == [1, 2, 3, 4, 5, 6]
    heads = await store.read(lambda tx: tx.sync.heads("u6"))
    assert [(h.conversation_id, h.last_event_seq) for h in heads] == [("c1", 6)]
    assert "scan" not in client.operations


async def test_a_full_size_group_is_created_and_deleted_whole(
    request: pytest.FixtureRequest,
) -> None:
    """256 members (and their messages) are far past one transaction's 100 writes."""
    world = make_world(settings_on_dynamodb(SETTINGS, request))
    store = world.platform.store
    crowd = [f"p{n:03}" for n in range(rules.MAX_GROUP_MEMBERS)]
    for start in range(0, len(crowd), 20):

        def add(tx: Transaction, names: list[str] = crowd[start : start + 20]) -> None:
            for name in names:
                tx.users.insert(User(name, name, f"{name}@x.io", name.title(), T0))

        await store.write(add)
    ids, clock = UlidGenerator(), world.clock
    conversations = ConversationService(store, RecordingPublisher(), ids, clock)
    messages = MessageService(store, RecordingPublisher(), ids, clock)
    view = await conversations.create_group(crowd[0], "Everyone", crowd[1:])
    group = str(view["id"])
    assert len(await store.read(lambda tx: tx.members.ids_of(group))) == len(crowd)
    for n in range(40):
        await messages.send(crowd[n], group, f"m{n}", f"hello {n}")
    heads = await store.read(lambda tx: tx.sync.heads(crowd[-1]))
    assert [h.conversation_id for h in heads] == [group]

    await conversations.delete(crowd[0], group)
    assert await store.read(lambda tx: tx.conversations.get(group)) is None
    assert await store.read(lambda tx: tx.members.ids_of(group)) == []
    assert (
        await store.read(lambda tx: tx.messages.page(group, before=None, after=0, limit=99)) == []
    )
    assert await store.read(lambda tx: tx.log.after(group, 0, 999)) == []
    assert await store.read(lambda tx: tx.sync.heads(crowd[-1])) == []
    await world.platform.close()


async def test_tables_are_created_once_and_match_the_stack(dynamodb_moto: MotoServer) -> None:
    client: Any = client_of(dynamodb_moto)
    prefix = fresh_prefix(dynamodb_moto)
    assert create_tables(client, prefix) == []  # a second run leaves them as they are
    for spec in TABLES:
        table = client.describe_table(TableName=prefix + spec.logical)["Table"]
        assert table["TableStatus"] == "ACTIVE"
    connections = client.describe_table(TableName=prefix + "websocket-connections")["Table"]
    assert connections["KeySchema"] == [{"AttributeName": "connectionId", "KeyType": "HASH"}]
    indexes = {i["IndexName"]: i["KeySchema"] for i in connections["GlobalSecondaryIndexes"]}
    assert indexes == {
        "byUser": [
            {"AttributeName": "userId", "KeyType": "HASH"},
            {"AttributeName": "connectionId", "KeyType": "RANGE"},
        ],
        "bySession": [
            {"AttributeName": "sessionId", "KeyType": "HASH"},
            {"AttributeName": "connectionId", "KeyType": "RANGE"},
        ],
    }
    ttl = client.describe_time_to_live(TableName=prefix + "websocket-connections")
    assert ttl["TimeToLiveDescription"]["AttributeName"] == "expiresAt"

    resources = cloudformation_resources()
    assert len(resources) == len(TABLES)
    users = resources["UsersTable"]["Properties"]
    assert users["TableName"] == "hubbub-${sls:stage}-users"
    assert users["BillingMode"] == "PAY_PER_REQUEST"
    assert users["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert users["SSESpecification"] == {"SSEEnabled": True}
    assert "ConversationMembersTable" in resources


async def test_lookups_by_keys_dynamodb_refuses_find_nothing(
    request: pytest.FixtureRequest,
) -> None:
    """An id from a URL may be empty or huge: DynamoDB refuses such keys, the store
    answers "not there" as the other stores do."""
    world = make_world(settings_on_dynamodb(SETTINGS, request))
    store = world.platform.store
    huge = "x" * 5000
    assert await store.read(lambda tx: tx.users.get("")) is None
    assert await store.read(lambda tx: tx.conversations.get(huge)) is None
    assert (
        await store.read(lambda tx: tx.messages.page(huge, before=None, after=None, limit=5)) == []
    )
    assert await store.read(lambda tx: tx.users.by_username(huge)) is None
    await world.platform.close()


def test_settings_require_a_token_secret_on_dynamodb() -> None:
    from hubbub.config import ConfigError, Settings

    with pytest.raises(ConfigError, match="HUBBUB_TOKEN_SECRET"):
        Settings(store="dynamodb")
    ok = Settings(store="dynamodb", token_secret="s" * 32)
    assert ok.backend == "dynamodb" and ok.dynamodb_table_prefix == "hubbub-"
    with pytest.raises(ConfigError, match="PREFIX"):
        replace(ok, dynamodb_table_prefix="bad prefix")


async def test_writers_in_two_processes_take_turns_through_conditions(
    request: pytest.FixtureRequest,
) -> None:
    """Two stores on the same tables, as two processes are (no lock in common): their
    sends to one conversation meet only in DynamoDB's conditions, and the losers run
    again, so seqs and log positions stay 1, 2, 3, ... with nothing lost or doubled."""
    server: MotoServer = request.getfixturevalue("dynamodb_moto")
    prefix = fresh_prefix(server)
    first = DynamoStore(prefix, dynamodb=client_of(server))
    second = DynamoStore(prefix, dynamodb=client_of(server))
    await first.write(
        lambda tx: tx.conversations.insert(
            Conversation("c1", ConversationKind.GROUP, "g", "u1", T0, T0)
        )
    )

    def send(n: int) -> Callable[[Transaction], tuple[int, int]]:
        def work(tx: Transaction) -> tuple[int, int]:
            found = tx.log.append_message(
                LogEntry("c1", "message.created", T0, message_id=f"m{n}"), T0
            )
            assert found is not None
            seq, position = found
            tx.messages.insert(Message(f"m{n}", "c1", seq, "u1", f"#{n}", f"cm{n}", T0))
            return seq, position

        return work

    results = await asyncio.gather(
        *((first if n % 2 else second).write(send(n)) for n in range(30))
    )
    assert sorted(seq for seq, _ in results) == list(range(1, 31))
    assert all(seq == position for seq, position in results)
    thread = await first.read(lambda tx: tx.messages.page("c1", before=None, after=0, limit=50))
    assert [m.seq for m in thread] == list(range(1, 31))
    entries = await first.read(lambda tx: tx.log.after("c1", 0, 50))
    assert {e.message_id for e in entries} == {m.id for m in thread}
    assert [e.message_id for e in entries] == [m.id for m in thread]
    now = await second.read(lambda tx: tx.conversations.get("c1"))
    assert now is not None and (now.last_seq, now.last_event_seq) == (30, 30)
    await first.close()
    await second.close()


def test_hubbub_migrate_creates_the_tables_once(dynamodb_moto: MotoServer) -> None:
    prefix = f"cli{next(_cli_runs)}-"
    env = {
        **os.environ,
        **dynamodb_moto.env,
        "AWS_ENDPOINT_URL_DYNAMODB": dynamodb_moto.endpoint,
        "HUBBUB_STORE": "dynamodb",
        "HUBBUB_DYNAMODB_TABLE_PREFIX": prefix,
        "HUBBUB_TOKEN_SECRET": "t" * 32,
    }
    for _ in range(2):  # the second run finds them all and changes nothing
        done = subprocess.run(
            [sys.executable, "-m", "hubbub", "migrate"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        assert f"DynamoDB tables {prefix}*" in done.stdout
    client: Any = client_of(dynamodb_moto)
    for spec in TABLES:
        assert client.describe_table(TableName=prefix + spec.logical)["Table"]["TableStatus"]
    refused = subprocess.run(
        [sys.executable, "-m", "hubbub", "serve"],
        env={**env, "HUBBUB_TOKEN_SECRET": ""},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode != 0 and "HUBBUB_TOKEN_SECRET" in refused.stderr


_cli_runs = itertools.count(1)


def test_the_store_loads_where_no_postgresql_driver_is_installed() -> None:
    """The Lambda package carries no psycopg (tests/infra checks it): the DynamoDB store,
    which every function loads, must not need it."""
    probe = (
        "import sys; sys.modules['psycopg'] = None; sys.modules['psycopg_pool'] = None\n"
        "import hubbub.adapters.dynamodb"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
