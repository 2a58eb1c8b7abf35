"""Search, on every store: people by any word of their name or their username's
beginning; messages by the beginnings of their words, in the caller's conversations
only, newest first, deleted ones never, edited ones as edited."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from hubbub.adapters import postgres_schema
from hubbub.adapters.postgres import PostgresStore
from hubbub.adapters.sqlite import SqliteStore
from hubbub.adapters.sqlite_schema import MIGRATIONS, migrate
from hubbub.domain import search
from hubbub.domain.errors import SearchUnavailable
from hubbub.domain.models import Conversation, ConversationKind, Membership, Message, Role, User
from hubbub.ports import Store, Transaction
from tests.postgres import PostgresServer, store_of

T0 = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture(params=["memory", "sqlite", "postgres", "dynamodb"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    made = store_of(request.param, request, tmp_path)
    yield made
    await made.close()


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def text_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """The stores that search message text (DynamoDB does not: see the test below)."""
    made = store_of(request.param, request, tmp_path)
    yield made
    await made.close()


def person(n: int, username: str, name: str, *, confirmed: bool = True) -> User:
    return User(f"u{n}", username, f"{username}@x.io", name, T0, confirmed)


def group(n: int) -> Conversation:
    return Conversation(f"c{n}", ConversationKind.GROUP, f"group {n}", "u1", T0, T0)


def said(conversation_id: str, seq: int, body: str, *, at: int, sender: str = "u1") -> Message:
    return Message(
        f"{conversation_id}-m{seq}",
        conversation_id,
        seq,
        sender,
        body,
        f"{conversation_id}-cm{seq}",
        T0 + timedelta(minutes=at),
    )


async def insert_people(store: Store, people: list[User]) -> None:
    """A few at a time: a DynamoDB transaction holds at most 100 writes."""
    for start in range(0, len(people), 10):

        def work(tx: Transaction, chunk: list[User] = people[start : start + 10]) -> None:
            for someone in chunk:
                tx.users.insert(someone)

        await store.write(work)


async def names(store: Store, query: str, caller: str = "u1") -> list[str]:
    found = await store.read(lambda tx: tx.users.search(query, exclude_id=caller, limit=20))
    return [u.username for u in found]


async def test_people_are_found_by_any_word_of_their_name_or_their_username(store: Store) -> None:
    def work(tx: Transaction) -> None:
        tx.users.insert(person(1, "me", "Searcher"))
        tx.users.insert(person(2, "amlee", "Ann Marie Lee"))
        tx.users.insert(person(3, "zoe", "Zoë O'Brien-Smith"))
        tx.users.insert(person(4, "marcus", "Marcus"))
        tx.users.insert(person(5, "pending", "Marie Pending", confirmed=False))

    await store.write(work)
    assert await names(store, "ann") == ["amlee"]
    assert await names(store, "mar") == ["amlee", "marcus"]
    assert await names(store, "lee") == ["amlee"]
    assert await names(store, "mar lee") == ["amlee"]  # every word, any order
    assert await names(store, "lee ann") == ["amlee"]
    assert await names(store, "arie") == []  # beginnings of words, not inside them
    assert await names(store, "zoë") == ["zoe"]
    assert await names(store, "smi") == ["zoe"]  # hyphens and apostrophes split words
    assert await names(store, "brien") == ["zoe"]
    assert await names(store, "aml") == ["amlee"]  # usernames by their beginning
    assert await names(store, "sea") == []  # never the caller
    assert await names(store, "pend") == []  # nor an unconfirmed account


async def test_a_renamed_or_deleted_person_is_found_by_the_new_name_only(store: Store) -> None:
    await store.write(lambda tx: tx.users.insert(person(2, "amlee", "Ann Lee")))
    renamed = person(2, "amlee", "Beatrix Kiddo")
    await store.write(lambda tx: tx.users.update(renamed))
    assert await names(store, "kid") == ["amlee"]
    assert await names(store, "lee") == []
    await store.write(lambda tx: tx.users.delete("u2"))
    assert await names(store, "kid") == []


async def test_one_word_finds_the_first_by_username_among_many_names_and_words(
    store: Store,
) -> None:
    """SQL stores answer a one-word search from each matching word's users in username
    order (`sql_name_words`), merged: the page is the same as sorting every match, with
    words that differ, matches from the username too, and the caller, unconfirmed
    accounts and a word shared by one person's several names counted once."""
    people = [person(1, "me", "Mara Me")]
    for n in range(2, 42):
        first = ("Mara", "Marek", "Mario", "Amar")[n % 4]
        last = "Marsh" if n % 3 == 0 else "Lee"
        people.append(person(n, f"user{(n * 37) % 101:03d}", f"{first} {last}-{n}"))
    people.append(person(50, "marvin", "Zed"))  # by username only
    people.append(person(51, "aaa", "Mark Unconfirmed", confirmed=False))

    await insert_people(store, people)
    found = [p for p in people[1:] if p.confirmed and search.matches(["mar"], p.display_name)]
    want = sorted([u.username for u in found] + ["marvin"])
    for limit in (1, 7, 20, 50):
        hits = await store.read(
            lambda tx, n=limit: tx.users.search("mar", exclude_id="u1", limit=n)
        )
        assert [u.username for u in hits] == want[:limit], limit
    await store.write(lambda tx: tx.users.update(replace(people[-1], confirmed=True)))
    assert (await names(store, "mark"))[:1] == ["aaa"]


