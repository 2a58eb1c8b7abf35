"""Readiness, who may read /metrics, metrics summed over processes, and the log format,
on the ASGI app in this process (a real redis-server where Redis is involved)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from hubbub.adapters import prometheus
from hubbub.adapters.local_hub import Connection
from hubbub.adapters.redis_link import RedisLink
from hubbub.bootstrap import Platform, build
from hubbub.config import Settings
from hubbub.ports import Transaction
from hubbub.server import logs, operations, websocket
from hubbub.server.app import create_app
from tests.redis import RedisServer
from tests.support import free_port

T = TypeVar("T")
SETTINGS = Settings(store="memory", password_hash_memory_kib=1024)
TOKEN = "m" * 32


def client_for(platform: Platform, peer: str = "127.0.0.1") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(platform), client=(peer, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://hubbub.test")


@pytest.fixture
async def platform() -> AsyncIterator[Platform]:
    built = build(SETTINGS)
    yield built
    await built.close()


# Readiness


async def test_ready_when_the_store_and_redis_answer(
    platform: Platform, redis_server: RedisServer
) -> None:
    platform.redis = RedisLink(redis_server.url(), timeout=1.0)
    async with client_for(platform) as http:
        reply = await http.get("/readyz")
    assert reply.status_code == 200
    assert reply.json() == {"status": "ready", "checks": {"store": "ok", "redis": "ok"}}


async def test_unready_once_redis_stops_answering(platform: Platform) -> None:
    redis = RedisServer()  # its own: stopping the session's would break other tests
    redis.start()
    platform.redis = RedisLink(redis.url(), timeout=1.0)
    try:
        async with client_for(platform) as http:
            before = await http.get("/readyz")
            redis.stop()
            after = await http.get("/readyz")
    finally:
        redis.stop()
    assert before.status_code == 200
    assert after.status_code == 503
    assert after.json() == {"status": "unready", "checks": {"store": "ok", "redis": "down"}}


async def test_unready_when_nothing_listens_at_the_redis_url(platform: Platform) -> None:
    platform.redis = RedisLink(f"redis://127.0.0.1:{free_port()}/0", timeout=1.0)
    async with client_for(platform) as http:
        reply = await http.get("/readyz")
    assert reply.status_code == 503
    assert reply.json()["checks"] == {"store": "ok", "redis": "down"}


class _HangingStore:
    """A store whose reads never finish (a database that accepts and never answers)."""

    async def read(self, work: Callable[[Transaction], T], *, quick: bool = False) -> T:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


async def test_a_store_that_does_not_answer_in_time_is_down(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(operations, "CHECK_SECONDS", 0.05)
    monkeypatch.setattr(platform, "store", _HangingStore())
    async with client_for(platform) as http:
        reply = await http.get("/readyz")
    assert reply.status_code == 503
    assert reply.json() == {"status": "unready", "checks": {"store": "down"}}


# Who may read /metrics


@pytest.mark.parametrize(
    ("peer", "headers", "status"),
    [
        ("127.0.0.1", {}, 200),
        ("::1", {}, 200),
        ("::ffff:127.0.0.1", {}, 200),
        ("127.0.0.1", {"X-Forwarded-For": "203.0.113.7"}, 403),
        ("127.0.0.1", {"Forwarded": "for=203.0.113.7"}, 403),
        ("203.0.113.7", {}, 403),
        ("10.0.0.5", {}, 403),
    ],
)
async def test_without_a_token_metrics_are_for_direct_loopback_clients(
    platform: Platform, peer: str, headers: dict[str, str], status: int
) -> None:
    async with client_for(platform, peer) as http:
        reply = await http.get("/metrics", headers=headers)
    assert reply.status_code == status


async def test_behind_a_trusted_proxy_the_forwarded_client_decides() -> None:
    platform = build(replace(SETTINGS, trusted_proxies=("127.0.0.1",)))
    async with client_for(platform) as http:
        outside = await http.get("/metrics", headers={"X-Forwarded-For": "203.0.113.7"})
    await platform.close()
    assert outside.status_code == 403


@pytest.mark.parametrize(
    ("peer", "authorization", "status"),
    [
        ("203.0.113.7", f"Bearer {TOKEN}", 200),
        ("203.0.113.7", f"bearer {TOKEN}", 200),
        ("127.0.0.1", None, 401),  # with a token, loopback needs it too
        ("203.0.113.7", "Bearer " + "x" * 32, 401),
        ("203.0.113.7", f"Basic {TOKEN}", 401),
    ],
)
async def test_with_a_token_metrics_are_for_its_bearer(
    peer: str, authorization: str | None, status: int
) -> None:
    platform = build(replace(SETTINGS, metrics_token=TOKEN))
    headers = {"Authorization": authorization} if authorization else {}
    async with client_for(platform, peer) as http:
        reply = await http.get("/metrics", headers=headers)
    await platform.close()
    assert reply.status_code == status
    if status == 401:
        assert reply.headers["www-authenticate"] == "Bearer"


# Many processes, one /metrics

_WORKER = """
import sys
from hubbub.adapters import prometheus
prometheus.MESSAGES_SENT.inc(int(sys.argv[1]))
prometheus.WEBSOCKET_CONNECTIONS.inc(int(sys.argv[1]))
prometheus.STORE_SECONDS.labels(op="write").observe(0.01)
print("counted", flush=True)
if sys.argv[2] == "stay":
    sys.stdin.read()  # alive until the test closes stdin
