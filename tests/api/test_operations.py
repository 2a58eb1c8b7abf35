"""What an operator sees of a running server: request ids, JSON log lines, Prometheus
metrics and readiness."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.postgres import TEST_TOKEN_SECRET, PostgresServer
from tests.redis import RedisServer
from tests.support import Api, ServerProcess, free_port, open_socket

METRICS_TOKEN = "scraper-" + "t" * 24


def _local_only() -> None:
    if os.environ.get("HUBBUB_TEST_BASE_URL"):
        pytest.skip("reads the local server's log and starts servers of its own")


@pytest.fixture(scope="module")
def observed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server of its own that logs every request (info), in the default JSON format."""
    _local_only()
    process = ServerProcess(
        data_dir=Path(tmp_path_factory.mktemp("hubbub-ops")) / "data",
        env={"HUBBUB_LOG_LEVEL": "info"},
    )
    process.start()
    yield process
    process.stop()


@pytest.fixture
async def ops(observed: ServerProcess) -> AsyncIterator[Api]:
    client = Api(observed.base_url)
    yield client
    await client.close()


def log_lines(server: ServerProcess) -> list[dict[str, Any]]:
    """The server's log, every line parsed as JSON (a line that is not fails the test)."""
    assert server.log is not None
    return [json.loads(line) for line in server.log.read_text().splitlines() if line.strip()]