async def test_a_word_beginning_many_distinct_words_is_answered_all_the_same(
    store: Store,
) -> None:
    """Past `MAX_WORDS` distinct words for one term, the SQL stores ask the full-text
    index instead: same answer."""
    many = [person(n, f"p{n:03d}", f"Zed{n:03d} Person") for n in range(2, 2 + 80)]

    await insert_people(store, [person(1, "me", "Me"), *many])
    assert await names(store, "zed") == [p.username for p in many][:20]
    assert await names(store, "zed07") == [f"p{n:03d}" for n in range(70, 80)]


async def seed_chat(store: Store) -> None:
    """u1 and u2 in c1, u1 and u3 in c2, u3 alone in c3."""

    def work(tx: Transaction) -> None:
        for n, handle in ((1, "ana"), (2, "bob"), (3, "cy")):
            tx.users.insert(person(n, handle, handle.title()))
        for n in (1, 2, 3):
            tx.conversations.insert(group(n))
        for cid, uid in (("c1", "u1"), ("c1", "u2"), ("c2", "u1"), ("c2", "u3"), ("c3", "u3")):
            tx.members.put(Membership(cid, uid, Role.MEMBER, T0))
        bodies = {
            "c1": ["Lunch tomorrow at noon?", "Sure, LUNCH works", "Launch day!"],
            "c2": ["lunchbox forgotten", "nothing to see"],
            "c3": ["secret lunch plans"],
        }
        minute = 0
        for cid, texts in bodies.items():
            for seq, text in enumerate(texts, start=1):
                minute += 1
                tx.messages.insert(said(cid, seq, text, at=minute))

    await store.write(work)


async def found(
    store: Store,
    user: str,
    query: str,
    *,
    conversation_id: str | None = None,
    before: tuple[datetime, str] | None = None,
    limit: int = 20,
) -> list[str]:
    terms = search.terms(query)
    hits = await store.read(
        lambda tx: tx.messages.search(
            user, terms, conversation_id=conversation_id, before=before, limit=limit
        )
    )
    return [m.id for m in hits]


async def test_messages_are_found_by_word_beginnings_in_the_callers_conversations(
    text_store: Store,
) -> None:
    await seed_chat(text_store)
    # Newest first; "lunch" begins "Lunch", "LUNCH" and "lunchbox", not "Launch".
    assert await found(text_store, "u1", "lunch") == ["c2-m1", "c1-m2", "c1-m1"]
    assert await found(text_store, "u1", "LUN tomorrow") == ["c1-m1"]
    assert await found(text_store, "u1", "tomorrow lunch") == ["c1-m1"]
    assert await found(text_store, "u1", "unch") == []
    assert await found(text_store, "u1", "lunch", conversation_id="c1") == ["c1-m2", "c1-m1"]
    # Members see their conversations only: u2 is not in c2, nobody else in c3.
    assert await found(text_store, "u2", "lunch") == ["c1-m2", "c1-m1"]
    assert await found(text_store, "u3", "lunch") == ["c3-m1", "c2-m1"]
    assert await found(text_store, "u2", "lunch", conversation_id="c2") == []


async def test_a_member_who_leaves_finds_nothing_of_that_conversation(text_store: Store) -> None:
    await seed_chat(text_store)
    await text_store.write(lambda tx: tx.members.remove("c1", "u2"))
    assert await found(text_store, "u2", "lunch") == []
    await text_store.write(lambda tx: tx.conversations.delete("c2"))
    assert await found(text_store, "u1", "lunch") == ["c1-m2", "c1-m1"]
    assert await found(text_store, "u3", "lunch") == ["c3-m1"]


async def test_deleted_messages_are_never_found_and_edits_are_found_as_edited(
    text_store: Store,
) -> None:
    await seed_chat(text_store)
    later = T0 + timedelta(hours=1)
    assert await text_store.write(lambda tx: tx.messages.mark_deleted("c1", "c1-m2", later))
    assert await text_store.write(
        lambda tx: tx.messages.edit("c1", "c1-m1", "Dinner tonight instead", later)
    )
    assert await found(text_store, "u1", "lunch") == ["c2-m1"]
    assert await found(text_store, "u1", "sure") == []
    assert await found(text_store, "u1", "dinner tonight") == ["c1-m1"]
    assert await found(text_store, "u1", "noon") == []


