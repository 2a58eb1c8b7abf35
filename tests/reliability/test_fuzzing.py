"""Fuzzing: schemathesis over the served OpenAPI document (no 5xx, every response as
documented), and random and malformed WebSocket frames (error frames, no crash, other
clients unaffected)."""

from __future__ import annotations

import asyncio
import itertools
import json
import random
from dataclasses import dataclass
from typing import Any

import httpx
import hypothesis
import hypothesis.errors
import pytest
import schemathesis
import websockets
from hypothesis import HealthCheck
from hypothesis import strategies as st
from schemathesis import GenerationMode, checks

from tests.support import Account, Api, ServerProcess, open_socket

EXAMPLES = 50


@dataclass
class Fuzzer:
    """A real account with a real group, a member and a message, so that generated
    requests get past authentication and, with real ids, past the 404s too."""

    token: str
    path_parameters: dict[str, str]


@pytest.fixture(scope="module")
def fuzzer(server: ServerProcess) -> Fuzzer:
    def account() -> tuple[str, str]:
        name = f"fuzzer{random.randrange(10**9)}"
        body = {
            "username": name,
            "email": f"{name}@example.test",
            "password": "fuzzing is fun",
            "displayName": "Fuzzer",
        }
        assert httpx.post(f"{base}/auth/signup", json=body).status_code == 201
        reply = httpx.post(
            f"{base}/auth/signin", json={"username": name, "password": "fuzzing is fun"}
        )
        return reply.json()["accessToken"], reply.json()["user"]["id"]

    base = f"{server.base_url}/api"
    token, _ = account()
    _, friend = account()
    auth = {"Authorization": f"Bearer {token}"}
    group = httpx.post(
        f"{base}/conversations", json={"title": "fuzz", "memberIds": [friend]}, headers=auth
    ).json()["conversation"]["id"]
    message = httpx.post(
        f"{base}/conversations/{group}/messages",
        json={"clientMessageId": "fuzz-1", "body": "fuzz me"},
        headers=auth,
    ).json()["message"]["id"]
    attachment = httpx.post(
        f"{base}/conversations/{group}/attachments",
        params={"fileName": "fuzz.txt"},
        content=b"fuzz me too",
        headers=auth,
    ).json()["attachment"]["id"]
    ids = {
        "conversation_id": group,
        "message_id": message,
        "user_id": friend,
        "attachment_id": attachment,
    }
    return Fuzzer(token, ids)


CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
]


