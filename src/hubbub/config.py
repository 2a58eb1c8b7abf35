"""Typed settings from the environment (HUBBUB_*), overridable by CLI flags.

Every value is validated here, at start-up, with a message that names the variable.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names it."""


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path("data")
    store: str = "sqlite"
    # postgresql://...: the store is that PostgreSQL database, shared by every process.
    database_url: str = ""
    database_connections: int = 8  # per process: its pool, and its worker threads
    # HUBBUB_STORE=dynamodb: the tables are named <prefix><logical name> (dynamodb_tables);
    # the endpoint and credentials come from the standard AWS variables.
    dynamodb_table_prefix: str = "hubbub-"
    sqlite_synchronous: str = "FULL"
    # redis://...: processes share presence, typing, tickets, limits and fan-out there.
    redis_url: str = ""
    # Processes `hubbub serve` runs on its port (PostgreSQL and Redis only).
    workers: int = 1
    # How long a connection counts as live without its process renewing it: the time a
    # crashed process's users stay "online" at most.
    presence_lease_seconds: int = 30
    token_secret: str = ""
    access_token_ttl: int = 900
    refresh_token_days: int = 30
    refresh_grace_seconds: int = 10
    confirmation: str = "none"
    allowed_origins: tuple[str, ...] = ()
    max_connections_per_user: int = 20
    max_pending_frames: int = 1000
    ws_frames_per_second: int = 30
    ws_frame_burst: int = 60
    max_body_bytes: int = 64 * 1024
    sign_up_per_ip: int = 20
    sign_in_per_ip: int = 50
    sign_in_per_account: int = 10
    rate_window_seconds: int = 300
    # Limits on everything else that costs the server, and who may say where a request
    # came from (addresses or CIDRs of reverse proxies; none by default).
    trusted_proxies: tuple[str, ...] = ()
    sign_in_per_account_total: int = 30
    codes_per_ip: int = 30
    tickets_per_minute: int = 60
    writes_per_second: int = 30
    write_burst: int = 60
    rate_limit_keys: int = 100_000
    password_hash_memory_kib: int = 65536
    static_dir: Path | None = None
    log_level: str = "info"
    # One JSON object per line (json), or the human format (text).
    log_format: str = "json"
    # Bearer token that lets a scraper read /metrics from anywhere; without it /metrics
    # answers loopback clients only (it tells load and traffic figures).
    metrics_token: str = ""
    # Transport limits (issue 8): what one socket may cost before the app sees it.
    max_header_bytes: int = 16 * 1024
    head_timeout_seconds: int = 10
    body_timeout_seconds: int = 10
    keep_alive_seconds: int = 5
    max_open_connections: int = 0  # 0: the open-file limit less a reserve
    # Attachments (issue 13): the largest upload, and where the bytes live: a directory
    # under data_dir by default, or an S3-compatible bucket (credentials come from the
    # usual AWS variables or profile). Download links made for browsers last this long.
    attachment_max_bytes: int = 25 * 1024 * 1024
    attachment_url_seconds: int = 60
    # The upload route's body may take this long to arrive (others: body_timeout).
    upload_timeout_seconds: int = 600
    # Several processes on one machine must share one directory (or use S3): a file
    # stored by one process is served by whichever process a download reaches.
    attachment_dir: Path | None = None
    s3_bucket: str = ""
    s3_endpoint_url: str = ""
    s3_region: str = ""

    def __post_init__(self) -> None:
        _check(0 < self.port < 65536, "HUBBUB_PORT must be 1-65535")
        _check(
            self.store in {"sqlite", "memory", "dynamodb"},
            "HUBBUB_STORE must be sqlite, memory or dynamodb",
        )
        _check(1 <= self.database_connections <= 200, "HUBBUB_DATABASE_CONNECTIONS must be 1-200")
        if self.database_url:
            _check_database_url(self.database_url)
            _check(
                self.store != "memory",
                "HUBBUB_STORE=memory and HUBBUB_DATABASE_URL exclude each other",
            )
            # Nothing lives in the local data directory of a shared store's processes:
            # they must all sign tokens with the same key.
            _check(
                bool(self.token_secret),
                "HUBBUB_TOKEN_SECRET is required with HUBBUB_DATABASE_URL (every process"
                " sharing the database must sign tokens with the same secret)",
            )
        if self.store == "dynamodb":
            _check(
                not self.database_url,
                "HUBBUB_STORE=dynamodb and HUBBUB_DATABASE_URL exclude each other",
            )
            _check(
                bool(re.fullmatch(r"[A-Za-z0-9_.-]{0,200}", self.dynamodb_table_prefix)),
                "HUBBUB_DYNAMODB_TABLE_PREFIX may hold letters, digits, '_', '-' and '.' only",
            )
            # A shared store, like PostgreSQL: every process signs with the same key.
            _check(
                bool(self.token_secret),
                "HUBBUB_TOKEN_SECRET is required with HUBBUB_STORE=dynamodb (every process"
                " sharing the tables must sign tokens with the same secret)",
            )
        if self.redis_url:
            _check_redis_url(self.redis_url)
        _check(1 <= self.workers <= 64, "HUBBUB_WORKERS must be 1-64")
        if self.workers > 1:
            _check(
                self.backend in {"postgres", "dynamodb"} and bool(self.redis_url),
                "HUBBUB_WORKERS above 1 needs HUBBUB_DATABASE_URL (PostgreSQL) or"
                " HUBBUB_STORE=dynamodb, and"
                " HUBBUB_REDIS_URL: worker processes share nothing else (SQLite has one"
                " writer per file, and without Redis each worker would see only its own"
                " connections, tickets and limits)",
            )
        _check(
            3 <= self.presence_lease_seconds <= 600,
            "HUBBUB_PRESENCE_LEASE_SECONDS must be 3-600",
        )
        _check(
            self.sqlite_synchronous in {"FULL", "NORMAL", "EXTRA"},
            "HUBBUB_SQLITE_SYNCHRONOUS must be FULL, NORMAL or EXTRA",
        )
        _check(
            self.confirmation in {"none", "console"},
            "HUBBUB_CONFIRMATION must be none or console",
        )
        _check(60 <= self.access_token_ttl <= 86400, "HUBBUB_ACCESS_TOKEN_TTL must be 60-86400 s")
        _check(1 <= self.refresh_token_days <= 365, "HUBBUB_REFRESH_TOKEN_DAYS must be 1-365")
        _check(0 <= self.refresh_grace_seconds <= 60, "HUBBUB_REFRESH_GRACE_SECONDS must be 0-60")
        _check(
            not self.token_secret or len(self.token_secret) >= 32,
            "HUBBUB_TOKEN_SECRET must be at least 32 characters",
        )
        _check(self.max_connections_per_user >= 1, "HUBBUB_MAX_CONNECTIONS_PER_USER must be ≥ 1")
        _check(self.max_pending_frames >= 10, "HUBBUB_MAX_PENDING_FRAMES must be ≥ 10")
        _check(self.ws_frames_per_second >= 1, "HUBBUB_WS_FRAMES_PER_SECOND must be ≥ 1")
        _check(self.ws_frame_burst >= 1, "HUBBUB_WS_FRAME_BURST must be ≥ 1")
        for name in ("sign_up_per_ip", "sign_in_per_ip", "sign_in_per_account"):
            _check(getattr(self, name) >= 1, f"HUBBUB_{name.upper()} must be ≥ 1")
        _check(self.rate_window_seconds >= 1, "HUBBUB_RATE_WINDOW_SECONDS must be ≥ 1")
        for name in (
            "sign_in_per_account_total",
            "codes_per_ip",
            "tickets_per_minute",
            "writes_per_second",
            "write_burst",
        ):
            _check(getattr(self, name) >= 1, f"HUBBUB_{name.upper()} must be ≥ 1")
        _check(self.rate_limit_keys >= 1000, "HUBBUB_RATE_LIMIT_KEYS must be ≥ 1000")
        for proxy in self.trusted_proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise ConfigError(
                    f"HUBBUB_TRUSTED_PROXIES entry {proxy!r} must be an IP address or CIDR"
                ) from None
        _check(self.max_body_bytes >= 1024, "HUBBUB_MAX_BODY_BYTES must be ≥ 1024")
        _check(
            self.password_hash_memory_kib >= 8,
            "HUBBUB_PASSWORD_HASH_MEMORY_KIB must be ≥ 8",
        )
        _check(
            self.log_level in {"critical", "error", "warning", "info", "debug"},
            "HUBBUB_LOG_LEVEL must be critical, error, warning, info or debug",
        )
        _check(self.log_format in {"json", "text"}, "HUBBUB_LOG_FORMAT must be json or text")
        _check(
            not self.metrics_token or len(self.metrics_token) >= 16,
            "HUBBUB_METRICS_TOKEN must be at least 16 characters",
        )
        _check(
            1024 <= self.max_header_bytes <= 1024 * 1024,
            "HUBBUB_MAX_HEADER_BYTES must be 1024-1048576",
        )
        _check(1 <= self.head_timeout_seconds <= 300, "HUBBUB_HEAD_TIMEOUT_SECONDS must be 1-300")
        _check(1 <= self.body_timeout_seconds <= 300, "HUBBUB_BODY_TIMEOUT_SECONDS must be 1-300")
        _check(1 <= self.keep_alive_seconds <= 300, "HUBBUB_KEEP_ALIVE_SECONDS must be 1-300")
        _check(
            self.max_open_connections == 0 or self.max_open_connections >= 10,
            "HUBBUB_MAX_OPEN_CONNECTIONS must be 0 (from the open-file limit) or ≥ 10",
        )
        _check(
            1024 <= self.attachment_max_bytes <= 1024**3,
            "HUBBUB_ATTACHMENT_MAX_BYTES must be 1024-1073741824",
        )
        _check(
            10 <= self.attachment_url_seconds <= 3600,
            "HUBBUB_ATTACHMENT_URL_SECONDS must be 10-3600",
        )
        _check(
            1 <= self.upload_timeout_seconds <= 3600,
            "HUBBUB_UPLOAD_TIMEOUT_SECONDS must be 1-3600",
        )
        if self.s3_endpoint_url:
            _check(
                self.s3_endpoint_url.startswith(("http://", "https://")),
                "HUBBUB_S3_ENDPOINT_URL must start with http:// or https://",
            )
            _check(bool(self.s3_bucket), "HUBBUB_S3_ENDPOINT_URL needs HUBBUB_S3_BUCKET")
        for origin in self.allowed_origins:
            _check(
                origin == "*" or origin.startswith(("http://", "https://")),
                f"HUBBUB_ALLOWED_ORIGINS entry {origin!r} must start with http:// or https://",
            )

    @property
    def backend(self) -> str:
        """The store in use: memory, sqlite, dynamodb or postgres (a database URL is set)."""
        return "postgres" if self.database_url else self.store

    @property
    def attachments_dir(self) -> Path:
        return self.attachment_dir or self.data_dir / "attachments"

    @property
    def database_path(self) -> Path:
        return self.data_dir / "hubbub.db"

    def to_env(self) -> dict[str, str]:
        """These settings as HUBBUB_* variables, which `from_env` reads back: how worker
        processes get the settings their parent was given on its command line."""
        env: dict[str, str] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if value is None:
                continue
            text = ",".join(value) if isinstance(value, tuple) else str(value)
            env[f"HUBBUB_{item.name.upper()}"] = text
        return env

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for item in fields(cls):
            raw = env.get(f"HUBBUB_{item.name.upper()}")
            if raw is not None and raw != "":
                values[item.name] = _parse(item.name, str(item.type), raw)
        settings = cls(**values)
        given = {k: v for k, v in overrides.items() if v is not None}
        return replace(settings, **given) if given else settings


