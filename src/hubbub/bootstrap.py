"""The composition root: turns settings into wired services. No adapter is chosen
anywhere else."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher

from hubbub.adapters import sqlite_schema
from hubbub.adapters.attachments_disk import DiskAttachments
from hubbub.adapters.common_passwords import ShippedCommonPasswords
from hubbub.adapters.images_pillow import PillowImages
from hubbub.adapters.instrumented import InstrumentedPublisher, InstrumentedStore
from hubbub.adapters.local_hub import LocalHub, LocalOnly
from hubbub.adapters.local_identity import LocalIdentity
from hubbub.adapters.local_sessions import StoredSessions
from hubbub.adapters.memory import (
    ConsoleCodeSender,
    MemoryAttachments,
    MemoryPresence,
    MemoryRateLimiter,
    MemoryStore,
    MemoryTicketStore,
)
from hubbub.adapters.redis_fanout import RedisFanout
from hubbub.adapters.redis_link import RedisLink
from hubbub.adapters.redis_sessions import SharedSessions
from hubbub.adapters.redis_state import RedisPresence, RedisRateLimiter, RedisTicketStore
from hubbub.adapters.sqlite import SqliteStore
from hubbub.adapters.system import SystemClock, UlidGenerator
from hubbub.config import Settings
from hubbub.ports import (
    AttachmentStore,
    Clock,
    CodeSender,
    EventPublisher,
    IdentityProvider,
    PresenceTracker,
    RateLimiter,
    SessionConnections,
    SessionStore,
    Store,
    Subscriptions,
    TicketStore,
)
from hubbub.schema import SchemaStatus
from hubbub.services.attachments import AttachmentService
from hubbub.services.auth import AuthPolicy, AuthService
from hubbub.services.avatars import AVATAR_MAX_BYTES, AvatarService
from hubbub.services.blocks import BlockService
from hubbub.services.conversations import ConversationService
from hubbub.services.devices import KnownDevices
from hubbub.services.messages import MessageService
from hubbub.services.realtime import RealtimeService
from hubbub.services.search import SearchService
from hubbub.services.sync import SyncService
from hubbub.services.throttle import WriteThrottle
from hubbub.services.users import UserService

log = logging.getLogger("hubbub")


@dataclass(slots=True)
class Platform:
    """Everything an entry point needs: the services, and the hub that holds this
    process's live connections."""

    settings: Settings
    store: Store
    hub: LocalHub
    subscriptions: Subscriptions
    auth: AuthService
    users: UserService
    conversations: ConversationService
    messages: MessageService
    attachments: AttachmentService
    avatars: AvatarService
    blocks: BlockService
    realtime: RealtimeService
    sync: SyncService
    writes: WriteThrottle
    search: SearchService
    # The deployment's Redis when HUBBUB_REDIS_URL is set (scaled out), else None,
    # and the fan-out through it, whose reader runs while the server does.
    redis: RedisLink | None = None
    fanout: RedisFanout | None = None
    # Origins besides this one that serve images to the page and take its uploads (an
    # S3 bucket's presigned attachment URLs): the Content-Security-Policy allows them.
    file_origins: tuple[str, ...] = ()
    _keeping: asyncio.Task[None] | None = None
    _cleaning: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Starts what runs in the background while the server serves: reading other
        processes' events, renewing this process's connection leases, and deleting
        uploads never sent."""
        if self.fanout is not None:
            await self.fanout.start()
            self._keeping = asyncio.get_running_loop().create_task(self._keep_alive())
        self._cleaning = asyncio.get_running_loop().create_task(self._clean_up())

    async def _clean_up(self) -> None:
        while True:
            try:
                while await self.attachments.clean_up() > 0:
                    pass
            except Exception:
                log.exception("deleting unsent attachments failed; retrying later")
            await asyncio.sleep(3600)

    async def _keep_alive(self) -> None:
        every = self.settings.presence_lease_seconds / 3
        while True:
            await asyncio.sleep(every)
            try:
                await self.realtime.keep_alive(self.hub.pairs())
            except Exception:
                log.exception("renewing connection leases failed; retrying")

    async def close(self) -> None:
        if self._cleaning is not None:
            self._cleaning.cancel()
        if self._keeping is not None:
            self._keeping.cancel()
        if self.fanout is not None:
            await self.fanout.stop()
        await self.store.close()
        if self.redis is not None:
            await self.redis.close()


def build(
    settings: Settings,
    *,
    clock: Clock | None = None,
    code_sender: CodeSender | None = None,
    publisher: EventPublisher | None = None,
    store: Store | None = None,
    identity: Callable[[Store, Clock], IdentityProvider] | None = None,
    connections: SessionConnections | None = None,
) -> Platform:
    """Wires the adapters `settings` choose. Tests pass their fakes for the outside world:
    a clock they move, a code sender they read, a publisher that records the fan-out
    instead of the hub (which then has no connections), and a store another platform
    also uses (two processes sharing one database). `identity` makes the identity
    provider from the store and clock in place of the local one (Cognito on AWS), and
    `connections` closes an ended session's sockets where no process holds them (API
    Gateway)."""
    clock = clock or SystemClock()
    ids = UlidGenerator()
    if store is None:
        if settings.backend == "postgres":
            # Imported here: a deployment on SQLite never loads the PostgreSQL driver.
            from hubbub.adapters.postgres import PostgresStore

            store = PostgresStore(settings.database_url, connections=settings.database_connections)
        elif settings.store == "dynamodb":
            # Imported here: only a deployment on DynamoDB loads boto3 for its store.
            from hubbub.adapters.dynamodb import DynamoStore

            store = DynamoStore(
                settings.dynamodb_table_prefix, workers=settings.database_connections * 2
            )
        elif settings.store == "memory":
            store = MemoryStore()
        else:
            store = SqliteStore(settings.database_path, synchronous=settings.sqlite_synchronous)
    # Metrics (/metrics): the services' transactions and publishes are timed. Platform.store
    # stays the bare store, so health probes do not count as load.
    bare_store, store = store, InstrumentedStore(store)
    hub = LocalHub()
    state = _redis_state if settings.redis_url else _local_state
    shared = state(settings, store, clock, hub)
    presence = shared.presence
    signing_key = _signing_key(settings)
    identity_provider = (
        identity(store, clock)
        if identity
        else LocalIdentity(
            store,
            clock,
            signing_key=signing_key,
            code_sender=(code_sender or ConsoleCodeSender())
            if settings.confirmation == "console"
            else None,
            access_ttl_seconds=settings.access_token_ttl,
            refresh_ttl_days=settings.refresh_token_days,
            refresh_grace_seconds=settings.refresh_grace_seconds,
            hasher=PasswordHasher(memory_cost=settings.password_hash_memory_kib),
        )
    )
    policy = AuthPolicy(
        sign_in_per_account=settings.sign_in_per_account,
        sign_in_per_ip=settings.sign_in_per_ip,
        sign_up_per_ip=settings.sign_up_per_ip,
        window_seconds=settings.rate_window_seconds,
        sign_in_per_account_total=settings.sign_in_per_account_total,
        codes_per_ip=settings.codes_per_ip,
        tickets_per_minute=settings.tickets_per_minute,
        access_ttl_seconds=settings.access_token_ttl,
    )
    limiter = shared.limiter
    devices = KnownDevices(hmac.new(signing_key, b"device", hashlib.sha256).digest(), clock)
    auth = AuthService(
        store,
        identity_provider,
        shared.tickets,
        limiter,
        ids,
        clock,
        policy,
        sessions=shared.sessions,
        connections=connections or shared.connections,
        devices=devices,
        common_passwords=ShippedCommonPasswords(),
    )
    sync = SyncService(store, clock)
    publisher = InstrumentedPublisher(publisher or shared.publisher)  # metrics: fan-out timed
    blobs, file_origins = _attachment_store(settings)
    images = PillowImages()
    attachments = AttachmentService(
        store,
        blobs,
        images,
        ids,
        clock,
        signing_key=hmac.new(signing_key, b"attachments", hashlib.sha256).digest(),
        max_bytes=settings.attachment_max_bytes,
        url_seconds=settings.attachment_url_seconds,
    )
    users = UserService(store, publisher)
    return Platform(
        settings=settings,
        store=bare_store,
        hub=hub,
        subscriptions=shared.subscriptions,
        auth=auth,
        users=users,
        conversations=ConversationService(
            store, publisher, ids, clock, presence, forget=attachments.forget
        ),
        messages=MessageService(store, publisher, ids, clock, forget=attachments.forget),
        attachments=attachments,
        avatars=AvatarService(
            users, blobs, images, max_bytes=min(AVATAR_MAX_BYTES, settings.attachment_max_bytes)
        ),
        blocks=BlockService(store, publisher, clock, presence),
        realtime=RealtimeService(store, publisher, presence, sync, clock),
        sync=sync,
        writes=WriteThrottle(limiter, settings.writes_per_second, settings.write_burst),
        search=SearchService(store),
        redis=shared.link,
        fanout=shared.fanout,
        file_origins=file_origins,
    )


def _attachment_store(settings: Settings) -> tuple[AttachmentStore, tuple[str, ...]]:
    """An S3-compatible bucket when one is configured, else files under the data
    directory (in memory for the memory store); with the origins its URLs point at."""
    if settings.s3_bucket:
        # Imported here: a deployment on local disk never loads boto3.
        from hubbub.adapters.attachments_s3 import S3Attachments

        bucket = S3Attachments(
            settings.s3_bucket, endpoint_url=settings.s3_endpoint_url, region=settings.s3_region
        )
        return bucket, (bucket.origin,)
    if settings.store == "memory" and not settings.database_url:
        return MemoryAttachments(), ()
    return DiskAttachments(settings.attachments_dir), ()


@dataclass(slots=True)
class _SharedState:
    """What differs between one process and many: where real-time state lives."""

    publisher: EventPublisher
    subscriptions: Subscriptions
    connections: SessionConnections
    sessions: SessionStore
    tickets: TicketStore
    limiter: RateLimiter
    presence: PresenceTracker
    link: RedisLink | None = None
    fanout: RedisFanout | None = None


def _local_state(settings: Settings, store: Store, clock: Clock, hub: LocalHub) -> _SharedState:
    """One process is the whole platform: everything lives in its memory (and ended
    sessions in the store)."""
    return _SharedState(
        publisher=hub,
        subscriptions=LocalOnly(),
        connections=hub,
        sessions=StoredSessions(store, clock),
        tickets=MemoryTicketStore(),
        limiter=MemoryRateLimiter(max_keys=settings.rate_limit_keys),
        presence=MemoryPresence(),
    )


def _redis_state(settings: Settings, store: Store, clock: Clock, hub: LocalHub) -> _SharedState:
    """Many processes: presence, tickets, limits, ended sessions and the fan-out go
    through Redis, so a client may land on any process."""
    link = RedisLink(settings.redis_url)
    sessions = SharedSessions(store, clock, link)
    process_id = f"{os.getpid()}-{secrets.token_hex(4)}"
    fanout = RedisFanout(link, hub, process_id, on_resubscribed=sessions.reload)
    return _SharedState(
        publisher=fanout,
        subscriptions=fanout,
        connections=fanout,
        sessions=sessions,
        tickets=RedisTicketStore(link),
        # While Redis is down, limits are counted per process rather than not at all.
        limiter=RedisRateLimiter(
            link, fallback=MemoryRateLimiter(max_keys=settings.rate_limit_keys)
        ),
        presence=RedisPresence(link, lease_seconds=settings.presence_lease_seconds),
        link=link,
        fanout=fanout,
    )


def schema_status(settings: Settings) -> SchemaStatus | None:
    """Where the configured store's schema stands, changing nothing; None for a store
    without one (memory)."""
    if settings.backend == "postgres":
        from hubbub.adapters import postgres_schema

        return postgres_schema.status(settings.database_url)
    if settings.store in {"memory", "dynamodb"}:
        return None
    return sqlite_schema.status(settings.database_path)


def migrate(settings: Settings) -> tuple[int, int] | None:
    """Upgrades the configured store's schema in place: (version before, after); None
    for a store without one. `build` does the same for SQLite when it opens the store;
    on PostgreSQL it refuses to start until this has run (many processes share it)."""
    if settings.backend == "postgres":
        from hubbub.adapters import postgres_schema

        return postgres_schema.migrate(settings.database_url)
    if settings.store == "dynamodb":
        from hubbub.adapters import dynamodb, dynamodb_tables

        dynamodb_tables.create_tables(dynamodb.client(), settings.dynamodb_table_prefix)
        return None
    if settings.store == "memory":
        return None
    return sqlite_schema.upgrade(settings.database_path)


def where(settings: Settings) -> str:
    """Where the data lives, for messages: a database URL without its password."""
    if settings.backend == "postgres":
        from hubbub.adapters.postgres_schema import describe

        return describe(settings.database_url)
    if settings.store == "dynamodb":
        return f"DynamoDB tables {settings.dynamodb_table_prefix}*"
    return str(settings.database_path if settings.store == "sqlite" else settings.data_dir)


def _signing_key(settings: Settings) -> bytes:
    """The configured secret, or one generated once and kept in the data directory so
    sessions survive restarts."""
    if settings.token_secret:
        return settings.token_secret.encode()
    if settings.store == "memory":
        return secrets.token_bytes(32)
    path: Path = settings.data_dir / "token-secret.key"
    if not path.exists():
        settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_hex(32))
    return bytes.fromhex(path.read_text().strip())