def test_rest_api_conforms_to_its_openapi(fuzzer: Fuzzer, server: ServerProcess) -> None:
    """Every operation of the served document, fuzzed with a valid token three ways:
    valid data with random ids, valid data with real ids, and invalid data. Failures of
    all operations are gathered so one run shows them all. (schemathesis' own pytest
    plugin does not load under pytest 9, hence the loop.)"""
    schema = schemathesis.openapi.from_url(f"{server.base_url}/api/openapi.json")
    failures: dict[str, str] = {}
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        wanted = {p.name for p in operation.path_parameters}
        real_ids = {k: v for k, v in fuzzer.path_parameters.items() if k in wanted}
        for label, strategy, examples in [
            ("random ids", operation.as_strategy(), EXAMPLES),
            ("real ids", operation.as_strategy(path_parameters=real_ids), EXAMPLES),
            ("invalid", operation.as_strategy(GenerationMode.NEGATIVE), EXAMPLES // 2),
        ]:
            if label == "real ids" and not real_ids:
                continue

            @hypothesis.given(case=strategy)
            @hypothesis.settings(
                max_examples=examples,
                deadline=None,
                derandomize=True,
                database=None,
                suppress_health_check=list(HealthCheck),
                phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
            )
            def fuzz(case: Any) -> None:
                case.call_and_validate(
                    base_url=server.base_url,
                    headers={"Authorization": f"Bearer {fuzzer.token}"},
                    checks=CHECKS,
                )

            try:
                fuzz()
            except hypothesis.errors.Unsatisfiable:
                assert label == "invalid"  # nothing can be invalid about e.g. /healthz
            except BaseException as failure:  # schemathesis' FailureGroup is no Exception
                if isinstance(failure, KeyboardInterrupt | SystemExit):
                    raise
                failures[f"{operation.label} ({label})"] = _describe(failure)
    assert operations >= 25
    assert not failures, "\n\n".join(f"{k}:\n{v}" for k, v in failures.items())


def _describe(failure: BaseException) -> str:
    parts = [str(failure)]
    if isinstance(failure, BaseExceptionGroup):
        parts += [str(e) for e in failure.exceptions]
    return "\n".join(parts)[:3000]


async def test_lone_surrogates_in_json_are_refused_not_crashed_on(api: Api) -> None:
    """Python's JSON parser accepts "\\ud800"; such text cannot be stored as UTF-8."""
    ana, bob = await api.sign_up(), await api.sign_up()
    conversation = await api.direct(ana, bob)
    group = await api.group(ana, "Surrogates", bob)
    raw = '"bad \\ud800 text"'
    for method, path, body in [
        ("POST", f"/conversations/{conversation}/messages", '{"clientMessageId":"s-1","body":%s}'),
        ("PATCH", "/users/me", '{"displayName":%s}'),
        ("PATCH", f"/conversations/{group}", '{"title":%s}'),
        ("POST", "/conversations", '{"title":%s,"memberIds":[]}'),
        ("POST", "/conversations/direct", '{"userId":%s}'),
        ("POST", "/auth/signin", '{"username":%s,"password":"whatever1"}'),
    ]:
        reply = await api.call(
            method,
            path,
            ana,
            content=(body % raw).encode(),
            headers={"content-type": "application/json"},
        )
        assert reply.status_code in (401, 404, 422), (method, path, reply.status_code, reply.text)
    messages = await api.call("GET", f"/conversations/{conversation}/messages", ana)
    assert messages.status_code == 200 and messages.json()["messages"] == []


async def test_odd_sync_cursors_are_validation_errors(api: Api) -> None:
    """A cursor is what the server handed out (`0`, or `s2.` and 26 lowercase base32
    characters), nothing else; a decimal one from the old global log has expired."""
    account = await api.sign_up()
    odd = ["²", "١٢", "-1", "1e3", " 1", "1 ", "0x10", "", "+1", "1.0", "1_0", "00 "]
    odd += ["s2.", "S2." + "a" * 26, "s2." + "A" * 26, "s2." + "a" * 27, "s2." + "a" * 25]
    odd += ["s2." + "a" * 25 + "1", "s2." + "a" * 25 + "é", "s3." + "a" * 26, "a" * 29]
    for since in odd:
        reply = await api.call("GET", "/sync", account, params={"since": since})
        assert reply.status_code == 422, (since, reply.status_code, reply.text)
        assert reply.json()["error"]["code"] == "validation_error", (since, reply.text)
    for since in ["1", "9" * 20, "12345"]:
        reply = await api.call("GET", "/sync", account, params={"since": since})
        assert (reply.status_code, reply.json()["error"]["code"]) == (410, "cursor_expired")
    head = await api.call("GET", "/sync", account)
    assert head.status_code == 200, head.text
    for since in ["0", head.json()["cursor"]]:
        reply = await api.call("GET", "/sync", account, params={"since": since})
        assert reply.status_code == 200, (since, reply.status_code, reply.text)


def _nested(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


MALFORMED: list[str | bytes] = [
    "",
    " ",
    "null",
    "true",
    "1",
    '"ping"',
    "[]",
    "{}",
    "{",
    '{"action":"ping"',
    '{"action":"ping"}}',
    "\x00",
    "[" * 5000,  # deeper than the parser allows, smaller than the frame limit
    _nested(2000),
    '{"action":' + _nested(1500) + "}",
    '{"action":"ping","requestId":' + _nested(100) + "}",
    '{"action":"ping","requestId":"' + "r" * 65 + '"}',
    '{"action":"ping","requestId":null}',
    '{"action":"markRead","conversationId":"c","seq":1e400}',
    '{"action":"markRead","conversationId":"c","seq":99999999999999999999999}',
    '{"action":"markRead","conversationId":"c","seq":1.5}',
    '{"action":"markRead","conversationId":"c","seq":-1}',
    '{"action":"markRead","conversationId":"c","seq":true}',
    '{"action":"markRead","conversationId":"c","seq":NaN}',
    '{"action":"sendMessage","conversationId":["c"],"clientMessageId":"x","body":"b"}',
    '{"action":"sendMessage","conversationId":"c","clientMessageId":"x","body":null}',
    '{"action":"sendMessage","conversationId":"c","clientMessageId":"x y","body":"b"}',
    '{"action":"sendMessage","conversationId":"' + "c" * 65 + '","clientMessageId":"x","body":"b"}',
    '{"action":"sendMessage","conversationId":"c","clientMessageId":"x","body":"\\ud800"}',
    '{"action":"typing","conversationId":"c","isTyping":1}',
    '{"action":"editMessage","conversationId":"c","messageId":{},"body":"b"}',
    '{"action":"deleteMessage"}',
    '{"action":["ping"]}',
    '{"action":"__class__"}',
    '{"action":"PING"}',
    '{"action":"ping","action":"fly"}',
    '{"action":"ping","extra":' + '"x",' * 10 + '"y":1}',
    b"",
    b"\xff\xfe\xfd",
    b'{"action":"ping"}',
    "\u202e\ufeff{}",
]


async def test_malformed_frames_get_error_frames_and_others_chat_on(api: Api) -> None:
    attacker, ana, bob = await api.sign_up(), await api.sign_up(), await api.sign_up()
    conversation = await api.direct(ana, bob)
    async with (
        open_socket(api, attacker) as evil,
        open_socket(api, ana) as ana_ws,
        open_socket(api, bob) as bob_ws,
    ):
        for frame in MALFORMED:
            await evil.send(frame)
        pong = await evil.request("ping")
        assert pong["type"] == "pong"
        # One reply per frame: an error, or a pong for the one valid ping among them
        # (a null requestId is no requestId).
        replies = [f for f in evil.frames if f["type"] in {"error", "pong"}]
        assert len(replies) == len(MALFORMED) + 1, replies
        assert len(evil.of_type("pong")) == 2
        codes = {e["error"]["code"] for e in evil.of_type("error")}
        assert codes <= {"validation_error", "payload_too_large"}, codes
        await _still_chatting(ana_ws, bob_ws, conversation, "after-malformed")


ACTIONS = ["sendMessage", "editMessage", "deleteMessage", "typing", "markRead", "ping", "x"]
FIELDS = ["requestId", "conversationId", "clientMessageId", "messageId", "body", "seq", "isTyping"]


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=20,
)
# Frames of the right shape with random values, so that most get past validation and reach
# the commands themselves.
_WELL_FORMED = st.fixed_dictionaries(
    {"action": st.sampled_from(ACTIONS), "conversationId": st.text(min_size=1, max_size=30)},
    optional={
        "requestId": st.text(max_size=64),
        "clientMessageId": st.text(min_size=1, max_size=64),
        "messageId": st.text(min_size=1, max_size=30),
        "body": st.text(max_size=100),
        "seq": st.integers(min_value=-1, max_value=2**63),
        "isTyping": st.booleans(),
    },
).map(json.dumps)
_FRAMES = st.lists(
    _WELL_FORMED
    | st.fixed_dictionaries(
        {"action": st.sampled_from(ACTIONS)},
        optional={name: _JSON_VALUES for name in FIELDS},
    ).map(json.dumps)
    | _JSON_VALUES.map(json.dumps)
    | st.text(max_size=200)
    | st.binary(max_size=200),
    min_size=1,
    # A fresh connection per example, and fewer frames than its burst allowance, so
    # every frame is read as a command rather than refused by the frame rate limit.
    max_size=50,
)


@dataclass
class _Cast:
    attacker: Account
    ana: Account
    bob: Account
    conversation: str


@pytest.fixture(scope="module")
def cast(server: ServerProcess) -> _Cast:
    async def make() -> _Cast:
        api = Api(server.base_url)
        try:
            attacker, ana, bob = await api.sign_up(), await api.sign_up(), await api.sign_up()
            return _Cast(attacker, ana, bob, await api.direct(ana, bob))
        finally:
            await api.close()

    return asyncio.run(make())


_examples = itertools.count()


@hypothesis.settings(
    max_examples=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@hypothesis.given(frames=_FRAMES)
def test_random_frames_never_break_the_server(
    frames: list[str | bytes], server: ServerProcess, cast: _Cast
) -> None:
    """Hypothesis-generated frames: JSON values of any shape with the protocol's field
    names mixed in, and random text and bytes; every one is answered, none crashes."""
    asyncio.run(_random_frames(server, cast, frames, f"after-random-{next(_examples)}"))


async def _random_frames(
    server: ServerProcess, cast: _Cast, frames: list[str | bytes], cmid: str
) -> None:
    api = Api(server.base_url)
    try:
        async with (
            open_socket(api, cast.attacker) as evil,
            open_socket(api, cast.ana) as ana_ws,
            open_socket(api, cast.bob) as bob_ws,
        ):
            for frame in frames:
                await evil.send(frame)
            assert (await evil.request("ping"))["type"] == "pong"
            codes = {f["error"]["code"] for f in evil.of_type("error")}
            # Only the documented codes (docs/websocket.md), never internal_error.
            documented = {"validation_error", "not_found", "forbidden", "payload_too_large"}
            assert codes <= documented | {"rate_limited"}, codes
            await _still_chatting(ana_ws, bob_ws, cast.conversation, cmid)
        assert (await api.http.get("/healthz")).json()["status"] == "ok"
    finally:
        await api.close()


async def test_invalid_utf8_in_a_text_frame_closes_only_that_connection(api: Api) -> None:
    attacker, ana, bob = await api.sign_up(), await api.sign_up(), await api.sign_up()
    conversation = await api.direct(ana, bob)
    async with open_socket(api, ana) as ana_ws, open_socket(api, bob) as bob_ws:
        ticket = await api.ticket(attacker)
        async with websockets.connect(f"{api.ws_url}?ticket={ticket}") as raw:
            await raw.recv()  # hello
            await raw.send(b'{"action":"ping","body":"\xff\xfe"}', text=True)
            with pytest.raises(websockets.ConnectionClosed) as closed:
                while True:
                    await asyncio.wait_for(raw.recv(), 5)
            # The WebSocket protocol requires closing on invalid UTF-8 (RFC 6455 8.1).
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1007
        await _still_chatting(ana_ws, bob_ws, conversation, "after-utf8")


async def _still_chatting(ana_ws: Any, bob_ws: Any, conversation: str, cmid: str) -> None:
    ack = await ana_ws.request(
        "sendMessage", conversationId=conversation, clientMessageId=cmid, body="still here"
    )
    assert ack["type"] == "ack", ack
    live = await bob_ws.wait_for(type="message.created", cursor=ack["cursor"])
    assert live["message"]["body"] == "still here"


async def test_an_unreadable_body_is_a_documented_validation_error(api: Api) -> None:
    account = await api.sign_up()
    for content in (b"\xff\xfe\xfd", b'{"displayName": "\xff"}', b"{"):
        reply = await api.call(
            "PATCH",
            "/users/me",
            account,
            content=content,
            headers={"content-type": "application/json"},
        )
        assert reply.status_code in (400, 422), reply.text
        assert reply.json()["error"]["code"] == "validation_error"
    documented = (await api.http.get("/api/openapi.json")).json()
    assert "400" in documented["paths"]["/api/users/me"]["patch"]["responses"]