async def wait_for_line(
    server: ServerProcess, where: Callable[[dict[str, Any]], bool] | None = None, **match: Any
) -> dict[str, Any]:
    """The first log line with the fields `match` (and `where`), waiting up to 10 s."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for line in log_lines(server):
            if all(line.get(k) == v for k, v in match.items()) and (where is None or where(line)):
                return line
        await asyncio.sleep(0.05)
    raise AssertionError(f"no log line with {match}")


async def metrics(api: Api) -> dict[str, float]:
    """Every sample of /metrics by name and labels, e.g. `hubbub_messages_sent_total`
    or `hubbub_store_seconds_count{op="write"}`."""
    reply = await api.http.get("/metrics")
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("text/plain")
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(reply.text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return samples


# Request ids


async def test_a_sane_request_id_is_echoed(api: Api) -> None:
    reply = await api.http.get("/healthz", headers={"X-Request-ID": "lb-7f3a.2_x"})
    assert reply.headers["x-request-id"] == "lb-7f3a.2_x"


async def test_requests_without_a_sane_id_get_a_new_one_each(api: Api) -> None:
    plain = await api.http.get("/healthz")
    odd = await api.http.get("/healthz", headers={"X-Request-ID": "has spaces; and=more"})
    long = await api.http.get("/healthz", headers={"X-Request-ID": "a" * 65})
    ids = [r.headers["x-request-id"] for r in (plain, odd, long)]
    assert len(set(ids)) == 3
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)


async def test_error_responses_carry_the_request_id(api: Api) -> None:
    missing = await api.http.get("/api/no-such-thing", headers={"X-Request-ID": "e404"})
    unauthorized = await api.call("GET", "/users/me", headers={"X-Request-ID": "e401"})
    too_large = await api.call(
        "POST", "/auth/signin", content=b"x" * (65 * 1024), headers={"X-Request-ID": "e413"}
    )
    assert [r.status_code for r in (missing, unauthorized, too_large)] == [404, 401, 413]
    assert [r.headers["x-request-id"] for r in (missing, unauthorized, too_large)] == [
        "e404",
        "e401",
        "e413",
    ]


# Logs


async def test_every_log_line_is_json_and_a_request_is_logged_with_its_id(
    ops: Api, observed: ServerProcess
) -> None:
    rid = f"trace-{secrets.token_hex(6)}"
    ticket = f"secret{secrets.token_hex(8)}"
    reply = await ops.http.get(f"/api/users/me?ticket={ticket}", headers={"X-Request-ID": rid})
    assert reply.status_code == 401

    line = await wait_for_line(observed, request_id=rid)
    assert line["logger"] == "hubbub.http" and line["level"] == "INFO"
    assert (line["method"], line["path"], line["status"]) == ("GET", "/api/users/me", 401)
    assert line["duration_ms"] >= 0 and line["time"].endswith("+00:00")
    assert line["message"].startswith("GET /api/users/me 401")
    assert observed.log is not None and ticket not in observed.log.read_text()
    # uvicorn's own lines go through the same formatter (log_lines parses every line).
    assert any(line["logger"].startswith("uvicorn") for line in log_lines(observed))


async def test_websocket_connections_are_logged_with_their_id(
    ops: Api, observed: ServerProcess
) -> None:
    me = await ops.sign_up()
    earlier = {line.get("connection_id") for line in log_lines(observed)}
    async with open_socket(ops, me):
        opened = await wait_for_line(
            observed, lambda line: line.get("connection_id") not in earlier, logger="hubbub.ws"
        )
    connection_id = opened["connection_id"]
    assert opened["message"] == f"WebSocket {connection_id} open"
    closed = await wait_for_line(observed, message=f"WebSocket {connection_id} closed")
    assert opened["request_id"] == closed["request_id"] == connection_id
    # uvicorn's own handshake line names the path, without the ticket.
    handshake = await wait_for_line(observed, lambda line: "WebSocket /ws" in line["message"])
    assert handshake["logger"] == "uvicorn.error"
    assert observed.log is not None and "ticket=" not in observed.log.read_text()


# Metrics


async def test_metrics_count_a_message_sent_over_the_websocket(ops: Api) -> None:
    alice, bob = await ops.sign_up(), await ops.sign_up()
    conversation = await ops.direct(alice, bob)
    before = await metrics(ops)
    async with open_socket(ops, alice) as socket_:
        ack = await socket_.request(
            "sendMessage", conversationId=conversation, clientMessageId="m1", body="hello"
        )
        assert ack["type"] == "ack", ack
        during = await metrics(ops)
    after = await _settled(
        ops, "hubbub_websocket_connections", before["hubbub_websocket_connections"]
    )

    def moved(name: str) -> float:
        return during[name] - before.get(name, 0.0)

    assert moved("hubbub_messages_sent_total") == 1
    assert moved("hubbub_websocket_frames_received_total") >= 1  # the send
    assert moved("hubbub_websocket_frames_sent_total") >= 2  # the hello and the ack
    assert moved("hubbub_websocket_connections") == 1
    assert moved("hubbub_fanout_seconds_count") >= 1
    assert moved('hubbub_store_seconds_count{op="write"}') >= 1
    assert moved('hubbub_store_seconds_count{op="read"}') >= 1
    ticket = 'hubbub_http_requests_total{method="POST",route="/api/auth/ws-ticket",status="2xx"}'
    assert moved(ticket) == 1
    assert after["hubbub_websocket_connections"] == before["hubbub_websocket_connections"]


async def test_metrics_count_the_history_page_under_its_route_template(ops: Api) -> None:
    ana, bob = await ops.sign_up(), await ops.sign_up()
    conversation = await ops.direct(ana, bob)
    key = (
        'hubbub_http_requests_total{method="GET",'
        'route="/api/conversations/{conversation_id}/messages",status="2xx"}'
    )
    before = await metrics(ops)
    await ops.call("GET", f"/conversations/{conversation}/messages", bob)
    after = await metrics(ops)
    assert after[key] - before.get(key, 0.0) == 1


async def _settled(api: Api, name: str, value: float) -> dict[str, float]:
    """The metrics once `name` is back at `value` (a closed socket is noticed soon after)."""
    deadline = time.monotonic() + 10
    while True:
        now = await metrics(api)
        if now[name] == value or time.monotonic() > deadline:
            return now
        await asyncio.sleep(0.05)


async def test_metrics_count_errors_by_code(ops: Api) -> None:
    before = await metrics(ops)
    await ops.call("GET", "/users/me")
    after = await metrics(ops)
    key = 'hubbub_errors_total{code="unauthorized",transport="http"}'
    assert after[key] - before.get(key, 0.0) == 1
    status = 'hubbub_http_requests_total{method="GET",route="/api/users/me",status="4xx"}'
    assert after[status] - before.get(status, 0.0) == 1


async def test_metrics_are_refused_to_a_request_a_proxy_forwarded(ops: Api) -> None:
    """A proxy on the same host connects from loopback: what it forwards is not local."""
    for header in ("X-Forwarded-For", "X-Real-IP"):
        reply = await ops.http.get("/metrics", headers={header: "203.0.113.7"})
        assert reply.status_code == 403
        assert reply.json()["error"]["code"] == "forbidden"


async def test_metrics_are_not_in_the_openapi_document(ops: Api) -> None:
    document = (await ops.http.get("/api/openapi.json")).json()
    assert "/metrics" not in document["paths"]
    assert document["paths"]["/readyz"]["get"]["tags"] == ["operations"]


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    _local_only()
    process = ServerProcess(
        data_dir=Path(tmp_path_factory.mktemp("hubbub-guarded")) / "data",
        env={"HUBBUB_METRICS_TOKEN": METRICS_TOKEN},
    )
    process.start()
    yield process
    process.stop()


async def test_with_a_metrics_token_only_its_bearer_may_read_metrics(
    guarded: ServerProcess,
) -> None:
    async with httpx.AsyncClient(base_url=guarded.base_url) as http:
        bare = await http.get("/metrics")
        wrong = await http.get("/metrics", headers={"Authorization": "Bearer " + "x" * 32})
        right = await http.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        forwarded = await http.get(
            "/metrics",
            headers={"Authorization": f"Bearer {METRICS_TOKEN}", "X-Forwarded-For": "203.0.113.7"},
        )
    assert (bare.status_code, wrong.status_code) == (401, 401)
    assert bare.json()["error"]["code"] == "unauthorized"
    assert right.status_code == forwarded.status_code == 200
    assert "hubbub_messages_sent_total" in right.text


# Readiness


async def test_readyz_reports_a_ready_server(api: Api) -> None:
    reply = await api.http.get("/readyz")
    assert reply.status_code == 200
    body = reply.json()
    assert body["status"] == "ready" and body["checks"]["store"] == "ok"
    # The default server has no Redis, so nothing else to check (a deployment under
    # HUBBUB_TEST_BASE_URL may have Redis too: then it answers as well).
    assert set(body["checks"]) <= {"store", "redis"} and set(body["checks"].values()) == {"ok"}


async def test_readyz_reports_redis_down(tmp_path: Path) -> None:
    _local_only()
    server = ServerProcess(
        data_dir=tmp_path / "data",
        env={"HUBBUB_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"},
    )
    server.start()
    try:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=20) as http:
            reply = await http.get("/readyz")
        assert reply.status_code == 503
        assert reply.json() == {"status": "unready", "checks": {"store": "ok", "redis": "down"}}
    finally:
        server.stop()


# Many workers on one port


async def test_with_workers_metrics_add_up_whichever_worker_answers(
    tmp_path: Path, postgres: PostgresServer, redis_server: RedisServer
) -> None:
    """`hubbub serve --workers 2`: connections land on either worker (the kernel picks),
    and every scrape, answered by either, counts them all."""
    _local_only()
    server = ServerProcess(
        data_dir=tmp_path / "data",
        env={
            "HUBBUB_WORKERS": "2",
            "HUBBUB_DATABASE_URL": postgres.fresh_database_url(),
            "HUBBUB_TOKEN_SECRET": TEST_TOKEN_SECRET,
            "HUBBUB_REDIS_URL": redis_server.fresh_url(),
            "HUBBUB_LOG_LEVEL": "info",
        },
    )
    server.start()
    assert server.process is not None
    supervisor = server.process.pid
    api = Api(server.base_url)
    try:
        alice, bob = await api.sign_up(), await api.sign_up()
        conversation = await api.direct(alice, bob)
        async with contextlib.AsyncExitStack() as stack:
            sockets = [await stack.enter_async_context(open_socket(api, alice)) for _ in range(6)]
            for n, socket_ in enumerate(sockets):
                ack = await socket_.request(
                    "sendMessage", conversationId=conversation, clientMessageId=f"w{n}", body="hi"
                )
                assert ack["type"] == "ack", ack
            scrapes = [await metrics(api) for _ in range(8)]
            # The kernel hands each connection to either worker; the figures must not
            # depend on which one answers the scrape.
            for scrape in scrapes:
                assert scrape["hubbub_websocket_connections"] == 6
                assert scrape["hubbub_messages_sent_total"] == 6
        # A worker's own series carry no pid label: one figure per metric, summed.
        assert "pid" not in str(scrapes[0])
    finally:
        await api.close()
        server.stop()
    # The workers log JSON lines too (log_lines parses every line), with their own pid.
    lines = log_lines(server)
    workers = {line["pid"] for line in lines if line["logger"] == "hubbub.ws"}
    assert workers and supervisor not in workers