async def page_of(
    store: Store, term: str, position: tuple[datetime, str] | None, limit: int
) -> list[Message]:
    return await store.read(
        lambda tx: tx.messages.search(
            "u1", [term], conversation_id=None, before=position, limit=limit
        )
    )


async def test_pages_go_on_from_the_last_result_newest_first(text_store: Store) -> None:
    def work(tx: Transaction) -> None:
        tx.users.insert(person(1, "ana", "Ana"))
        tx.conversations.insert(group(1))
        tx.conversations.insert(group(2))
        for cid in ("c1", "c2"):
            tx.members.put(Membership(cid, "u1", Role.MEMBER, T0))
        # Sent in time order, two in the same instant in different conversations (the
        # message id orders those).
        for n in range(1, 6):
            tx.messages.insert(said("c1", n, f"ping {n}", at=n))
            if n == 3:
                tx.messages.insert(said("c2", 1, "ping twin", at=3))

    await text_store.write(work)
    every = await found(text_store, "u1", "ping")
    assert every == ["c1-m5", "c1-m4", "c2-m1", "c1-m3", "c1-m2", "c1-m1"]
    seen: list[str] = []
    position: tuple[datetime, str] | None = None
    while True:
        hits = await page_of(text_store, "ping", position, 2)
        if not hits:
            break
        seen += [m.id for m in hits]
        position = (hits[-1].created_at, hits[-1].id)
    assert seen == every


async def test_words_are_letters_and_digits_in_any_script(text_store: Store) -> None:
    def work(tx: Transaction) -> None:
        tx.users.insert(person(1, "ana", "Ana"))
        tx.conversations.insert(group(1))
        tx.members.put(Membership("c1", "u1", Role.MEMBER, T0))
        texts = ["Привет, мир", "Ça va? Très bien", "room 101, floor 3", "ΑΘΗΝΑ trip"]
        for seq, text in enumerate(texts, start=1):
            tx.messages.insert(said("c1", seq, text, at=seq))

    await text_store.write(work)
    assert await found(text_store, "u1", "мир") == ["c1-m1"]
    assert await found(text_store, "u1", "ПРИВ") == ["c1-m1"]
    assert await found(text_store, "u1", "très") == ["c1-m2"]
    assert await found(text_store, "u1", "101 floor") == ["c1-m3"]
    assert await found(text_store, "u1", "3") == ["c1-m3"]
    assert await found(text_store, "u1", "αθήνα") == []  # accents are kept, not folded
    assert await found(text_store, "u1", "αθη") == ["c1-m4"]


async def test_dynamodb_says_message_search_is_unavailable(request: pytest.FixtureRequest) -> None:
    """DynamoDB has no text index: message search answers `search_unavailable` (501 from
    the API) rather than scanning, while people search works (tests above)."""
    dynamo = store_of("dynamodb", request, Path("."))
    try:
        await seed_chat(dynamo)
        with pytest.raises(SearchUnavailable) as raised:
            await found(dynamo, "u1", "lunch")
        assert raised.value.code == "search_unavailable"
    finally:
        await dynamo.close()


async def test_an_old_sqlite_database_has_its_messages_and_names_indexed_on_upgrade(
    tmp_path: Path,
) -> None:
    """A database at version 4 (before search) gets every existing message and name
    indexed by the upgrade; its deleted messages stay out."""
    path = tmp_path / "old.db"
    db = sqlite3.connect(path, isolation_level=None)
    migrate(db, MIGRATIONS[:4])
    at = T0.isoformat()
    db.execute(
        "INSERT INTO users (id, username, email, display_name, display_name_lower, created_at,"
        " confirmed) VALUES ('u1', 'ana', 'a@x.io', 'Ana', 'ana', ?, 1),"
        " ('u2', 'amlee', 'b@x.io', 'Ann Marie Lee', 'ann marie lee', ?, 1)",
        (at, at),
    )
    db.execute(
        "INSERT INTO conversations (id, kind, title, created_by, created_at, updated_at,"
        " last_seq) VALUES ('c1', 'group', 'g', 'u1', ?, ?, 2)",
        (at, at),
    )
    db.execute(
        "INSERT INTO members (conversation_id, user_id, role, joined_at, read_seq)"
        " VALUES ('c1', 'u1', 'owner', ?, 2)",
        (at,),
    )
    db.execute(
        "INSERT INTO messages VALUES ('c1', 1, 'm1', 'u1', 'cm1', 'old news travels', ?, NULL, 0),"
        " ('c1', 2, 'm2', 'u1', 'cm2', '', ?, ?, 1)",
        (at, at, at),
    )
    db.close()
    store = SqliteStore(path)
    try:
        assert await found(store, "u1", "trav") == ["m1"]
        assert await names(store, "lee") == ["amlee"]
        edited = T0 + timedelta(minutes=5)
        assert await store.write(lambda tx: tx.messages.edit("c1", "m1", "new views", edited))
        assert await found(store, "u1", "trav") == []
        assert await found(store, "u1", "views") == ["m1"]
        await store.write(lambda tx: tx.users.update(replace(person(2, "amlee", "Ann Smith"))))
        assert await names(store, "lee") == [] and await names(store, "smi") == ["amlee"]
    finally:
        await store.close()


