"""B10, cost as the data grows: the same six operations on a tiny store and on a big one
(100,000 users, 50,000 conversations, 5 million messages at scale 1), in one run.

Both stores hold the same *fixture*, the data the operations touch: a 1,000-member
group, a user in 500 direct conversations, a user who missed 1,000 events in 10
conversations, and a "deep" direct conversation. The big store adds the *bulk* around
it (and grows the deep conversation to 1,000,000 messages), so any difference between
the two is what the surrounding data costs: an index keeps it flat, a scan does not.

Loading writes straight into the database, in the store's real schema as its own
migration runner made it (`sqlite_schema.upgrade`; `hubbub migrate` on PostgreSQL),
with bulk SQL: `executemany` on one connection with `synchronous=OFF` (SQLite; the FTS
triggers index every message as the app's writes would), `COPY` (PostgreSQL, whose
search index is dropped for the load and made again from the migration's own
statement, then `VACUUM ANALYZE` as autovacuum would). Every row is what the app
writes: a message has its `conversation_events` entry, members their read markers,
conversations their counters.

The operations run through the real services (`bootstrap.build`) on the real store
(`SqliteStore` with `synchronous=FULL`, `PostgresStore`), in this process, not over
HTTP: the question is whether the store's queries stay flat, and the constant cost of
HTTP and JSON would only dilute a growing one. Both platforms are open at once and the
rounds alternate tiny, big, tiny, big..., so a busy spell on a shared machine hits
both; the headline per operation is the ratio of the medians (big / tiny, target ≤ 2).

`BENCH_B10_SCALE` (default 1; `--quick` uses 0.004) scales the bulk; the fixture stays
whole, so the checks on what each operation returned hold at every scale."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hubbub.adapters import postgres_schema, sqlite_schema
from hubbub.bootstrap import Platform, build
from hubbub.config import Settings
from hubbub.domain import search

if TYPE_CHECKING:
    from bench.suite import Ctx

WHAT = "cost as the data grows: six operations, big store vs tiny store"
QUICK_SCALE = 0.004
TARGET = 2.0

# The full size (scale 1), as the issue gives it.
USERS, CONVERSATIONS, MESSAGES, DEEP = 100_000, 50_000, 5_000_000, 1_000_000
# The fixture (both stores).
GROUP_SIZE = 1_000
LIST_SIZE = 500
CATCH_CONVERSATIONS, CATCH_EACH = 10, 100  # 1,000 missed events
CATCH_BEFORE = 20  # messages in each of those before the user's cursor
TINY_DEEP = 1_000
LISTER, CATCHER, SENDER, PARTNER = 0, 1, 2, 3  # user numbers
FIXTURE_USERS = 3 + max(GROUP_SIZE, LIST_SIZE + 1) + CATCH_CONVERSATIONS + 2
SEARCH = "mar"  # a first-name prefix: about 1 user in 16 matches it
SEARCH_LIMIT = 20
PAGE = 50

_FIRST = "Ada Bruno Chloe Dmitri Elena Farid Greta Hugo Ines Jonas Kira Luca Marta Nils Olga Pablo"
FIRST = tuple(_FIRST.split())
_LAST = (
    "Abbott Berg Costa Diaz Ekberg Fischer Garcia Horvat Ito Jansen Kowalski Larsen"
    " Moreau Novak Olsen Petrov Quinn Rossi Sato Tanaka Ueda Varga Weber Xu Yilmaz Zhou"
)
LAST = tuple(_LAST.split())
_WORDS = (
    "the a to and of in is it you that was for on are with as be at this have from or one"
    " had by word but not what all were we when your can said there use an each which she"
    " do how their if will up other about out many then them these so some her would make"
    " like him into time has look two more write go see number no way could people my than"
    " first water been call who oil its now find long down day did get come made may part"
    " meeting lunch tomorrow tonight deploy review ticket release coffee train weekend"
)
WORDS = tuple(_WORDS.split())
T0 = datetime(2025, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Shape:
    """How much a store holds: the fixture plus the bulk around it."""

    users: int
    conversations: int
    messages: int
    deep: int

    @staticmethod
    def at(scale: float) -> Shape:
        if scale <= 0:  # the tiny store: the fixture alone
            return Shape(FIXTURE_USERS, _fixture_conversations(), 0, TINY_DEEP)
        return Shape(
            max(FIXTURE_USERS + 10, round(USERS * scale)),
            max(_fixture_conversations() + 10, round(CONVERSATIONS * scale)),
            round(MESSAGES * scale),
            max(TINY_DEEP, round(DEEP * scale)),
        )


def _fixture_conversations() -> int:
    return 2 + LIST_SIZE + CATCH_CONVERSATIONS


def uid(n: int) -> str:
    return f"u{n:025d}"


def cid(n: int) -> str:
    return f"c{n:025d}"


def _stamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def _user(n: int) -> tuple[Any, ...]:
    first, last = FIRST[n % len(FIRST)], LAST[(n // len(FIRST)) % len(LAST)]
    name = f"{first} {last}"
    username = f"{first.lower()}{n}"
    created = _stamp(T0 + timedelta(seconds=n))
    return (uid(n), username, f"{username}@example.test", name, name.lower(), created, True)


_BODIES = [
    " ".join(WORDS[(i * 7 + j * 13 + (i * j) % 11) % len(WORDS)] for j in range(40))[:100]
    for i in range(997)
]


# ------------------------------------------------------------------ the data


@dataclass(slots=True)
class Conv:
    """One conversation to write: members (creator first) and how many messages."""

    number: int
    members: list[int]
    messages: int
    group: bool
    at: datetime  # created; message i is at `at + i seconds`


class Layout:
    """Every conversation of a store of `shape`, in the order they are written."""

    def __init__(self, shape: Shape) -> None:
        self.shape = shape
        self.group = 0
        self.deep = 1
        self.lists = range(2, 2 + LIST_SIZE)
        self.catches = range(2 + LIST_SIZE, _fixture_conversations())

    def conversations(self) -> Iterator[Conv]:
        shape = self.shape
        group_members = [SENDER, *range(PARTNER, PARTNER + GROUP_SIZE - 1)]
        yield Conv(self.group, group_members, 0, True, T0)
        yield Conv(self.deep, [SENDER, PARTNER], shape.deep, False, T0)
        for k, n in enumerate(self.lists):  # one message each; the newest is k = 499
            at = T0 + timedelta(days=30, seconds=k)
            yield Conv(n, [LISTER, PARTNER + 1 + k], 1, False, at)
        for k, n in enumerate(self.catches):
            at = T0 + timedelta(days=40, seconds=k * 1000)
            yield Conv(n, [CATCHER, FIXTURE_USERS - 1 - k], CATCH_BEFORE, False, at)
        bulk = shape.conversations - _fixture_conversations()
        if bulk <= 0:
            return
        others = shape.users - FIXTURE_USERS  # bulk users: never in a fixture conversation
        left = max(0, shape.messages - shape.deep - LIST_SIZE)
        left -= CATCH_CONVERSATIONS * (CATCH_BEFORE + CATCH_EACH)
        each, extra = divmod(max(0, left), bulk)
        for i in range(bulk):
            a = i % others
            if i % 10 == 9:  # one in ten a small group
                members = [FIXTURE_USERS + (a + j * 97) % others for j in range(6)]
                members = list(dict.fromkeys(members))
            else:
                b = (a + 1 + i // others) % others
                members = [FIXTURE_USERS + a, FIXTURE_USERS + b]
            at = T0 + timedelta(seconds=i * 7)
            yield Conv(_fixture_conversations() + i, members, each + (i < extra), i % 10 == 9, at)


class Rows:
    """The rows of one conversation, as the app writes them (timestamps as SQLite
    text, which PostgreSQL's COPY reads as timestamptz): event 1 is its creation, and
    message `seq` is event `seq + 1`."""

    def __init__(self, conv: Conv) -> None:
        self.conv = conv

    def conversation(self) -> tuple[Any, ...]:
        c = self.conv
        created, updated = _stamp(c.at), _stamp(c.at + timedelta(seconds=c.messages))
        if c.group:
            title, key = f"Group {c.number}", None
        else:
            a, b = sorted(uid(m) for m in c.members)
            title, key = "", f"{a}:{b}"
        return (cid(c.number), "group" if c.group else "direct", title, uid(c.members[0]),
                created, updated, c.messages, key, c.messages + 1)  # fmt: skip

    def members(self) -> Iterator[tuple[Any, ...]]:
        c = self.conv
        for k, m in enumerate(c.members):
            role = "owner" if (k == 0 and c.group) else "member"
            yield (cid(c.number), uid(m), role, _stamp(c.at), c.messages, 1, 0)

    def created_event(self) -> tuple[Any, ...]:
        c = self.conv
        return (cid(c.number), 1, "conversation.created", uid(c.members[0]), None, None,
                _stamp(c.at))  # fmt: skip

    def messages(self, first: int, count: int) -> Iterator[tuple[Any, ...]]:
        c = self.conv
        conv_id = cid(c.number)
        for seq in range(first, first + count):
            sender = uid(c.members[seq % len(c.members)])
            mid = f"m{c.number:012d}{seq:013d}"
            at = _stamp(c.at + timedelta(seconds=seq))
            body = _BODIES[(c.number * 31 + seq) % len(_BODIES)]
            yield (conv_id, seq, mid, sender, mid, body, at, False)

    @staticmethod
    def message_events(messages: list[tuple[Any, ...]]) -> Iterator[tuple[Any, ...]]:
        for m in messages:
            yield (m[0], m[1] + 1, "message.created", m[3], None, m[2], m[6])


USER_COLS = "id, username, email, display_name, display_name_lower, created_at, confirmed"
CONV_COLS = (
    "id, kind, title, created_by, created_at, updated_at, last_seq, direct_key, last_event_seq"
)
MEMBER_COLS = "conversation_id, user_id, role, joined_at, read_seq, joined_event_seq, receipt_seq"
MESSAGE_COLS = "conversation_id, seq, id, sender_id, client_message_id, body, created_at, deleted"
EVENT_COLS = "conversation_id, event_seq, type, actor_id, subject_id, message_id, created_at"
CREDENTIAL_COLS = "user_id, username, email, password_hash, confirmed"
FAKE_HASH = "$argon2id$v=19$m=65536,t=3,p=4$" + "a" * 22 + "$" + "b" * 43
CHUNK = 20_000


class Writer:
    """Bulk rows into one database: SQLite or PostgreSQL."""

    def users(self, rows: list[tuple[Any, ...]]) -> None:
        self.put("users", USER_COLS, rows)
        creds = [(r[0], r[1], r[2], FAKE_HASH, True) for r in rows]
        self.put("credentials", CREDENTIAL_COLS, creds)
        # What the store writes with each user for search (SQLite migration 12).
        words = [(w, r[1], r[0]) for r in rows for w in sorted(set(search.words(r[3])))]
        self.put("user_name_words", "word, username, user_id", words)

    def put(self, table: str, cols: str, rows: list[tuple[Any, ...]]) -> None:
        raise NotImplementedError

    def commit(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def bump(self, conversation_ids: list[str], last_seq: int) -> None:
        """Counters of conversations whose messages 1..`last_seq` are written."""
        for conversation_id in conversation_ids:
            self.run(
                "UPDATE conversations SET last_seq = %s, last_event_seq = %s,"
                " updated_at = %s WHERE id = %s",
                last_seq,
                last_seq + 1,
                _stamp(datetime.now(UTC)),
                conversation_id,
            )

    def run(self, sql: str, *args: Any) -> None:
        raise NotImplementedError


class SqliteWriter(Writer):
    def __init__(self, path: Path, *, bulk: bool = True) -> None:
        sqlite_schema.upgrade(path)  # the store's own migrations
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("PRAGMA synchronous = OFF")  # a load: the store measured is FULL
        self.db.execute("PRAGMA cache_size = -1000000")
        # Messages are indexed for search after the load, in one 'rebuild' (how migration
        # 7 indexed the messages a database already held), not one by one by the trigger;
        # the trigger is then made again from the migration's own statement.
        search = next(m for m in sqlite_schema.MIGRATIONS if m.name == "search").statements
        self.after_load = [
            s
            for s in search
            if s.startswith("CREATE TRIGGER message_search_insert")
            or s.startswith("INSERT INTO message_search")
        ]
        assert len(self.after_load) == 3, "migration 7 changed: update the loader"
        if bulk:
            self.db.execute("DROP TRIGGER message_search_insert")
        else:
            self.after_load = []
        self.db.execute("BEGIN")

    def put(self, table: str, cols: str, rows: list[tuple[Any, ...]]) -> None:
        marks = ", ".join("?" * len(rows[0])) if rows else ""
        if rows:
            self.db.executemany(f"INSERT INTO {table} ({cols}) VALUES ({marks})", rows)

    def commit(self) -> None:
        self.db.execute("COMMIT")
        self.db.execute("BEGIN")

    def run(self, sql: str, *args: Any) -> None:
        self.db.execute(sql.replace("%s", "?"), args)

    def close(self) -> None:
        self.db.execute("COMMIT")
        self.db.execute("BEGIN")
        for statement in self.after_load:
            self.db.execute(statement)
        self.db.execute("COMMIT")
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.db.close()


class PostgresWriter(Writer):
    def __init__(self, url: str, *, bulk: bool = True) -> None:
        import psycopg

        self.db = psycopg.connect(url)
        self.db.execute("SET synchronous_commit = off")  # a load: the store measured is durable
        self.db.execute("SET maintenance_work_mem = '512MB'")
        # The search index is made after the load (one build, not 5M GIN insertions),
        # from the migration's own statement.
        self.search_index = [
            s
            for m in postgres_schema.MIGRATIONS
            for s in m.statements
            if s.startswith("CREATE INDEX messages_search")
        ]
        if bulk:
            self.db.execute("DROP INDEX messages_search")
        else:
            self.search_index = []

    def put(self, table: str, cols: str, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        with self.db.cursor() as cur, cur.copy(f"COPY {table} ({cols}) FROM STDIN".encode()) as cp:
            for row in rows:
                cp.write_row(row)

    def commit(self) -> None:
        self.db.commit()

    def run(self, sql: str, *args: Any) -> None:
        self.db.execute(sql.encode(), args)

    def close(self) -> None:
        for statement in self.search_index:
            self.db.execute(statement.encode())
        self.db.commit()
        if self.search_index:
            self.db.autocommit = True
            self.db.execute("VACUUM ANALYZE")
        self.db.close()


def load(writer: Writer, shape: Shape, progress: Callable[[str], None]) -> None:
    """Everything but the catcher's missed events (`load_missed`, after its cursor)."""
    batch: list[tuple[Any, ...]] = []
    for n in range(shape.users):
        batch.append(_user(n))
        if len(batch) >= CHUNK:
            writer.users(batch)
            batch = []
    writer.users(batch)
    writer.commit()
    convs: list[tuple[Any, ...]] = []
    members: list[tuple[Any, ...]] = []
    messages: list[tuple[Any, ...]] = []
    events: list[tuple[Any, ...]] = []

    def flush() -> None:
        writer.put("conversations", CONV_COLS, convs)
        writer.put("members", MEMBER_COLS, members)
        writer.put("messages", MESSAGE_COLS, messages)
        events.extend(Rows.message_events(messages))
        writer.put("conversation_events", EVENT_COLS, events)
        writer.commit()
        for rows in (convs, members, messages, events):
            rows.clear()

    written, report = 0, 500_000
    for conv in Layout(shape).conversations():
        rows = Rows(conv)
        convs.append(rows.conversation())
        members.extend(rows.members())
        events.append(rows.created_event())
        for m in rows.messages(1, conv.messages):
            messages.append(m)
            if len(messages) >= CHUNK:
                flush()
        written += conv.messages
        if written >= report:
            progress(f"{written:,} messages")
            report = (written // 500_000 + 1) * 500_000
    flush()


def load_missed(writer: Writer, shape: Shape) -> None:
    """The 1,000 events the catcher missed: messages from the other member of each of
    its conversations, after its cursor was taken."""
    layout = Layout(shape)
    convs = {c.number: c for c in layout.conversations() if c.number in layout.catches}
    messages: list[tuple[Any, ...]] = []
    for n in layout.catches:
        conv = convs[n]
        conv.members = [conv.members[1], conv.members[1]]  # the other member sends
        messages.extend(Rows(conv).messages(CATCH_BEFORE + 1, CATCH_EACH))
    writer.put("messages", MESSAGE_COLS, messages)
    writer.put("conversation_events", EVENT_COLS, list(Rows.message_events(messages)))
    top = CATCH_BEFORE + CATCH_EACH
    writer.bump([cid(n) for n in layout.catches], top)
    writer.commit()


# ------------------------------------------------------------------ the stores


class Store:
    """One store of a shape, loaded, and the platform that measures it."""

    def __init__(self, kind: str, name: str, shape: Shape, ctx: Ctx, root: Path) -> None:
        self.kind, self.name, self.shape, self.ctx = kind, name, shape, ctx
        self.dir = root / name
        self.url = ctx.postgres.fresh_database() if kind == "postgres" else ""
        self.cursor = ""
        self.load_s = 0.0
        self.platform: Platform | None = None

    def settings(self) -> Settings:
        return Settings(
            data_dir=self.dir,
            database_url=self.url,
            token_secret="b10-" + "x" * 40,
            log_level="warning",
            database_connections=2,
        )

    def writer(self, *, bulk: bool = True) -> Writer:
        if self.kind == "postgres":
            return PostgresWriter(self.url, bulk=bulk)
        return SqliteWriter(self.settings().database_path, bulk=bulk)

    def fill(self, say: Callable[[str], None]) -> None:
        t = time.monotonic()
        writer = self.writer()
        load(writer, self.shape, lambda what: say(f"    {self.name}: {what}"))
        writer.close()
        # The catcher's cursor, through the service, then the events it misses.
        self.cursor = asyncio.run(self._cursor())
        writer = self.writer(bulk=False)
        load_missed(writer, self.shape)
        writer.close()
        self.load_s = time.monotonic() - t

    async def _cursor(self) -> str:
        platform = build(self.settings())
        try:
            _, cursor, _ = await platform.sync.sync(uid(CATCHER), None, None)
            return cursor
        finally:
            await platform.close()

    def size_bytes(self) -> int:
        if self.kind == "postgres":
            import psycopg

            with psycopg.connect(self.url) as db:
                row = db.execute("SELECT pg_database_size(current_database())").fetchone()
            return int(row[0]) if row else 0
        return sum(p.stat().st_size for p in self.dir.glob("hubbub.db*"))

    def drop(self) -> None:
        if self.url:
            self.ctx.postgres.drop(self.url)
        shutil.rmtree(self.dir, ignore_errors=True)


# ------------------------------------------------------------------ the operations


class Checked(AssertionError):
    """An operation returned the wrong data: the figures would mean nothing."""


def _check(condition: bool, what: str) -> None:
    if not condition:
        raise Checked(what)


# Each operation checks what it got (`Checked`) and returns what it found, which the
# result records: figures of an operation that returned the wrong data mean nothing.
Facts = dict[str, Any]


async def history_newest(p: Platform, shape: Shape) -> Facts:
    page, more = await p.messages.history(uid(SENDER), cid(1), None, None, PAGE)
    seqs = [int(str(m["seq"])) for m in page]
    _check(more and seqs == list(range(shape.deep - PAGE + 1, shape.deep + 1)), "newest page")
    return {"messages": len(seqs), "seqs": [seqs[0], seqs[-1]], "in_order": seqs == sorted(seqs)}


async def history_deep(p: Platform, shape: Shape) -> Facts:
    before = shape.deep // 2
    page, more = await p.messages.history(uid(SENDER), cid(1), before, None, PAGE)
    seqs = [int(str(m["seq"])) for m in page]
    _check(more and seqs == list(range(before - PAGE, before)), f"page before {before}")
    return {"messages": len(seqs), "seqs": [seqs[0], seqs[-1]], "in_order": seqs == sorted(seqs)}


async def user_search(p: Platform, shape: Shape) -> Facts:
    found = await p.users.search(uid(LISTER), SEARCH, SEARCH_LIMIT)
    names = [u.username for u in found]
    _check(len(found) == SEARCH_LIMIT, f"{len(found)} users found")
    _check(names == sorted(names), "search results in username order")
    _check(all(u.display_name.lower().startswith(SEARCH) for u in found), "search matches")
    return {"users": len(found), "first": names[0], "last": names[-1]}


async def conversation_list(p: Platform, shape: Shape) -> Facts:
    seen: list[str] = []
    cursor = None
    while True:
        page, cursor = await p.conversations.recent(uid(LISTER), 100, cursor)
        seen += [str(c["id"]) for c in page]
        if cursor is None:
            break
    want = [cid(n) for n in reversed(Layout(shape).lists)]  # the newest first
    _check(seen == want, f"list of {len(seen)} conversations")
    return {"conversations": len(seen), "distinct": len(set(seen)), "newest_first": seen == want}


async def catch_up(p: Platform, shape: Shape, cursor: str) -> Facts:
    frames: list[Any] = []
    since, more, pages = cursor, True, 0
    while more:
        page, since, more = await p.sync.sync(uid(CATCHER), since, 500)
        frames += page
        pages += 1
    got = [(f["conversationId"], f["message"]["seq"]) for f in frames]
    catches = Layout(shape).catches
    want = [
        (cid(n), s) for n in catches for s in range(CATCH_BEFORE + 1, CATCH_BEFORE + CATCH_EACH + 1)
    ]
    _check(sorted(got) == want and len(got) == len(want), f"catch-up of {len(got)} events")
    _check(all(f["type"] == "message.created" for f in frames), "catch-up frame types")
    types = sorted({str(f["type"]) for f in frames})
    return {"events": len(frames), "distinct": len(set(got)), "types": types, "pages": pages}


class Sender:
    def __init__(self) -> None:
        self.n = 0

    async def __call__(self, p: Platform, shape: Shape) -> Facts:
        self.n += 1
        change = await p.messages.send(uid(SENDER), cid(0), f"b10-{self.n}", "hello, group")
        _check(change.created and change.message["seq"] == self.n, "group send")
        members = await p.conversations.members(uid(SENDER), cid(0)) if self.n == 1 else None
        count = len(members) if members is not None else None
        return {"created": change.created, "seq": change.message["seq"], "sends": self.n,
                "members": count}  # fmt: skip


OPERATIONS = (
    ("history_newest", "history page (50), newest end of the deep conversation"),
    ("history_deep", "history page (50) in the middle of the deep conversation"),
    ("user_search", f"user search by prefix ({SEARCH!r}, {SEARCH_LIMIT} results)"),
    ("conversation_list", f"conversation list of a user in {LIST_SIZE} (pages of 100)"),
    ("catch_up", f"sync catch-up after {CATCH_CONVERSATIONS * CATCH_EACH} missed events"),
    ("group_send", f"send into a {GROUP_SIZE}-member group (durable commit)"),
)


async def _measure(stores: list[Store], rounds: int, calls: int) -> dict[str, dict[str, Any]]:
    """Median ms per operation and store: `rounds` rounds, each `calls` calls on every
    store in turn (after one unmeasured call per store and operation)."""
    senders = {s.name: Sender() for s in stores}
    for s in stores:
        s.platform = build(s.settings())

    def op(name: str, s: Store) -> Callable[[], Any]:
        assert s.platform is not None
        p, shape = s.platform, s.shape
        if name == "catch_up":
            return lambda: catch_up(p, shape, s.cursor)
        if name == "group_send":
            return lambda: senders[s.name](p, shape)
        fn = {
            "history_newest": history_newest,
            "history_deep": history_deep,
            "user_search": user_search,
            "conversation_list": conversation_list,
        }[name]
        return lambda: fn(p, shape)

    facts: dict[str, dict[str, Facts]] = {n: {} for n, _ in OPERATIONS}
    times: dict[str, dict[str, list[float]]] = {
        n: {s.name: [] for s in stores} for n, _ in OPERATIONS
    }
    try:
        for name, _ in OPERATIONS:
            for s in stores:
                facts[name][s.name] = await op(name, s)()  # warm: caches, plans
            for _ in range(rounds):
                for s in stores:
                    call = op(name, s)
                    for _ in range(calls):
                        t = time.perf_counter_ns()
                        found = await call()
                        times[name][s.name].append((time.perf_counter_ns() - t) / 1e6)
                    if name == "group_send":  # the last send's seq; members from the first
                        facts[name][s.name].update(seq=found["seq"], sends=found["sends"])
    finally:
        for s in stores:
            if s.platform is not None:
                await s.platform.close()
                s.platform = None
    return {
        name: {
            s: {"median_ms": round(statistics.median(v), 3), "calls": len(v),
                "p90_ms": round(statistics.quantiles(v, n=10)[-1], 3) if len(v) > 1 else None,
                "returned": facts[name][s]}
            for s, v in per.items()
        }
        for name, per in times.items()
    }  # fmt: skip


# ------------------------------------------------------------------ the benchmark


def scale_of(ctx: Ctx) -> float:
    raw = os.environ.get("BENCH_B10_SCALE")
    if raw:
        return float(raw)
    return QUICK_SCALE if ctx.quick else 1.0


def b10(ctx: Ctx) -> dict[str, Any]:
    scale = scale_of(ctx)
    big, tiny = Shape.at(scale), Shape.at(0)
    rounds, calls = ctx.pick((2, 3), (5, 20))

    def say(text: str) -> None:
        print(text, flush=True)

    root = Path(tempfile.mkdtemp(prefix="hubbub-b10-"))
    stores: list[Store] = []
    out: dict[str, Any] = {"scale": scale, "big": vars_of(big), "tiny": vars_of(tiny)}
    try:
        for name, shape in (("tiny", tiny), ("big", big)):
            store = Store(ctx.store, name, shape, ctx, root)
            stores.append(store)
            say(f"  loading {name}: {shape.users:,} users, {shape.conversations:,}"
                f" conversations, {shape.messages:,} messages ({shape.deep:,} in one)")  # fmt: skip
            store.fill(say)
            size = store.size_bytes()
            say(f"  {name}: loaded in {store.load_s:.1f} s, {size / 2**20:,.1f} MiB")
            out[f"{name}_load_s"] = round(store.load_s, 1)
            out[f"{name}_bytes"] = size
        with contextlib.suppress(OSError):
            out["disk_free_gib"] = round(shutil.disk_usage(root).free / 2**30, 1)
        figures = asyncio.run(_measure(stores, rounds, calls))
    finally:
        for store in stores:
            store.drop()
        shutil.rmtree(root, ignore_errors=True)
    rows, worst = [], ("", 0.0)
    ops: dict[str, Any] = {}
    for name, what in OPERATIONS:
        t, b = figures[name]["tiny"]["median_ms"], figures[name]["big"]["median_ms"]
        ratio = round(b / t, 2) if t else None
        ops[name] = {"what": what, "tiny": figures[name]["tiny"], "big": figures[name]["big"],
                     "ratio": ratio, "pass": ratio is not None and ratio <= TARGET}  # fmt: skip
        rows.append(f"    {what:<62} tiny {t:>8.3f} ms  big {b:>8.3f} ms  {ratio}x")
        if ratio is not None and ratio > worst[1]:
            worst = (name, ratio)
    say("\n".join(rows))
    millions = big.messages / 1e6
    out["operations"] = ops
    out["headline"] = {
        "metric": "median per operation, big store / tiny store",
        "worst": worst[0],
        "ratio": worst[1],
        "load_s_per_million": round(out["big_load_s"] / millions, 1) if millions else None,
        "mib_per_million": round(out["big_bytes"] / 2**20 / millions, 1) if millions else None,
        "target": f"every operation ≤ {TARGET:g}x",
        "pass": all(o["pass"] for o in ops.values()),
    }
    return out


def vars_of(shape: Shape) -> dict[str, int]:
    return {k: getattr(shape, k) for k in ("users", "conversations", "messages", "deep")}


def row(result: dict[str, Any]) -> list[Any]:
    """B10's cells in the suite's table: hubbub, baseline, ratio, note."""
    h = result["headline"]
    worst = result["operations"][h["worst"]] if h["worst"] else None
    big = f"{worst['big']['median_ms']} ms" if worst else "-"
    tiny = f"{worst['tiny']['median_ms']} ms" if worst else "-"
    note = (
        f"worst: {h['worst']}; scale {result['scale']}; load {h['load_s_per_million']} s"
        f" and {h['mib_per_million']} MiB per million messages"
    )
    return [big, tiny, f"{h['ratio']}x", note]
