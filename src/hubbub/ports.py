"""The ports the services depend on: small Protocols, one per technology seam.

Store repositories are synchronous on purpose: a service hands a whole transaction
function to `Store.write`, and the adapter runs it atomically where the data lives
(SQLite's writer thread, a lock over memory, a DynamoDB transaction). Everything
that talks to the outside world is async. `Store` states the contract for many
concurrent writers that every adapter keeps.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol, TypeVar

from hubbub.domain.errors import Conflict, Unauthorized
from hubbub.domain.events import Delivery
from hubbub.domain.models import (
    Attachment,
    Block,
    Conversation,
    LogEntry,
    Membership,
    Message,
    Reaction,
    ReadMarker,
    Role,
    SyncHead,
    User,
)

T = TypeVar("T")


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


# How many times a store runs a transaction function that keeps losing races.
WRITE_ATTEMPTS = 3


class IdGenerator(Protocol):
    def new_id(self) -> str:
        """A fresh opaque id, unique across processes and roughly time-ordered."""
        ...


class UserRepository(Protocol):
    def get(self, user_id: str) -> User | None: ...
    def get_many(self, user_ids: Sequence[str]) -> dict[str, User]: ...
    def by_username(self, username: str) -> User | None: ...
    def by_email(self, email: str) -> User | None: ...

    def insert(self, user: User) -> None:
        """Raises `Conflict` when the username or email is taken."""
        ...

    def update(self, user: User) -> None:
        """Writes the profile fields (display name, confirmed); never `last_seen_at`,
        which only `set_last_seen` moves."""
        ...

    def set_last_seen(self, user_id: str, at: datetime) -> None:
        """Moves `last_seen_at` forward to `at`, never back (two processes may record the
        same user going offline out of order); nothing if the user is gone."""
        ...

    def delete(self, user_id: str) -> None: ...

    def search(self, prefix: str, *, exclude_id: str, limit: int) -> list[User]:
        """Confirmed users whose username starts with `prefix` (folded: NFC, lowercase),
        or each of whose words of `prefix` (`hubbub.domain.search.words`) begins a word
        of their display name ("mar lee" finds "Ann Marie Lee"), ordered by username.
        Served from an index, not a scan, where the store has one."""
        ...


class LostRace(Conflict):
    """A write met a row that a concurrent transaction committed first (a unique key:
    the same direct pair, the same (sender, clientMessageId)). Raised by repositories
    inside a transaction function; `Store.write` answers it by running the function
    again, which then finds the winner's row. Services never catch it."""


class ConversationRepository(Protocol):
    def get(self, conversation_id: str) -> Conversation | None:
        """A plain read: may be stale relative to concurrent commits."""
        ...

    def get_many(self, conversation_ids: Sequence[str]) -> dict[str, Conversation]:
        """`get` of several in one read, by id (the missing ones left out)."""
        ...

    def by_direct_key(self, key: str) -> Conversation | None: ...

    def lock(self, conversation_id: str) -> Conversation | None:
        """The locking read: the current committed row (None if it was deleted).
        Until this transaction ends, any other transaction that locks or writes this
        conversation's row waits for it, and every read after the lock sees what such
        writers committed before. Rules that span rows (the group size cap, the last
        member leaving, adding while the group is deleted) take it first. (PostgreSQL:
        SELECT ... FOR UPDATE; memory and SQLite already run one write transaction at
        a time, so there it is a plain read.)"""
        ...

    def insert(self, conversation: Conversation) -> None:
        """Raises `LostRace` if a direct conversation with the same key exists."""
        ...

    def next_seq(self, conversation_id: str, at: datetime) -> int | None:
        """Adds one to `last_seq` atomically and returns the new value (None if the
        conversation is gone); `updated_at` moves forward to `at`, never back."""
        ...

    def set_title(self, conversation_id: str, title: str, at: datetime) -> Conversation | None:
        """Sets the title only (and moves `updated_at` forward); returns the row as it
        is now, or None if the conversation is gone."""
        ...

    def touch(self, conversation_id: str, at: datetime) -> None:
        """Moves `updated_at` forward to `at` (never back), nothing else."""
        ...

    def delete(self, conversation_id: str) -> None:
        """Deletes the conversation with its memberships, messages, reactions, log and
        receipts."""
        ...

    def for_user(
        self, user_id: str, *, limit: int, after: tuple[datetime, str] | None
    ) -> list[Conversation]:
        """The user's conversations, most recently updated first, strictly after the
        (updated_at, id) position `after` in that order."""
        ...


