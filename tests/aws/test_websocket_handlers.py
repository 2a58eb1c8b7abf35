"""`$connect`, `$disconnect` and `$default` as API Gateway invokes them: refusals by
HTTP status at the handshake; the hello, built by `$connect`, sent by the fan-out
(outside the VPC) once and before anything else; replies as the route response,
never through the Management API (which the VPC functions cannot reach)."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest

from hubbub.aws import realtime
from tests.aws.conftest import Deployment


def reply(response: dict[str, Any]) -> dict[str, Any]:
    """The frame API Gateway sends back as the route response."""
    assert response["statusCode"] == 200 and response.get("body"), response
    frame: dict[str, Any] = json.loads(response["body"])
    return frame


def opened(stage: Deployment, token: str, connection_id: str) -> dict[str, Any]:
    """Connects and lets the fan-out send the hello; returns the hello."""
    assert stage.connect(stage.ticket(token), connection_id) == {"statusCode": 200}
    stage.pump()
    (hello,) = stage.api.frames(connection_id)
    assert hello["type"] == "hello"
    return hello


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


def test_a_frame_sent_before_the_hello_is_answered_after_it(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client that speaks before its hello arrived: the frame waits for the fan-out
    to send the hello, so its reply (the route response) still comes after it."""
    # Room for the fan-out container's first start on a busy machine.
    monkeypatch.setattr(realtime, "HELLO_WAIT_SECONDS", 15.0)
    stage = deployment
    user_id, token = stage.sign_up_and_in("alice")
    stage.connect(stage.ticket(token), "c1=")
    assert stage.api.frames("c1=") == []  # nothing can be sent during $connect
    pumped: list[list[dict[str, Any]]] = []

    def fan_out_later() -> None:
        time.sleep(0.3)
        pumped.append(stage.pump())

    fanout = threading.Thread(target=fan_out_later)
    fanout.start()
    first = stage.frame("c1=", {"action": "ping", "requestId": "a"})
    (hello,) = stage.api.frames("c1=")  # sent, by the fan-out, before the reply
    fanout.join()
    assert pumped, "the fan-out failed"
    assert hello["type"] == "hello" and hello["userId"] == user_id
    assert reply(first) == {"type": "pong", "requestId": "a"}
    assert reply(stage.frame("c1=", {"action": "ping", "requestId": "b"}))["requestId"] == "b"
    assert [f["type"] for f in stage.api.frames("c1=")] == ["hello"]  # replies never posted


