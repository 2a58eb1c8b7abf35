"""What the Lambda handlers share, built once per warm container at its first
invocation (never at import: a cold start pays for what it uses, and an import does
no network, no password-hash set-up, no app building).

This is the Lambda side of the composition root: `hubbub.bootstrap.build` wires the
services exactly as for `hubbub serve`, with the SNS publisher in place of the
in-process hub; this module adds only what API Gateway needs (the connection
registry, the poster). The seams where the deployment's adapters are chosen:

- the store: `_store` (None: `build` chooses it from HUBBUB_STORE, which is
  `dynamodb` when deployed);
- the identity: `identity` (Cognito when HUBBUB_COGNITO_USER_POOL_ID is set, as when
  deployed; else the local identity, with HUBBUB_TOKEN_SECRET);
- Redis (ElastiCache, `rediss://`): presence, typing, tickets, rate limits and ended
  sessions, through the same adapters as a scaled-out server (HUBBUB_REDIS_URL,
  required by `core`: no two invocations share memory).

Two kinds of container, as the functions are placed (see `hubbub.aws`): the services
(`core`, `sessions`, `frame_limiter`) are built only in the VPC functions; the
fan-out builds only `registry`, `poster` and `pool`, which read nothing but
`AwsSettings` and need neither Redis nor the store.

Everything runs on one event loop kept for the container's life, so the Redis client
(bound to a loop) and the store are reused by warm invocations.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar

from hubbub.aws.settings import AwsSettings
from hubbub.config import ConfigError, Settings

if TYPE_CHECKING:
    from hubbub.adapters.apigw_connections import (
        ConnectionPoster,
        ConnectionRegistry,
        Report,
        RequestReport,
    )
    from hubbub.adapters.sns_fanout import ConnectionRequest, SnsPublisher
    from hubbub.bootstrap import Platform
    from hubbub.ports import Clock, IdentityProvider, RateLimiter, SessionStore, Store

T = TypeVar("T")

# API Gateway closes a connection idle for ten minutes: a lease as long as that keeps
# a user online between frames (each frame renews it; a vanished one ends by itself).
LAMBDA_PRESENCE_LEASE_SECONDS = 600

_loop: asyncio.AbstractEventLoop | None = None
_settings: tuple[Settings, AwsSettings] | None = None
_aws: AwsSettings | None = None
_core: Platform | None = None
_extras: dict[str, Any] = {}


def run(work: Coroutine[Any, Any, T]) -> T:
    """Runs `work` on the container's event loop."""
    return loop().run_until_complete(work)


def loop() -> asyncio.AbstractEventLoop:
    """The container's one event loop, current for this thread (Mangum uses it too)."""
    global _loop
    if _loop is None or _loop.is_closed():
        _loop = asyncio.new_event_loop()
    asyncio.set_event_loop(_loop)
    return _loop


def settings() -> tuple[Settings, AwsSettings]:
    """The settings, read and checked once."""
    global _settings
    if _settings is None:
        core = Settings.from_env()
        if "HUBBUB_PRESENCE_LEASE_SECONDS" not in os.environ:
            core = replace(core, presence_lease_seconds=LAMBDA_PRESENCE_LEASE_SECONDS)
        _settings = core, aws_settings()
    return _settings


def aws_settings() -> AwsSettings:
    """The AWS-only settings, all the fan-out reads."""
    global _aws
    if _aws is None:
        _aws = AwsSettings.from_env()
    return _aws


def core() -> Platform:
    """The services (store, identity, Redis state, SNS publisher), as `build` wires
    them for every entry point."""
    global _core
    if _core is None:
        config, aws = settings()
        if not config.redis_url:
            raise ConfigError(
                "HUBBUB_REDIS_URL is required on Lambda: tickets, presence and limits"
                " must be shared by every invocation (rediss://... for ElastiCache)"
            )
        aws.require("sns_topic_arn")
        # Imported here: the fan-out handler and a cold import never load the services.
        from hubbub.adapters.sns_fanout import SnsPublisher
        from hubbub.bootstrap import build

        publisher = _extras["sns"] = SnsPublisher(_client("sns"), aws.sns_topic_arn)
        loop()  # the Redis client and the store are made on the container's loop
        from hubbub.adapters.apigw_connections import SessionSockets

        _core = build(
            config,
            publisher=publisher,
            store=_store(config, aws),
            identity=identity(config, aws),
            # A sign-out closes the sign-in's sockets through the fan-out.
            connections=SessionSockets(registry(), publisher.request_close),
        )
    return _core


def _store(config: Settings, aws: AwsSettings) -> Store | None:
    """The store seam: None lets `build` choose it from the settings (HUBBUB_STORE;
    DynamoDB with HUBBUB_DYNAMODB_TABLE_PREFIX when deployed)."""
    return None