class MemberRepository(Protocol):
    def get(self, conversation_id: str, user_id: str) -> Membership | None: ...
    def of_conversation(self, conversation_id: str) -> list[Membership]:
        """Members in join order."""
        ...

    def of_conversations(self, conversation_ids: Sequence[str]) -> dict[str, list[Membership]]:
        """`of_conversation` for several conversations in one read (one with no
        members is missing from the result)."""
        ...

    def ids_of(self, conversation_id: str) -> list[str]:
        """The members' user ids, in no particular order: who hears of every event
        (read with each send, so only the ids)."""
        ...

    def put(self, membership: Membership) -> None:
        """Adds a new membership. It never overwrites one (a membership is changed
        only through `set_role`, `advance_read` and `set_mute`): raises `LostRace` if the user is
        already a member."""
        ...

    def set_role(self, conversation_id: str, user_id: str, role: Role) -> bool:
        """Sets the role only; False (nothing written) if the user is not a member."""
        ...

    def advance_read(self, conversation_id: str, user_id: str, seq: int) -> bool | None:
        """Moves the read marker forward to `seq`, never back: True if it moved, False
        if it was already there or beyond, None (nothing written) if the user is not a
        member: a removed member is never re-inserted."""
        ...

    def set_mute(self, conversation_id: str, user_id: str, until: datetime | None) -> bool:
        """Sets the member's own mute only (None clears it); False (nothing written) if
        the user is not a member: a removed member is never re-inserted."""
        ...

    def remove(self, conversation_id: str, user_id: str) -> None: ...

    def contacts_of(self, user_id: str) -> set[str]:
        """Every other user who shares at least one conversation with `user_id`."""
        ...

    def share_conversation(self, user_id: str, other_id: str) -> bool:
        """Whether the two (different) users share at least one conversation: one
        indexed look-up, however many contacts either has."""
        ...


class MessageRepository(Protocol):
    def get(self, conversation_id: str, message_id: str) -> Message | None: ...
    def by_seq(self, conversation_id: str, seq: int) -> Message | None: ...
    def by_seqs(self, positions: Sequence[tuple[str, int]]) -> list[Message]:
        """The messages at these (conversation id, seq) positions that exist, in one
        read, in no particular order (the last messages of a page of conversations)."""
        ...

    def get_many(self, keys: Sequence[tuple[str, str]]) -> list[Message]:
        """The messages with these (conversation id, message id) keys that exist, in
        one read, in no particular order."""
        ...

    def by_client_id(self, sender_id: str, client_message_id: str) -> Message | None: ...

    def insert(self, message: Message) -> None:
        """Raises `LostRace` on a duplicate (sender, clientMessageId) or seq."""
        ...

    def edit(self, conversation_id: str, message_id: str, body: str, at: datetime) -> bool:
        """Sets the body and `edited_at` if the message exists and is not deleted;
        False (nothing written) otherwise."""
        ...

    def mark_deleted(self, conversation_id: str, message_id: str, at: datetime) -> bool:
        """Marks the message deleted and empties its body, if it was not deleted yet;
        False (nothing written) otherwise."""
        ...

    def page(
        self, conversation_id: str, *, before: int | None, after: int | None, limit: int
    ) -> list[Message]:
        """Up to `limit` messages in seq order: the newest ones below `before`, or the
        oldest ones above `after` (with neither, the newest)."""
        ...

    def search(
        self,
        user_id: str,
        terms: Sequence[str],
        *,
        conversation_id: str | None,
        before: tuple[datetime, str] | None,
        limit: int,
    ) -> list[Message]:
        """Up to `limit` messages, not deleted, each of whose `terms` begins one of their
        words (`hubbub.domain.search`), in the conversations `user_id` is a member of
        now (only `conversation_id`, if given), newest first by (created_at, id), strictly
        after the position `before` in that order. Edits are searched as edited. (SQLite
        orders by the order messages were sent in, the same while the clock runs forward;
        so does its cursor, found by the message's id.)"""
        ...


