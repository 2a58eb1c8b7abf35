"""The SNS subscriber's fan-out to API Gateway connections: a gone connection is
deleted while the others still get the event, throttling is retried with backoff,
and a 1,000-member group is delivered once to every connection."""

from __future__ import annotations

import time
from typing import Any

import boto3

from hubbub.adapters.sns_fanout import SnsPublisher
from hubbub.aws import platform
from hubbub.domain.events import Delivery, Origin
from tests.aws.conftest import Deployment


def register(stage: Deployment, connections: list[tuple[str, str]], *, hello: bool = True) -> None:
    """Rows as `$connect` (and, with `hello`, the first frame) leave them."""
    now = int(time.time())
    items: list[dict[str, Any]] = []
    for connection_id, user_id in connections:
        item: dict[str, Any] = {
            "connectionId": {"S": connection_id},
            "userId": {"S": user_id},
            "sessionId": {"S": f"s-{user_id}"},
            "connectedAt": {"N": str(now)},
            "expiresAt": {"N": str(now + 7800)},
        }
        if hello:
            item["helloAt"] = {"N": str(now)}
        items.append({"PutRequest": {"Item": item}})
    for start in range(0, len(items), 25):
        stage.dynamodb.batch_write_item(RequestItems={stage.table: items[start : start + 25]})


def publish(stage: Deployment, deliveries: list[Delivery], **options: Any) -> None:
    """What a messages handler does after a commit: the SNS publisher, awaited."""
    publisher = SnsPublisher(boto3.client("sns"), stage.topic, **options)
    platform.run(_publish(publisher, deliveries))


async def _publish(publisher: SnsPublisher, deliveries: list[Delivery]) -> None:
    await publisher.publish(deliveries)


def rows(stage: Deployment) -> set[str]:
    items = stage.dynamodb.scan(TableName=stage.table)["Items"]
    return {item["connectionId"]["S"] for item in items}


FRAME = {"type": "message.created", "conversationId": "c", "eventSeq": 7, "cursor": "c:e7"}


def test_a_gone_connection_is_deleted_and_the_others_still_get_the_event(
    deployment: Deployment,
) -> None:
    stage = deployment
    register(stage, [("a1=", "ann"), ("a2=", "ann"), ("b1=", "ben"), ("c1=", "cat")])
    stage.api.gone.add("a2=")  # API Gateway: GoneException
    stage.api.bare_gone.add("c1=")  # serverless-offline: a bare 410
    publish(stage, [Delivery(frozenset({"ann", "ben", "cat"}), FRAME)])
    (response,) = stage.pump()
    assert response["statusCode"] == 200
    assert stage.api.frames("a1=") == [FRAME]
    assert stage.api.frames("b1=") == [FRAME]
    assert rows(stage) == {"a1=", "b1="}
    assert "gone=2" in response["body"]


def test_throttling_is_retried_with_backoff(deployment: Deployment) -> None:
    stage = deployment
    register(stage, [("a1=", "ann"), ("b1=", "ben")])
    stage.api.throttle["a1="] = 3
    publish(stage, [Delivery(frozenset({"ann", "ben"}), FRAME)])
    (response,) = stage.pump()
    assert stage.api.frames("a1=") == [FRAME]  # delivered once, after three 429s
    assert stage.api.throttled == 3
    assert "throttled=3" in response["body"] and "failed=0" in response["body"]
    assert rows(stage) == {"a1=", "b1="}  # a throttled connection is not gone


def test_the_origin_connection_gets_the_ack_and_its_other_devices_the_event(
    deployment: Deployment,
) -> None:
    stage = deployment
    register(stage, [("a1=", "ann"), ("a2=", "ann")])
    publish(stage, [Delivery(frozenset({"ann"}), FRAME, Origin("a1=", "r9"))])
    stage.pump()
    assert stage.api.frames("a1=") == [
        {"type": "ack", "requestId": "r9", "conversationId": "c", "eventSeq": 7, "cursor": "c:e7"}
    ]
    assert stage.api.frames("a2=") == [FRAME]


def test_a_connection_before_its_hello_gets_nothing(deployment: Deployment) -> None:
    stage = deployment
    register(stage, [("a1=", "ann")], hello=False)
    publish(stage, [Delivery(frozenset({"ann"}), FRAME)])
    stage.pump()
    assert stage.api.frames("a1=") == []


def test_a_thousand_member_group_gets_exactly_one_copy_each(deployment: Deployment) -> None:
    stage = deployment
    members = [f"01JDXK{n:020d}" for n in range(1000)]
    register(stage, [(f"conn-{n}=", user) for n, user in enumerate(members)])
    # Small SNS messages, so the fan-out is split across several.
    publish(stage, [Delivery(frozenset(members), FRAME)], max_message_bytes=8 * 1024)
    responses = stage.pump()
    assert len(responses) > 1, responses
    assert all("failed=0" in r["body"] for r in responses), responses
    for n in range(1000):
        assert stage.api.frames(f"conn-{n}=") == [FRAME]
    assert sum(len(sent) for sent in stage.api.sent.values()) == 1000
