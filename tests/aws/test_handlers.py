"""The handlers end to end, with real API Gateway payloads: two users sign up over
the HTTP API, connect over the WebSocket API and chat, the fan-out (in a container of
its own, without Redis) reaching them through SNS and `$default` answering through
the route response."""

from __future__ import annotations

import json

from tests.aws.conftest import Deployment


def connected(stage: Deployment, username: str, connection_id: str) -> str:
    """A user with one open connection that has had its hello; returns the user id."""
    user_id, token = stage.sign_up_and_in(username)
    assert stage.connect(stage.ticket(token), connection_id) == {"statusCode": 200}
    stage.pump()  # the hello, built by $connect, sent by the fan-out
    (hello,) = stage.api.frames(connection_id)
    assert hello["type"] == "hello" and hello["userId"] == user_id
    assert hello["connectionId"] == connection_id and hello["cursor"]
    answer = stage.frame(connection_id, {"action": "ping", "requestId": "p"})
    assert answer["statusCode"] == 200
    assert json.loads(answer["body"]) == {"type": "pong", "requestId": "p"}
    return user_id


def test_two_users_chat_through_the_handlers(deployment: Deployment) -> None:
    stage = deployment
    alice = connected(stage, "alice", "alice-conn=")
    bob = connected(stage, "bob", "bob-conn=")
    # Alice opens a direct conversation over REST (the conversations service)...
    status, _, body = stage.http(
        "conversations",
        "POST",
        "/api/conversations/direct",
        {"userId": bob},
        token=stage.sign_in("alice")[1],
    )
    assert status == 201, body
    conversation_id = body["conversation"]["id"]
    stage.pump()
    assert "conversation.created" in [f["type"] for f in stage.api.frames("bob-conn=")]

    # Typing has no reply (no route response body); Bob hears it through the fan-out.
    typing = {"action": "typing", "conversationId": conversation_id, "isTyping": True}
    assert stage.frame("alice-conn=", typing) == {"statusCode": 200}
    stage.pump()
    assert stage.api.frames("bob-conn=")[-1]["type"] == "typing"

    # ...and sends over the WebSocket: Bob gets the event, Alice the ack in its place.
    send = {
        "action": "sendMessage",
        "requestId": "s1",
        "conversationId": conversation_id,
        "clientMessageId": "c1",
        "body": "hello bob",
    }
    assert stage.frame("alice-conn=", send) == {"statusCode": 200}
    stage.pump()
    (event,) = [f for f in stage.api.frames("bob-conn=") if f["type"] == "message.created"]
    assert event["message"]["body"] == "hello bob" and event["message"]["senderId"] == alice
    ack = stage.api.frames("alice-conn=")[-1]
    assert ack["type"] == "ack" and ack["requestId"] == "s1"
    assert ack["cursor"] == event["cursor"] and ack["eventSeq"] == event["eventSeq"]

    # The history is there for the messages service.
    status, _, body = stage.http(
        "messages",
        "GET",
        f"/api/conversations/{conversation_id}/messages",
        token=stage.sign_in("bob")[1],
    )
    assert status == 200, body
    assert [m["body"] for m in body["messages"]] == ["hello bob"]

    # Bob leaves: his row is gone, and the next event reaches Alice only.
    assert stage.disconnect("bob-conn=") == {"statusCode": 200}
    assert (
        stage.dynamodb.get_item(
            TableName=stage.table, Key={"connectionId": {"S": "bob-conn="}}
        ).get("Item")
        is None
    )
    before = len(stage.api.frames("bob-conn="))
    stage.frame("alice-conn=", {**send, "requestId": "s2", "clientMessageId": "c2"})
    stage.pump()
    assert len(stage.api.frames("bob-conn=")) == before
    assert stage.api.frames("alice-conn=")[-1]["requestId"] == "s2"