class AttachmentRepository(Protocol):
    """Uploaded attachments' metadata (the bytes live in the `AttachmentStore`)."""

    def insert(self, attachment: Attachment) -> None: ...

    def get(self, conversation_id: str, attachment_id: str) -> Attachment | None: ...

    def attach(
        self, conversation_id: str, uploader_id: str, attachment_ids: Sequence[str], message_id: str
    ) -> list[Attachment]:
        """Marks those of the attachments that are in `conversation_id`, uploaded by
        `uploader_id` and still unsent as sent with `message_id`, as one conditional
        write, and returns them (in no particular order). The caller compares the count:
        one that was sent meanwhile, or is someone else's, is not returned."""
        ...

    def detach(self, conversation_id: str, message_id: str) -> list[Attachment]:
        """Deletes the rows of the message's attachments (it was deleted); returns them,
        so their bytes can be deleted after the commit."""
        ...

    def of_conversation(self, conversation_id: str) -> list[Attachment]:
        """Every attachment of the conversation (it is being deleted: their bytes go too)."""
        ...

    def unsent_before(self, moment: datetime, limit: int) -> list[Attachment]:
        """Up to `limit` attachments never sent and uploaded before `moment`, oldest first."""
        ...

    def delete(self, conversation_id: str, attachment_id: str) -> bool:
        """Deletes the row if it is still unsent; True if it did."""
        ...


class ReactionRepository(Protocol):
    """Reactions on messages: one row per (message, user, emoji)."""

    def add(self, reaction: Reaction) -> bool | None:
        """Records the reaction if its message exists and is not deleted, holding the
        message's row (PostgreSQL: FOR SHARE) so a delete cannot commit around it and
        leave it behind: True if added, False if it was there already, None (nothing
        written) if the message is deleted or gone."""
        ...

    def remove(self, conversation_id: str, message_id: str, user_id: str, emoji: str) -> bool:
        """Takes the reaction back; False if there was none."""
        ...

    def of_messages(self, conversation_id: str, message_ids: Sequence[str]) -> list[Reaction]:
        """The reactions on these messages, oldest first (then by user id)."""
        ...

    def of_keys(self, keys: Sequence[tuple[str, str]]) -> list[Reaction]:
        """`of_messages` for messages of several conversations, (conversation id,
        message id) each, in one read."""
        ...

    def clear(self, conversation_id: str, message_id: str) -> None:
        """Drops every reaction on the message (it was deleted)."""
        ...


class ConversationLog(Protocol):
    """Each conversation's own log of durable events, and its read receipts.

    There is no deployment-wide sequence, counter or lock. Positions are per
    conversation: `event_seq` for the log, `receipt_seq` for read receipts, each
    1, 2, 3, ... with no gaps. A position is taken only while holding what orders it
    (the conversation's row for events, its receipt counter's row for receipts), in
    the same transaction that writes the entry, so entries become visible in the
    order of their positions: whenever entry k is visible, so are 1 ... k-1. A
    reader that has applied everything up to k can therefore never have an entry
    commit behind it (`docs/design/sync.md`, section 4.5).
    """

    def append(self, entry: LogEntry) -> int | None:
        """Adds one to the conversation's `last_event_seq` and records the entry at
        that position (whatever `entry.event_seq` says), atomically; returns it (None if
        the conversation is gone). Locks the conversation's row until the transaction
        ends, like `lock`."""
        ...

    def append_message(self, entry: LogEntry, at: datetime) -> tuple[int, int] | None:
        """`Conversations.next_seq(entry.conversation_id, at)` and `append(entry)` in one
        step (one statement fewer per message): returns (the new message seq, the
        entry's position), or None if the conversation is gone."""
        ...

    def after(self, conversation_id: str, event_seq: int, limit: int) -> list[LogEntry]:
        """Up to `limit` entries after `event_seq`, in order."""
        ...

    def last_removal(self, conversation_id: str, user_id: str) -> LogEntry | None:
        """The newest `member.removed` entry about `user_id`, if any."""
        ...

    def record_receipt(self, conversation_id: str, user_id: str) -> int:
        """Takes the conversation's next receipt position and stamps it on the
        member's row (whose read marker the caller has just moved); returns it."""
        ...

    def read_markers_after(
        self, conversation_id: str, receipt_seq: int, limit: int
    ) -> list[ReadMarker]:
        """Members whose read marker moved after `receipt_seq`, in receipt order, with
        their current marker (one per member, however often it moved)."""
        ...