def _parse(name: str, declared: str, raw: str) -> Any:
    if name in {"data_dir", "static_dir", "attachment_dir"}:
        return Path(raw)
    if name == "allowed_origins":
        return tuple(o.strip().rstrip("/") for o in raw.split(",") if o.strip())
    if name == "trusted_proxies":
        return tuple(p.strip() for p in raw.split(",") if p.strip())
    if name == "sqlite_synchronous":
        return raw.strip().upper()
    if declared == "int":
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"HUBBUB_{name.upper()} must be an integer, got {raw!r}") from None
    return raw.strip().lower() if name in _LOWERCASE else raw


_LOWERCASE = {"store", "confirmation", "log_level", "log_format"}


def _check_database_url(url: str) -> None:
    """A postgresql:// URL with a host or socket and a database name. (Only the scheme
    and shape are checked here; the driver reports what the server says.)"""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise ConfigError("HUBBUB_DATABASE_URL is not a valid URL") from None
    _check(
        parts.scheme in {"postgresql", "postgres"},
        "HUBBUB_DATABASE_URL must start with postgresql://",
    )
    _check(
        bool(parts.path.strip("/")) or "dbname=" in parts.query,
        "HUBBUB_DATABASE_URL must name a database (postgresql://user@host:5432/hubbub)",
    )


def _check_redis_url(url: str) -> None:
    """A redis://, rediss:// (TLS) or unix:// URL; the client reports what the server
    says when it is reached."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise ConfigError("HUBBUB_REDIS_URL is not a valid URL") from None
    _check(
        parts.scheme in {"redis", "rediss", "unix"},
        "HUBBUB_REDIS_URL must start with redis://, rediss:// or unix://",
    )
    _check(
        parts.scheme == "unix" or bool(parts.hostname),
        "HUBBUB_REDIS_URL must name a host (redis://127.0.0.1:6379/0)",
    )


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)