def identity(
    config: Settings, aws: AwsSettings
) -> Callable[[Store, Clock], IdentityProvider] | None:
    """The identity seam: the Cognito user pool when one is configured, else None
    (`build` makes the local identity, which needs HUBBUB_TOKEN_SECRET here: no two
    invocations share a generated key)."""
    if not aws.cognito_user_pool_id:
        if not config.token_secret:
            raise ConfigError(
                "set HUBBUB_COGNITO_USER_POOL_ID (and HUBBUB_COGNITO_CLIENT_ID) or"
                " HUBBUB_TOKEN_SECRET: every invocation must verify the same tokens"
            )
        return None
    aws.require("cognito_client_id")
    from hubbub.adapters.cognito_identity import CognitoIdentity

    def make(store: Store, clock: Clock) -> IdentityProvider:
        return CognitoIdentity(
            store,
            clock,
            user_pool_id=aws.cognito_user_pool_id,
            client_id=aws.cognito_client_id,
            jwks_url=aws.cognito_jwks_url or None,
            issuer=aws.cognito_issuer or None,
            auto_confirm=aws.auto_confirm,
            access_ttl_seconds=config.access_token_ttl,
            refresh_ttl_days=config.refresh_token_days,
        )

    return make


def registry() -> ConnectionRegistry:
    """The `websocket-connections` table."""

    def make() -> ConnectionRegistry:
        from botocore.config import Config

        from hubbub.adapters.apigw_connections import ConnectionRegistry

        aws = aws_settings()
        # The fan-out queries it from `fanout_concurrency` threads at once: with botocore's
        # default pool of 10, every connection past the tenth was dropped after its call (a
        # new TCP and TLS handshake each time, and a warning per call in the log).
        return ConnectionRegistry(
            _client("dynamodb", config=Config(max_pool_connections=aws.fanout_concurrency)),
            aws.table("websocket-connections"),
            ttl_seconds=aws.connection_ttl_seconds,
        )

    return cached("registry", make)


def poster() -> ConnectionPoster:
    """Posts to connections through the configured Management API endpoint."""

    def make() -> ConnectionPoster:
        from hubbub.adapters.apigw_connections import ConnectionPoster, client_config

        aws = aws_settings()
        aws.require("ws_management_url")
        client = _client(
            "apigatewaymanagementapi",
            endpoint_url=aws.ws_management_url,
            config=client_config(),
        )
        return ConnectionPoster(client)

    return cached("poster", make)


def pool() -> ThreadPoolExecutor:
    """Worker threads for the fan-out's parallel calls (bounded: HUBBUB_FANOUT_CONCURRENCY)."""
    return cached(
        "pool",
        lambda: ThreadPoolExecutor(
            max_workers=aws_settings().fanout_concurrency, thread_name_prefix="fanout"
        ),
    )


def publisher() -> SnsPublisher:
    """The SNS publisher `core` was built with."""
    core()
    found: SnsPublisher = _extras["sns"]
    return found


def connection_requests(messages: list[str]) -> list[ConnectionRequest]:
    """The hello and close requests among fan-out messages."""
    from hubbub.adapters.sns_fanout import connection_request

    return [found for m in messages if (found := connection_request(m)) is not None]


# How long a hello waits for API Gateway to finish the handshake (its post answers 410
# until then).
HELLO_PATIENCE_SECONDS = 3.0


def carry_out(requests: list[ConnectionRequest]) -> RequestReport:
    """Sends the requested hellos and closes the connections asked to be closed."""
    from hubbub.adapters.apigw_connections import carry_out

    return carry_out(requests, registry(), poster(), patience=HELLO_PATIENCE_SECONDS)


def fan_out(messages: list[str]) -> Report:
    """Hands SNS fan-out messages to every connection of their recipients."""
    from hubbub.adapters.apigw_connections import deliver

    return deliver(messages, registry(), poster(), pool())


def sessions() -> SessionStore:
    """Which sessions have ended (signed out), shared through Redis and the store: a
    frame on a connection of an ended session closes it."""

    def make() -> SessionStore:
        from hubbub.adapters.redis_sessions import SharedSessions
        from hubbub.adapters.system import SystemClock

        platform = core()
        assert platform.redis is not None  # core() requires Redis
        return SharedSessions(platform.store, SystemClock(), platform.redis)

    return cached("sessions", make)


def frame_limiter() -> RateLimiter:
    """Frames per connection (HUBBUB_WS_FRAMES_PER_SECOND, bursts of
    HUBBUB_WS_FRAME_BURST), counted in Redis since every frame is its own invocation."""

    def make() -> RateLimiter:
        from hubbub.adapters.memory import MemoryRateLimiter
        from hubbub.adapters.redis_state import RedisRateLimiter

        platform = core()
        assert platform.redis is not None
        return RedisRateLimiter(platform.redis, fallback=MemoryRateLimiter(max_keys=10_000))

    return cached("frames", make)


def cached(name: str, make: Callable[[], T]) -> T:
    """What `make` returns, made once per container (forgotten by `reset`)."""
    found = _extras.get(name)
    if found is None:
        found = _extras[name] = make()
    return found


def _client(service: str, **options: Any) -> Any:
    import boto3

    return boto3.client(service, **options)


def reset() -> None:
    """Forgets everything built (tests: a new container)."""
    global _settings, _core, _aws
    if _core is not None:
        run(_core.close())
    pooled = _extras.get("pool")
    if pooled is not None:
        pooled.shutdown(wait=True)
    _settings, _core, _aws = None, None, None
    _extras.clear()