class BlockRepository(Protocol):
    """Who blocked whom: one row per (blocker, blocked), written only by the blocker.

    A send into a direct chat checks `between` after it has taken the conversation's
    row (`ConversationRepository.next_seq`), and a block that has a direct chat appends
    to its log (which takes the same row), so a send and a block of the same pair
    commit one after the other and a message never commits after the block did."""

    def add(self, block: Block) -> bool:
        """Records the block; False (nothing written) if it was already recorded."""
        ...

    def remove(self, blocker_id: str, blocked_id: str) -> bool:
        """Lifts the block; False if there was none."""
        ...

    def of_blocker(self, blocker_id: str) -> list[Block]:
        """Everyone `blocker_id` blocked, most recent first (then by user id)."""
        ...

    def between(self, user_a: str, user_b: str) -> set[str]:
        """Which of the two blocked the other: empty, one of them, or both."""
        ...

    def involving(self, user_id: str) -> set[str]:
        """Everyone the user blocked or was blocked by (presence is not told between
        them)."""
        ...


class SyncState(Protocol):
    """What a catch-up reads and the resume points it saves."""

    def heads(self, user_id: str) -> list[SyncHead]:
        """Every conversation the user is in, with its positions (one query)."""
        ...

    def record_departure(self, user_id: str, conversation_id: str) -> int:
        """Notes that the user is no longer in the conversation (left, removed, or it
        was deleted) at the user's next departure position, 1, 2, 3, ... taken under
        the user's row lock like the log's positions (`ConversationLog`); returns it.
        A catch-up needs it for a conversation its client learned of live, after its
        resume cursor: nothing else would say it is gone."""
        ...

    def departures_after(self, user_id: str, seq: int, limit: int) -> list[tuple[int, str]]:
        """(position, conversation id) of the user's departures after `seq`, in order."""
        ...

    def departure_head(self, user_id: str) -> int:
        """The user's newest departure position (0 if none)."""
        ...

    def save_snapshot(
        self, user_id: str, snapshot_id: str, positions: str, at: datetime, *, keep: int
    ) -> None:
        """Stores (or refreshes) a resume point; the user keeps at most `keep`, the
        oldest go first."""
        ...

    def load_snapshot(self, user_id: str, snapshot_id: str) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Credential:
    user_id: str
    username: str
    email: str
    password_hash: str
    confirmed: bool
    confirmation_code_hash: str | None = None
    code_expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class RefreshToken:
    token_hash: str
    user_id: str
    family_id: str
    expires_at: datetime
    # When it was rotated; None while it is the family's current token.
    used_at: datetime | None = None


class CredentialRepository(Protocol):
    """What local password identity keeps; unused where Cognito holds credentials.

    Refresh tokens change only through narrow, conditional writes, so a transaction
    that read a token before another one committed cannot undo that commit: a token is
    marked used only while it is unused (`claim_refresh`), a token is added only where
    none with its hash exists and, for a successor, only while its predecessor is still
    stored (`add_refresh`); nothing writes back a token row it read earlier. Revoking
    deletes. So a family, once revoked, is never revived by a rotation that read its
    token before the revocation committed, and one token is rotated by one caller only.

    An adapter whose transactions overlap (PostgreSQL, DynamoDB) must also make a
    rotation and a revocation of the same family conflict (e.g. both lock a per-family
    row, or the revocation is recorded and checked by `claim_refresh`), so that a
    successor added by a rotation still in flight when the revocation began does not
    outlive it. Memory and SQLite run one write transaction at a time, which gives it.
    """

    def get(self, user_id: str) -> Credential | None: ...
    def by_login(self, login: str) -> Credential | None:
        """By username or email, case-insensitively."""
        ...

    def put(self, credential: Credential) -> None:
        """Stores a new account (or replaces one with the same user id)."""
        ...

    def delete(self, user_id: str) -> None:
        """Removes the credential, freeing its username and email (refresh tokens are
        revoked separately)."""
        ...

    # Changes to an account, each one conditional write of the fields it means to
    # change, so none undoes a change committed since the account was read.

    def replace_code(
        self, user_id: str, code_hash: str, expires_at: datetime, *, confirmed: bool
    ) -> bool:
        """Puts a new code in the account's one code slot, only while the account's
        confirmed flag is `confirmed` (confirmation codes for unconfirmed accounts,
        reset codes for confirmed ones); True if it did."""
        ...

    def confirm(self, user_id: str, code_hash: str) -> bool:
        """Confirms the account and spends its code, only while it is unconfirmed and
        `code_hash` is still its code; True if it did."""
        ...

    def set_password(self, user_id: str, password_hash: str, *, code_hash: str) -> bool:
        """Sets the password and spends the reset code, only while the account is
        confirmed and `code_hash` is still its code; True if it did."""
        ...

    def delete_unconfirmed(self, user_id: str) -> bool:
        """`delete`, only while the account is unconfirmed; True if it deleted it."""
        ...

    def get_refresh(self, token_hash: str) -> RefreshToken | None: ...

    def add_refresh(self, token: RefreshToken, *, after: str | None = None) -> bool:
        """Stores a new, unused token, if no token with its hash is stored and, when
        `after` (the hash of the token it succeeds) is given, that token is still
        stored, i.e. its family was not revoked; True if it stored it. A successor
        already stored, perhaps rotated since, is left exactly as it is."""
        ...

    def claim_refresh(self, token_hash: str, now: datetime) -> bool:
        """Marks the token used at `now` if it is stored and still unused, as one
        conditional write; True if this call did. False: another rotation claimed it
        first, or its family was revoked (`get_refresh` tells which)."""
        ...

    def revoke_family(self, family_id: str) -> None:
        """Deletes every token of the family: none of them is ever claimed again."""
        ...

    def revoke_user(self, user_id: str) -> None:
        """`revoke_family` for every family of the user."""
        ...

    def families_of(self, user_id: str) -> set[str]:
        """The refresh-token families (sessions) the user still holds tokens of."""
        ...


