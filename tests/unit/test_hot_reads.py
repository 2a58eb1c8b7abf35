"""Which history requests the fast path answers itself, and which it leaves to FastAPI
(whose validation then answers field by field)."""

from __future__ import annotations

from hubbub.server.hot_reads import _conversation_id, _query


def test_plain_queries_are_taken() -> None:
    assert _query(b"") == {}
    assert _query(b"limit=50") == {"limit": 50}
    assert _query(b"before=7&limit=200") == {"before": 7, "limit": 200}
    assert _query(b"after=0") == {"after": 0}


def test_anything_fastapi_should_judge_is_left_to_it() -> None:
    for raw in (
        b"limit=0",
        b"limit=201",
        b"before=0",
        b"before=x",
        b"limit=",
        b"limit",
        b"limit=5&limit=6",
        b"limit=%35",
        b"limit=-1",
        b"other=1",
        b"before=9007199254740992",
        b"limit=5&",
    ):
        assert _query(raw) is None, raw


def test_only_the_history_path_is_taken() -> None:
    assert _conversation_id("/api/conversations/c1/messages") == "c1"
    for path in (
        "/api/conversations//messages",
        "/api/conversations/c1/messages/m1",
        "/api/conversations/a/b/messages",
        "/api/conversations/c1/messages/",
    ):
        assert _conversation_id(path) is None, path
