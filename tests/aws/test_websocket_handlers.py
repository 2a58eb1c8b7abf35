"""`$connect`, `$disconnect` and `$default` as API Gateway invokes them: refusals by
HTTP status at the handshake, the hello on the first frame, errors as error frames."""

from __future__ import annotations

import pytest

from tests.aws.conftest import Deployment


def test_a_bad_or_spent_ticket_is_refused_with_401(deployment: Deployment) -> None:
    stage = deployment
    _, token = stage.sign_up_and_in("alice")
    assert stage.connect("not-a-ticket", "c1=")["statusCode"] == 401
    ticket = stage.ticket(token)
    assert stage.connect(ticket, "c2=") == {"statusCode": 200}
    assert stage.connect(ticket, "c3=")["statusCode"] == 401  # single use
    # Refused handshakes leave no row behind.
    rows = stage.dynamodb.scan(TableName=stage.table)["Items"]
    assert [r["connectionId"]["S"] for r in rows] == ["c2="]


def test_a_foreign_origin_is_refused_with_403_and_no_origin_is_allowed(
    deployment: Deployment,
) -> None:
    stage = deployment
    _, token = stage.sign_up_and_in("alice")
    ticket = stage.ticket(token)
    assert stage.connect(ticket, "c1=", origin="https://evil.example")["statusCode"] == 403
    # The ticket was not spent by the refused handshake... and a non-browser client
    # (no Origin) may connect with it.
    assert stage.connect(ticket, "c2=", origin=None) == {"statusCode": 200}


def test_past_the_connection_limit_the_handshake_is_refused_with_429(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUBBUB_MAX_CONNECTIONS_PER_USER", "1")
    stage = deployment
    _, token = stage.sign_up_and_in("alice")
    assert stage.connect(stage.ticket(token), "c1=") == {"statusCode": 200}
    assert stage.connect(stage.ticket(token), "c2=")["statusCode"] == 429
    # Closing the first frees the slot.
    assert stage.disconnect("c1=") == {"statusCode": 200}
    assert stage.connect(stage.ticket(token), "c3=") == {"statusCode": 200}


def test_hello_comes_once_before_the_first_frames_answer(deployment: Deployment) -> None:
    stage = deployment
    user_id, token = stage.sign_up_and_in("alice")
    stage.connect(stage.ticket(token), "c1=")
    assert stage.api.frames("c1=") == []  # nothing can be sent during $connect
    stage.frame("c1=", {"action": "ping", "requestId": "a"})
    stage.frame("c1=", {"action": "ping", "requestId": "b"})
    frames = stage.api.frames("c1=")
    assert [f["type"] for f in frames] == ["hello", "pong", "pong"]
    assert frames[0]["userId"] == user_id and frames[0]["connectionId"] == "c1="


def test_an_invalid_frame_is_answered_with_an_error_frame(deployment: Deployment) -> None:
    stage = deployment
    _, token = stage.sign_up_and_in("alice")
    stage.connect(stage.ticket(token), "c1=")
    assert stage.frame("c1=", {"action": "shout", "requestId": "x"}) == {"statusCode": 200}
    error = stage.api.frames("c1=")[-1]
    assert error["type"] == "error" and error["requestId"] == "x"
    assert error["error"]["code"] == "validation_error"
    # Not a member: the domain's error, with its stable code.
    stage.frame(
        "c1=",
        {
            "action": "sendMessage",
            "requestId": "y",
            "conversationId": "nope",
            "clientMessageId": "m1",
            "body": "hi",
        },
    )
    error = stage.api.frames("c1=")[-1]
    assert error["requestId"] == "y" and error["error"]["code"] == "not_found"


def test_frames_on_an_unknown_or_signed_out_connection_close_it(
    deployment: Deployment,
) -> None:
    stage = deployment
    assert stage.frame("never-connected=", {"action": "ping"}) == {"statusCode": 200}
    assert stage.api.deleted == ["never-connected="]
    assert stage.api.frames("never-connected=") == []

    _, token = stage.sign_up_and_in("alice")
    stage.connect(stage.ticket(token), "c1=")
    status, _, _ = stage.http("auth", "POST", "/api/auth/signout", {}, token=token)
    assert status == 204
    stage.frame("c1=", {"action": "ping", "requestId": "z"})
    assert stage.api.deleted[-1] == "c1="
    assert stage.api.frames("c1=") == []


def test_disconnect_of_an_unknown_connection_still_answers(deployment: Deployment) -> None:
    assert deployment.disconnect("unknown=") == {"statusCode": 200}


def test_without_redis_the_handshake_is_refused_with_503(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tickets and connection slots live in Redis: while it cannot be reached, a
    handshake is "try again later", not a crash (and not a 401 that would make the
    client sign in again)."""
    monkeypatch.setenv("HUBBUB_REDIS_URL", "redis://127.0.0.1:1/0")
    assert deployment.connect("some-ticket", "c1=") == {
        "statusCode": 503,
        "body": "try again later",
    }


def test_a_connection_found_gone_while_answering_is_forgotten(deployment: Deployment) -> None:
    stage = deployment
    _, token = stage.sign_up_and_in("alice")
    stage.connect(stage.ticket(token), "c1=")
    stage.api.gone.add("c1=")  # closed before its $disconnect arrived
    assert stage.frame("c1=", {"action": "ping"}) == {"statusCode": 200}
    assert stage.dynamodb.scan(TableName=stage.table)["Items"] == []


def test_hello_follows_the_handshake_without_any_frame(deployment: Deployment) -> None:
    """`$connect` cannot post, so it asks the fan-out to: the client gets its hello
    first, as from the local server, without having to speak first."""
    stage = deployment
    user_id, token = stage.sign_up_and_in("alice")
    stage.api.opening["c1="] = 2  # API Gateway still finishing the handshake
    assert stage.connect(stage.ticket(token), "c1=") == {"statusCode": 200}
    stage.pump()
    (hello,) = stage.api.frames("c1=")
    assert hello["type"] == "hello" and hello["userId"] == user_id
    stage.frame("c1=", {"action": "ping", "requestId": "p"})
    assert [f["type"] for f in stage.api.frames("c1=")] == ["hello", "pong"]  # only one hello
    assert [
        r["connectionId"]["S"] for r in stage.dynamodb.scan(TableName=stage.table)["Items"]
    ] == ["c1="]