class Transaction(Protocol):
    """What one transaction function sees. Read the `Store` contract: plain reads may
    be stale, writes are narrow and conditional, locking reads are current."""

    @property
    def users(self) -> UserRepository: ...
    @property
    def conversations(self) -> ConversationRepository: ...
    @property
    def members(self) -> MemberRepository: ...
    @property
    def messages(self) -> MessageRepository: ...
    @property
    def attachments(self) -> AttachmentRepository: ...
    @property
    def reactions(self) -> ReactionRepository: ...
    @property
    def log(self) -> ConversationLog: ...
    @property
    def sync(self) -> SyncState: ...
    @property
    def credentials(self) -> CredentialRepository: ...
    @property
    def sessions(self) -> EndedSessionRepository: ...
    @property
    def blocks(self) -> BlockRepository: ...


class Store(Protocol):
    """Where the chat's data lives, written by many transactions at once.

    The contract every adapter keeps (memory, SQLite, and the shared stores to come),
    so one contract suite proves them all:

    - **Atomic and durable.** A transaction function's changes are kept all together
      once `write` returns, or none of them if it raises.
    - **Re-runnable.** A transaction function is pure: it touches nothing but `tx` (no
      I/O, no awaiting, no state outside it that a second run would see changed), so the
      adapter may run it again from the start after a serialization failure or a lost
      race (`LostRace`), with the first run's changes undone. It may also generate ids
      and read the clock afresh each time. After a few lost races the adapter gives up
      with a plain `Conflict`.
    - **Commit order.** `on_commit` gets the result of the run that committed, on the
      event loop, in commit order, even if the caller was cancelled meanwhile (so no
      committed event goes unpublished).

    What a transaction function may assume, and must not:

    - **Plain reads may be stale.** Another transaction may commit between a plain read
      and this transaction's writes (READ COMMITTED): a row read may since have been
      changed or deleted, a row found missing may since exist. So nothing read plainly
      is ever written back whole.
    - **Writes are narrow and conditional.** Each write changes only what it means to
      (add one to `last_seq`, move `read_seq` forward, set a role or a title, edit a
      message only if it is not deleted) against the row as it is at that moment, and
      says when its condition failed (the member is gone, the message was deleted), so
      the function can raise and be rolled back whole.
    - **Locking reads are current.** `tx.conversations.lock(id)` returns the committed
      row and serialises every transaction that locks that conversation; reads after it
      see what those committed. A rule that spans rows (the group size cap, deleting
      the group when its last member leaves, adding a member while the group is
      deleted, handing ownership over) locks the conversation first.
    - **Uniqueness decides create-or-get.** A function that reads "absent" and then
      inserts under a unique key gets `LostRace` if another transaction won; it is
      re-run and finds the winner's row, so the loser returns the winner's result
      rather than a conflict.

    The memory and SQLite adapters run one write transaction at a time, so there no
    plain read is stale and `lock` is a plain read; transaction functions keep the rules
    anyway, because the same functions run on the stores that interleave transactions
    (the contract suite, `tests/contract/test_races.py`, feeds them stale reads).
    """

    # Whether writes commit in the order `write` was called (one writer: memory,
    # SQLite). A store whose writers run in parallel (PostgreSQL) leaves it to the
    # caller to wait for one write before starting the next where order matters.
    commits_in_call_order: bool

    async def read(self, work: Callable[[Transaction], T], *, quick: bool = False) -> T:
        """Runs `work` against a consistent snapshot; it must not write. `quick` says
        the read is small and bounded (a page found by an index): an adapter whose
        reads are local (SQLite) may then run it on the caller's thread, sparing the
        hand-over to a worker thread and back, which costs more than such a read."""
        ...

    async def write(
        self, work: Callable[[Transaction], T], on_commit: Callable[[T], None] | None = None
    ) -> T:
        """Runs `work` atomically (see the class contract: it may run more than once)
        and returns the result of the run that committed. When `write` returns, every
        change is durable; when it raises, none is kept. `on_commit` runs on the event
        loop in commit order as soon as the write is durable, even if the caller was
        cancelled meanwhile."""
        ...

    async def close(self) -> None: ...