def test_a_frame_whose_hello_never_comes_is_answered_unavailable(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the fan-out is late past the wait, the frame is not run (its ack could not
    be routed) and the client is told to send it again."""
    monkeypatch.setattr(realtime, "HELLO_WAIT_SECONDS", 0.3)
    stage = deployment
    _, token = stage.sign_up_and_in("alice")
    stage.connect(stage.ticket(token), "c1=")
    error = reply(stage.frame("c1=", {"action": "ping", "requestId": "a"}))
    assert error["type"] == "error" and error["requestId"] == "a"
    assert error["error"]["code"] == "unavailable"
    assert stage.api.sent == {}


def test_an_invalid_frame_is_answered_with_an_error_frame(deployment: Deployment) -> None:
    stage = deployment
    _, token = stage.sign_up_and_in("alice")
    opened(stage, token, "c1=")
    error = reply(stage.frame("c1=", {"action": "shout", "requestId": "x"}))
    assert error["type"] == "error" and error["requestId"] == "x"
    assert error["error"]["code"] == "validation_error"
    # Not a member: the domain's error, with its stable code.
    error = reply(
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
    )
    assert error["requestId"] == "y" and error["error"]["code"] == "not_found"
    assert len(stage.api.frames("c1=")) == 1  # the hello, and nothing posted by $default


def test_frames_on_an_unknown_or_signed_out_connection_close_it_through_the_fanout(
    deployment: Deployment,
) -> None:
    stage = deployment
    assert stage.frame("never-connected=", {"action": "ping"}) == {"statusCode": 200}
    assert stage.api.deleted == []  # $default cannot reach the Management API...
    stage.pump()
    assert stage.api.deleted == ["never-connected="]  # ...the fan-out closes it
    assert stage.api.frames("never-connected=") == []

    _, token = stage.sign_up_and_in("alice")
    opened(stage, token, "c1=")
    status, _, _ = stage.http("auth", "POST", "/api/auth/signout", {}, token=token)
    assert status == 204
    assert stage.frame("c1=", {"action": "ping", "requestId": "z"}) == {"statusCode": 200}
    stage.pump()
    assert stage.api.deleted[-1] == "c1="
    assert [f["type"] for f in stage.api.frames("c1=")] == ["hello"]


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


def test_hello_follows_the_handshake_without_any_frame(deployment: Deployment) -> None:
    """`$connect` cannot post, so it hands the hello it built to the fan-out: the
    client gets its hello first, as from the local server, without speaking first."""
    stage = deployment
    user_id, token = stage.sign_up_and_in("alice")
    stage.api.opening["c1="] = 2  # API Gateway still finishing the handshake
    assert stage.connect(stage.ticket(token), "c1=") == {"statusCode": 200}
    stage.pump()
    (hello,) = stage.api.frames("c1=")
    assert hello["type"] == "hello" and hello["userId"] == user_id
    assert hello["connectionId"] == "c1=" and hello["cursor"]
    assert hello["online"] == [] and hello["muted"] == {}
    assert reply(stage.frame("c1=", {"action": "ping", "requestId": "p"}))["type"] == "pong"
    assert [f["type"] for f in stage.api.frames("c1=")] == ["hello"]
    assert [
        r["connectionId"]["S"] for r in stage.dynamodb.scan(TableName=stage.table)["Items"]
    ] == ["c1="]


def test_a_hello_request_delivered_twice_sends_one_hello(deployment: Deployment) -> None:
    """SNS delivers at least once: a second copy of the request sends nothing."""
    stage = deployment
    _, token = stage.sign_up_and_in("alice")
    stage.connect(stage.ticket(token), "c1=")
    request = _peek(stage)
    boto3_sns(stage).publish(TopicArn=stage.topic, Message=request)
    assert len(stage.pump()) == 2
    assert [f["type"] for f in stage.api.frames("c1=")] == ["hello"]


def test_a_hello_that_could_not_be_sent_is_sent_when_lambda_retries(
    deployment: Deployment,
) -> None:
    """Throttled past every retry: the invocation fails (Lambda tries the event again)
    and gives its claim back, so the retry sends the one hello."""
    stage = deployment
    _, token = stage.sign_up_and_in("alice")
    stage.connect(stage.ticket(token), "c1=")
    request = _peek(stage)
    stage.api.throttle["c1="] = 6  # every attempt of the poster
    (failed,) = stage.pump(failures=True)
    assert "could not be sent" in failed["error"]
    boto3_sns(stage).publish(TopicArn=stage.topic, Message=request)  # Lambda's retry
    stage.pump()
    assert [f["type"] for f in stage.api.frames("c1=")] == ["hello"]


def test_a_connection_that_never_takes_its_hello_gets_no_events_and_is_left_to_disconnect(
    deployment: Deployment,
) -> None:
    """Still 410 after the handshake's patience: the fan-out (no Redis) leaves the row
    for `$disconnect`, which also takes the user offline."""
    stage = deployment
    _, token = stage.sign_up_and_in("alice")
    stage.connect(stage.ticket(token), "c1=")
    stage.api.gone.add("c1=")
    (response,) = stage.pump()
    assert response["statusCode"] == 200
    (row,) = stage.dynamodb.scan(TableName=stage.table)["Items"]
    assert "helloAt" not in row
    assert stage.disconnect("c1=") == {"statusCode": 200}
    assert stage.dynamodb.scan(TableName=stage.table)["Items"] == []


def _peek(stage: Deployment) -> str:
    """The one message waiting for the fan-out, left in the queue."""
    got = stage.sqs.receive_message(QueueUrl=stage.queue, VisibilityTimeout=0)
    (message,) = got["Messages"]
    body: str = json.loads(message["Body"])["Message"]
    return body


def boto3_sns(stage: Deployment) -> Any:
    import boto3

    return boto3.client("sns")


def test_signing_out_closes_that_sign_ins_sockets_at_once_through_the_fanout(
    deployment: Deployment,
) -> None:
    stage = deployment
    _, token = stage.sign_up_and_in("alice")
    _, other_token = stage.sign_up_and_in("alice2")
    opened(stage, token, "mine=")
    opened(stage, other_token, "theirs=")
    status, _, _ = stage.http("auth", "POST", "/api/auth/signout", {}, token=token)
    assert status == 204
    stage.pump()  # no frame was sent on the socket: the sign-out itself asked for the close
    assert stage.api.deleted == ["mine="]
