"""The Sans-I/O frame protocol."""

from __future__ import annotations

import pytest

from hubbub import protocol


def test_valid_frames_become_commands() -> None:
    assert protocol.parse(
        '{"action":"sendMessage","requestId":"r1","conversationId":"c","clientMessageId":"m",'
        '"body":"hi"}'
    ) == ("r1", protocol.SendMessage("c", "m", "hi"))
    assert protocol.parse('{"action":"markRead","conversationId":"c","seq":3}') == (
        None,
        protocol.MarkRead("c", 3),
    )
    assert protocol.parse('{"action":"typing","conversationId":"c"}')[1] == protocol.Typing(
        "c", True
    )
    assert protocol.parse('{"action":"ping"}') == (None, protocol.Ping())


@pytest.mark.parametrize(
    ("frame", "code", "request_id"),
    [
        (b"{}", "validation_error", None),
        ("{", "validation_error", None),
        ("null", "validation_error", None),
        ('{"action":"ping","requestId":7}', "validation_error", None),
        ('{"action":"nope","requestId":"r"}', "validation_error", "r"),
        ('{"action":"markRead","conversationId":"c","seq":true}', "validation_error", None),
        ('{"action":"markRead","conversationId":"c","seq":-1}', "validation_error", None),
        ('{"action":"deleteMessage","conversationId":""}', "validation_error", None),
        ('{"action":"ping","pad":"' + "x" * 17000 + '"}', "payload_too_large", None),
    ],
)
def test_invalid_frames_are_rejected_with_a_code(
    frame: str | bytes, code: str, request_id: str | None
) -> None:
    with pytest.raises(protocol.FrameRejected) as rejected:
        protocol.parse(frame)
    assert rejected.value.error.code == code
    assert rejected.value.request_id == request_id


def test_an_ack_replaces_the_event_for_the_requesting_connection() -> None:
    event = {"type": "message.created", "message": {"id": "m"}, "cursor": "9"}
    assert protocol.ack_for_event(event, "r1") == {
        "type": "ack",
        "requestId": "r1",
        "message": {"id": "m"},
        "cursor": "9",
    }
    read = {"type": "read", "conversationId": "c", "userId": "u", "seq": 4, "cursor": "10"}
    assert protocol.ack_for_event(read, None)["readSeq"] == 4