class AttachmentStore(Protocol):
    """Where attachments' bytes live: a directory under the data directory, or an
    S3-compatible bucket. Keys are opaque paths chosen by the service
    (`<conversation id>/<attachment id>[.thumb]`), never from user input."""

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        """Stores `data` under `key` (replacing any), durably when it returns."""
        ...

    def stream(self, key: str) -> AsyncIterator[bytes]:
        """The bytes under `key`, in chunks; raises `NotFound` before the first chunk
        if there are none."""
        ...

    async def delete(self, key: str) -> None:
        """Deletes the bytes under `key`; nothing happens if there are none."""
        ...

    async def url(
        self, key: str, *, file_name: str, content_type: str, inline: bool, ttl_seconds: int
    ) -> str | None:
        """A URL that serves the bytes directly for `ttl_seconds` (an S3 presigned GET
        with the given content type and disposition), or None when the store has no
        such thing (local disk: the app then signs a URL it serves itself)."""
        ...

    async def upload_target(
        self, key: str, *, max_bytes: int, ttl_seconds: int
    ) -> UploadTarget | None:
        """Where a client may send up to `max_bytes` to be stored under `key` itself,
        for `ttl_seconds` (an S3 presigned POST), or None when the store has no such
        thing (local disk: the app then takes them at a URL it signs)."""
        ...

    async def expire_uploads(self, before: datetime) -> int:
        """Deletes the bytes of uploads (keys `uploads/...`) stored before `before`,
        sent but never completed; returns how many. A bucket whose lifecycle rule
        expires them does nothing here."""
        ...


@dataclass(frozen=True, slots=True)
class UploadTarget:
    """A form upload that needs no token: POST `url` as multipart/form-data with
    `fields` in order, then the file last under the name `file`."""

    url: str
    fields: dict[str, str]


@dataclass(frozen=True, slots=True)
class ImageInfo:
    """What decoding an uploaded image found: its type by its bytes (not by its name),
    its size in pixels as shown, a small thumbnail for previews, and `cleaned`: the
    image again without the metadata it carried (EXIF with the camera and the GPS
    position, XMP, comments, text chunks), turned upright, to be stored instead of the
    upload; None when the upload carried none and is stored as it came."""

    content_type: str
    width: int
    height: int
    thumbnail: bytes
    thumbnail_type: str
    cleaned: bytes | None = None


class ImageProcessor(Protocol):
    def examine(self, data: bytes) -> ImageInfo:
        """Decodes `data` fully, refusing (`UnsupportedMediaType`) anything that is not
        a PNG, JPEG, GIF or WebP image, and (`PayloadTooLarge`) images with more pixels
        than the processor allows (decompression bombs). CPU-bound: callers run it off
        the event loop."""
        ...

    def square(self, data: bytes, edge: int) -> bytes:
        """A profile picture: `data` checked as `examine` does, turned upright, cropped
        to its centred square and scaled to `edge` pixels, as a WebP with no metadata
        (the photo's EXIF, location included, is not carried over). CPU-bound."""
        ...