"""


def _samples(text: bytes) -> dict[str, float]:
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(text.decode()):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            found[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return found


def test_metrics_of_processes_sharing_a_directory_are_summed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {**os.environ, prometheus.MULTIPROC_ENV: str(tmp_path)}
    command = [sys.executable, "-c", _WORKER]
    staying = subprocess.Popen(
        [*command, "3", "stay"], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        assert staying.stdout is not None and staying.stdout.readline() == b"counted\n"
        subprocess.run([*command, "4", "go"], env=env, check=True, capture_output=True)
        monkeypatch.setenv(prometheus.MULTIPROC_ENV, str(tmp_path))

        both = _samples(prometheus.render())
        assert both["hubbub_messages_sent_total"] == 7
        assert both['hubbub_store_seconds_count{op="write"}'] == 2
        # The process that exited holds no connections any more; the live one does.
        assert both["hubbub_websocket_connections"] == 3
    finally:
        staying.communicate(b"", timeout=30)

    after = _samples(prometheus.render())
    assert after["hubbub_messages_sent_total"] == 7  # counters outlive their process
    assert after.get("hubbub_websocket_connections", 0) == 0


def test_the_metrics_directory_starts_empty_and_a_temporary_one_is_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    given = tmp_path / "metrics"
    given.mkdir()
    (given / "counter_123.db").write_bytes(b"stale")
    monkeypatch.setenv(prometheus.MULTIPROC_ENV, str(given))
    with prometheus.multiprocess_dir() as path:
        assert path == given and not list(given.iterdir())
    assert given.exists()  # the operator's directory stays

    monkeypatch.delenv(prometheus.MULTIPROC_ENV)
    with prometheus.multiprocess_dir() as path:
        assert os.environ[prometheus.MULTIPROC_ENV] == str(path) and path.is_dir()
    assert not path.exists() and prometheus.MULTIPROC_ENV not in os.environ


# Log lines


def _formatted(log_format: str, message: str, **extra: Any) -> str:
    settings = Settings(store="memory", log_format=log_format)
    handler = logging.StreamHandler()
    handler.addFilter(logs.RequestIdFilter())
    factory = logs.JsonFormatter if log_format == "json" else logs.TextFormatter
    handler.setFormatter(factory())
    assert logs.config(settings)["formatters"]["hubbub"]["()"] is factory
    record = logging.LogRecord("hubbub.test", logging.WARNING, __file__, 1, message, (), None)
    record.__dict__.update(extra)
    handler.filter(record)
    return handler.format(record)


def test_a_json_line_has_the_fields_and_the_request_id_when_known() -> None:
    token = logs.request_id.set("abc123")
    try:
        inside = json.loads(_formatted("json", 'said "hi"\nthen left', conversation="c1"))
    finally:
        logs.request_id.reset(token)
    outside = json.loads(_formatted("json", "idle"))
    assert list(inside)[:5] == ["time", "level", "logger", "message", "pid"]
    assert inside["pid"] == os.getpid()
    assert inside["level"] == "WARNING" and inside["logger"] == "hubbub.test"
    assert inside["message"] == 'said "hi"\nthen left'
    assert (inside["request_id"], inside["conversation"]) == ("abc123", "c1")
    assert "request_id" not in outside


def test_the_text_format_is_the_human_one() -> None:
    token = logs.request_id.set("abc123")
    try:
        inside = _formatted("text", "hello")
    finally:
        logs.request_id.reset(token)
    assert inside == "WARNING hubbub.test hello [abc123]"
    assert _formatted("text", "hello") == "WARNING hubbub.test hello"


class _Lines(logging.Handler):
    """The JSON lines a logger writes, as the server's handler formats them."""

    def __init__(self) -> None:
        super().__init__()
        self.addFilter(logs.RequestIdFilter())
        self.setFormatter(logs.JsonFormatter())
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


async def test_each_websocket_frame_logs_with_its_own_request_id(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def handle(*_: object) -> None:
        logging.getLogger("hubbub.ws").warning("inside the frame")

    class Sink:
        async def send(self, text: str) -> None: ...
        async def close(self, code: int, reason: str) -> None: ...

    monkeypatch.setattr(websocket.commands, "handle", handle)
    captured = _Lines()
    logging.getLogger("hubbub.ws").addHandler(captured)
    connection = Connection("c1", "u1", 10, Sink())
    token = logs.request_id.set("c1")
    try:
        frames = [websocket._run("{}", connection, platform, f"c1/{n}") for n in (1, 2)]
        await asyncio.gather(*(asyncio.create_task(frame) for frame in frames))
        assert logs.request_id.get() == "c1"  # the connection's own context is untouched
    finally:
        logs.request_id.reset(token)
        logging.getLogger("hubbub.ws").removeHandler(captured)
    assert [line["request_id"] for line in captured.lines] == ["c1/1", "c1/2"]