async def test_an_old_postgres_database_has_its_messages_and_names_indexed_on_upgrade(
    request: pytest.FixtureRequest,
) -> None:
    """The GIN indexes are built over what a version-2 database already holds."""
    server: PostgresServer = request.getfixturevalue("postgres")
    url = server.fresh_database_url(migrated=False)
    postgres_schema.migrate(url, postgres_schema.MIGRATIONS[:2])
    with psycopg.connect(url) as db:
        for n, (handle, name) in enumerate((("ana", "Ana"), ("amlee", "Ann Marie Lee")), 1):
            db.execute(
                b"INSERT INTO users (id, username, email, display_name, display_name_lower,"
                b" created_at, confirmed) VALUES (%s, %s, %s, %s, %s, %s, true)",
                (f"u{n}", handle, f"{handle}@x.io", name, name.lower(), T0),
            )
        db.execute(
            b"INSERT INTO conversations (id, kind, title, created_by, created_at, updated_at,"
            b" last_seq) VALUES ('c1', 'group', 'g', 'u1', %s, %s, 2)",
            (T0, T0),
        )
        db.execute(
            b"INSERT INTO members (conversation_id, user_id, role, joined_at, read_seq)"
            b" VALUES ('c1', 'u1', 'owner', %s, 2)",
            (T0,),
        )
        for seq, body, deleted in ((1, "old news travels", False), (2, "", True)):
            db.execute(
                b"INSERT INTO messages VALUES ('c1', %s, %s, 'u1', %s, %s, %s, NULL, %s)",
                (seq, f"m{seq}", f"cm{seq}", body, T0, deleted),
            )
    postgres_schema.migrate(url)
    store = PostgresStore(url)
    try:
        assert await found(store, "u1", "TRAV news") == ["m1"]
        assert await names(store, "lee") == ["amlee"]
    finally:
        await store.close()


async def test_a_page_goes_on_after_its_last_message_was_deleted(text_store: Store) -> None:
    def work(tx: Transaction) -> None:
        tx.users.insert(person(1, "ana", "Ana"))
        tx.conversations.insert(group(1))
        tx.members.put(Membership("c1", "u1", Role.MEMBER, T0))
        for n in range(1, 6):
            tx.messages.insert(said("c1", n, f"pong {n}", at=n))

    await text_store.write(work)
    first = await text_store.read(
        lambda tx: tx.messages.search("u1", ["pong"], conversation_id=None, before=None, limit=2)
    )
    assert [m.id for m in first] == ["c1-m5", "c1-m4"]
    gone = T0 + timedelta(hours=1)
    assert await text_store.write(lambda tx: tx.messages.mark_deleted("c1", "c1-m4", gone))
    position = (first[-1].created_at, first[-1].id)
    rest = await text_store.read(
        lambda tx: tx.messages.search(
            "u1", ["pong"], conversation_id=None, before=position, limit=10
        )
    )
    assert [m.id for m in rest] == ["c1-m3", "c1-m2", "c1-m1"]


@pytest.mark.skipif(
    sqlite3.sqlite_version_info < (3, 42, 0),
    reason="FTS5 secure-delete needs SQLite 3.42 (SECURITY.md, known limitations)",
)
async def test_deleted_words_leave_the_sqlite_file(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "h.db")
    try:

        def work(tx: Transaction) -> None:
            tx.users.insert(person(1, "ana", "Ana"))
            tx.conversations.insert(group(1))
            tx.members.put(Membership("c1", "u1", Role.MEMBER, T0))
            tx.messages.insert(said("c1", 1, "zebracorn regrettable", at=1))
            tx.messages.insert(said("c1", 2, "keptword", at=2))

        await store.write(work)
        assert await store.write(lambda tx: tx.messages.mark_deleted("c1", "c1-m1", T0))
    finally:
        await store.close()
    files = b"".join(f.read_bytes() for f in sorted(tmp_path.glob("h.db*")))  # noqa: ASYNC240
    assert b"keptword" in files
    assert b"zebracorn" not in files and b"regrettable" not in files