@dataclass(frozen=True, slots=True)
class TokenSet:
    access_token: str
    refresh_token: str
    expires_in: int


class IdentityProvider(Protocol):
    """Passwords, confirmation codes and tokens: local argon2 + JWT, or Cognito."""

    async def register(self, user: User, password: str) -> bool:
        """Creates the account; returns True when a confirmation code must be entered."""
        ...

    async def confirm(self, username: str, code: str) -> str:
        """Confirms the account and returns its user id."""
        ...

    async def resend_code(self, username: str) -> None: ...

    async def sign_in(self, login: str, password: str) -> tuple[str, TokenSet]:
        """Returns (user id, tokens); raises `Unauthorized` without saying whether the
        user exists, or `NotConfirmed` for a correct password on an unconfirmed account."""
        ...

    async def refresh(self, refresh_token: str) -> TokenSet:
        """Rotates: the presented token stops working. Presented again within a short
        grace (two tabs refreshing at once) it yields the same successor; later, it
        revokes the whole chain (reuse of a stolen token) and raises `TokenReused`."""
        ...

    async def sign_out(
        self, session: Session, refresh_token: str | None, everywhere: bool
    ) -> list[str]:
        """Revokes the refresh tokens of `session` (and of the session `refresh_token`
        belongs to, if it is the same user's), or of every session of the user; returns
        the ids of the sessions it ended."""
        ...

    def verify_access_token(self, token: str) -> Session:
        """The session of a valid, unexpired access token (signature, audience, issuer
        and expiry checked; not whether the session has ended since), or `Unauthorized`."""
        ...

    async def has_account(self, user_id: str) -> bool:
        """Whether an account exists for this user id, confirmed or not (a sign-up cut
        short by a crash leaves a profile without one)."""
        ...

    # Expiry of unconfirmed sign-ups and password reset (Cognito: AdminDeleteUser of an
    # UNCONFIRMED user, ForgotPassword, ConfirmForgotPassword).

    async def discard_unconfirmed(self, user_id: str) -> bool:
        """Deletes the account if it is still unconfirmed, freeing its username and
        email; True if there is now no account for `user_id`, False if it is confirmed."""
        ...

    async def forgot_password(self, login: str) -> None:
        """Sends a single-use, expiring reset code to a confirmed account named by
        username or email (replacing any earlier one); silently does nothing for unknown
        or unconfirmed accounts, so the caller learns nothing."""
        ...

    async def confirm_forgot_password(self, login: str, code: str, new_password: str) -> list[str]:
        """Sets a new password with a reset code, spends the code and revokes every
        refresh token of the account, all at once; returns the sessions this ended.
        Every failure (unknown account, wrong, spent or expired code) is the same
        `ValidationFailed`."""
        ...


CodePurpose = Literal["confirmation", "password_reset"]


class CodeSender(Protocol):
    async def send(
        self, email: str, username: str, code: str, *, purpose: CodePurpose = "confirmation"
    ) -> None:
        """Delivers a one-time code to the account's email (or the console)."""
        ...


class TicketStore(Protocol):
    """Single-use WebSocket tickets. Issuing and consuming cost O(1) however many
    tickets are live, and an adapter may bound how many it keeps (dropping the oldest):
    tickets are short-lived and minting them is rate-limited per user."""

    async def issue(self, session: Session, ttl_seconds: int) -> str:
        """A fresh single-use ticket for the WebSocket handshake."""
        ...

    async def consume(self, ticket: str) -> Session | None:
        """The ticket's session, once; None if unknown, expired or already used."""
        ...


class RateLimiter(Protocol):
    """Attempts per key, as a token bucket: `limit` attempts at once, refilled evenly
    over `window_seconds` (so at most `limit` per window in the long run, and one more
    every window/limit seconds once spent). A refused attempt costs nothing.

    Each hit costs O(1) whatever the number of keys, and an adapter keeps a bounded
    number of keys: a key left alone until its bucket is full again is forgotten, and at
    the bound the least recently used key may be (it then starts full)."""

    async def hit(self, key: str, limit: int, window_seconds: float) -> int | None:
        """Counts one attempt; returns whole seconds to wait (≥ 1) when the key is
        over its limit, else None."""
        ...


