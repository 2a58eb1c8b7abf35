"""The fan-out's SNS messages: under the size limit however many recipients, in
order, and read back as the same deliveries."""

from __future__ import annotations

import pytest

from hubbub.adapters.sns_fanout import (
    MAX_MESSAGE_BYTES,
    ConnectionRequest,
    connection_request,
    decode,
    encode,
    encode_request,
)
from hubbub.domain.events import Delivery, Origin

FRAME = {"type": "message.created", "conversationId": "c", "eventSeq": 1, "body": "x" * 2000}


def test_a_big_fan_out_is_split_into_messages_under_the_limit() -> None:
    members = frozenset(f"01JDXK{n:020d}" for n in range(20_000))
    messages = encode([Delivery(members, FRAME, Origin("conn=", "r1"))])
    assert len(messages) > 1
    assert all(len(m) <= MAX_MESSAGE_BYTES for m in messages)
    back = [d for m in messages for d in decode(m)]
    assert set().union(*(d.recipients for d in back)) == members
    assert sum(len(d.recipients) for d in back) == len(members)  # nobody twice
    assert {d.origin for d in back} == {Origin("conn=", "r1")}
    assert all(d.frame == FRAME for d in back)


def test_small_deliveries_share_a_message_in_order() -> None:
    deliveries = [
        Delivery(frozenset({"a", "b"}), {**FRAME, "eventSeq": n, "body": "hi"}) for n in range(5)
    ]
    (message,) = encode(deliveries)
    assert [d.frame["eventSeq"] for d in decode(message)] == [0, 1, 2, 3, 4]
    assert encode([Delivery(frozenset(), FRAME)]) == []  # nobody to tell


def test_anything_else_is_refused() -> None:
    with pytest.raises(ValueError):
        decode('{"Type": "SubscriptionConfirmation"}')


def test_hello_and_close_requests_read_back_and_are_no_deliveries() -> None:
    hello = ConnectionRequest("hello", "c1=", "u1", {"type": "hello", "cursor": "s2.x"})
    close = ConnectionRequest("close", "c2=")
    for request in (hello, close):
        message = encode_request(request)
        assert connection_request(message) == request
        with pytest.raises(ValueError):
            decode(message)
    # A "hello" that does not carry a hello frame is not one.
    assert connection_request(b'{"hello":{"connectionId":"c","userId":"u","frame":{}}}') is None
    assert connection_request(encode([_delivery()])[0]) is None


def _delivery() -> Delivery:
    return Delivery(frozenset({"a"}), FRAME)