class EventPublisher(Protocol):
    """Hands committed events to every open connection of their recipients, on every
    process.

    `publish` is called on the event loop in commit order (from `Store.write`'s
    `on_commit`) and starts at once, without blocking: this process's connections get
    their frames queued before it returns, so they see events in commit order; frames
    for other processes are queued in the same order on their way out (Redis, SNS).
    The awaitable it returns completes when the deliveries have left this process, or
    could not (the adapter then logs, and clients recover through the sync log's gap
    detection); it never raises. Long-running servers need not wait for it; a Lambda
    handler awaits it before returning, since its process may be frozen right after.
    A connection that cannot keep up is dropped, never waited on."""

    def publish(self, deliveries: Sequence[Delivery]) -> Awaitable[None]: ...


class Subscriptions(Protocol):
    """Which users' events reach this process from the others: the receiving side of a
    cross-process `EventPublisher`, for servers that hold connections. Counted per
    user, so each `listen` needs its own `unlisten`."""

    async def listen(self, user_id: str) -> None:
        """Returns once events published for the user from now on reach this process."""
        ...

    async def unlisten(self, user_id: str) -> None: ...


class PresenceTracker(Protocol):
    """Who is connected, across every process, and how many connections each user has.

    A connection claims a slot before its handshake completes, goes live when its hello
    is sent, and ends when it closes. Each process renews the leases of its own
    connections (`renew`); a connection whose lease runs out (its process died) ends by
    itself, and `expired` reports the users that left that way, each to one caller."""

    async def claim(self, user_id: str, connection_id: str, limit: int) -> bool:
        """Takes one of the user's `limit` connection slots, counting live and opening
        connections on every process; False (and nothing taken) when all are taken."""
        ...

    async def connected(self, user_id: str, connection_id: str) -> bool:
        """Marks a claimed connection live; True if the user was offline until now."""
        ...

    async def disconnected(self, user_id: str, connection_id: str) -> bool:
        """Ends a connection, live or only claimed; True if it was the user's last live
        one (so they went offline now). Ending an unknown connection returns False."""
        ...

    async def online(self, user_ids: Sequence[str]) -> set[str]:
        """Those of `user_ids` with at least one live connection whose lease holds."""
        ...

    async def renew(self, connections: Collection[tuple[str, str]]) -> None:
        """Extends the leases of this process's connections, as (user_id,
        connection_id) pairs, claimed or live."""
        ...

    async def expired(self) -> list[str]:
        """Ends every connection whose lease has run out and returns the users who have
        no live connection left because of it; each such user is returned once, to one
        caller across all processes, so their contacts hear `offline` once."""
        ...


# Sessions: one sign-in (a refresh-token family), which signing out ends at once.


@dataclass(frozen=True, slots=True)
class Session:
    """Whom an access token or a WebSocket ticket speaks for: the user, and the sign-in
    (refresh-token family) it was issued under."""

    user_id: str
    session_id: str


class TokenReused(Unauthorized):
    """A rotated refresh token came back after its grace: its session was revoked."""

    def __init__(self, session_id: str) -> None:
        super().__init__("Refresh token is not valid; sign in again.")
        self.session_id = session_id


class EndedSessionRepository(Protocol):
    """Sessions ended before their last access token expired, kept in the store so a
    restart does not bring them back."""

    def end(self, session_id: str, until: datetime) -> None:
        """Records the session as ended until `until` (a later call may extend it)."""
        ...

    def live(self, now: datetime) -> dict[str, datetime]:
        """Every session still recorded as ended at `now`, with its `until`."""
        ...

    def forget_before(self, now: datetime) -> None:
        """Drops the records whose `until` has passed."""
        ...


class SessionStore(Protocol):
    """Which sessions have ended, asked on every authenticated request.

    Every process that accepts access tokens must agree: once `end` returns, every
    process refuses the sessions' access tokens and tickets.
    """

    async def end(self, session_ids: Collection[str], until: datetime) -> None:
        """Ends the sessions until `until`, when their last access token has expired
        anyway. Durable when it returns, and then refused by every process."""
        ...

    async def is_ended(self, session_id: str) -> bool:
        """Whether the session was ended: O(1), no store round trip."""
        ...


class SessionConnections(Protocol):
    async def close_sessions(self, session_ids: Collection[str]) -> None:
        """Closes every live connection opened under one of these sessions (close code
        4401), on every process, and any whose handshake is still under way. Returns
        once every process has been told; the closes themselves do not block it."""
        ...
