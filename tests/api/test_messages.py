"""History, edits, deletes and body limits."""

from __future__ import annotations

from tests.support import Api


async def test_history_pages_backwards_and_forwards_in_seq_order(api: Api) -> None:
    ana, bob = await api.sign_up(), await api.sign_up()
    conversation = await api.direct(ana, bob)
    for i in range(1, 8):
        await api.send(ana if i % 2 else bob, conversation, f"n{i}", f"h-{i}")
    path = f"/conversations/{conversation}/messages"

    async def seqs(**params: int) -> tuple[list[int], bool]:
        body = (await api.call("GET", path, bob, params=params)).json()
        return [m["seq"] for m in body["messages"]], body["hasMore"]

    assert await seqs(limit=3) == ([5, 6, 7], True)
    assert await seqs(limit=3, before=5) == ([2, 3, 4], True)
    assert await seqs(limit=3, before=2) == ([1], False)
    assert await seqs(after=2, limit=3) == ([3, 4, 5], True)
    assert await seqs(after=5, limit=3) == ([6, 7], False)
    assert await seqs() == ([1, 2, 3, 4, 5, 6, 7], False)
    both = await api.call("GET", path, bob, params={"before": 3, "after": 1})
    assert both.status_code == 422
    for bad in ({"limit": 0}, {"limit": 1000}, {"before": "x"}):
        assert (await api.call("GET", path, bob, params=bad)).status_code == 422


async def test_only_the_sender_edits_and_deletes(api: Api) -> None:
    ana, bob = await api.sign_up(), await api.sign_up()
    conversation = await api.direct(ana, bob)
    message = await api.send(ana, conversation, "first draft", "e-1")
    path = f"/conversations/{conversation}/messages/{message['id']}"

    assert (await api.call("PATCH", path, bob, json={"body": "hijack"})).status_code == 403
    assert (await api.call("DELETE", path, bob)).status_code == 403
    edited = (await api.call("PATCH", path, ana, json={"body": "final"})).json()["message"]
    assert edited["body"] == "final" and edited["editedAt"] is not None
    assert (edited["id"], edited["seq"]) == (message["id"], message["seq"])

    assert (await api.call("DELETE", path, ana)).status_code == 204
    assert (await api.call("DELETE", path, ana)).status_code == 204
    gone = (await api.call("GET", path, bob)).json()["message"]
    assert (gone["deleted"], gone["body"], gone["seq"]) == (True, "", message["seq"])
    assert (await api.call("PATCH", path, ana, json={"body": "revive"})).status_code == 409
    # The conversation's log: every change, each showing the message as it is now.
    log = await api.call("GET", f"/conversations/{conversation}/events", bob)
    assert log.status_code == 200
    events = log.json()["events"]
    assert [(e["type"], e["eventSeq"]) for e in events] == [
        ("conversation.created", 1),
        ("message.created", 2),
        ("message.updated", 3),
        ("message.deleted", 4),
    ]
    assert {e["message"]["body"] for e in events[1:]} == {""}
    assert log.json()["lastEventSeq"] == 4 and not log.json()["hasMore"]
    missing = f"/conversations/{conversation}/messages/nope"
    assert (await api.call("GET", missing, ana)).status_code == 404


async def test_bodies_are_trimmed_and_limited(api: Api) -> None:
    ana, bob = await api.sign_up(), await api.sign_up()
    conversation = await api.direct(ana, bob)
    path = f"/conversations/{conversation}/messages"
    cases = [("   ", 422, "validation_error"), ("x" * 4001, 413, "payload_too_large")]
    for i, (body, status, code) in enumerate(cases):
        reply = await api.call("POST", path, ana, json={"clientMessageId": f"b-{i}", "body": body})
        assert (reply.status_code, reply.json()["error"]["code"]) == (status, code)
    exact = await api.call("POST", path, ana, json={"clientMessageId": "b-ok", "body": "y" * 4000})
    assert exact.status_code == 201
    bad_id = await api.call("POST", path, ana, json={"clientMessageId": "has space", "body": "x"})
    assert bad_id.status_code == 422
    huge = await api.call(
        "POST", path, ana, content=b"x" * 200_000, headers={"content-type": "application/json"}
    )
    assert (huge.status_code, huge.json()["error"]["code"]) == (413, "payload_too_large")
    history = (await api.call("GET", path, ana)).json()["messages"]
    assert [m["clientMessageId"] for m in history] == ["b-ok"]


async def test_sync_pages_by_limit(api: Api) -> None:
    ana, bob = await api.sign_up(), await api.sign_up()
    conversation = await api.direct(ana, bob)
    start = await api.sync_cursor(ana)
    sent = [await api.send(ana, conversation, f"m{i}", f"limit-{i}") for i in range(5)]
    pages, since = [], start
    while True:
        reply = await api.call("GET", "/sync", ana, params={"since": since, "limit": 2})
        assert reply.status_code == 200, reply.text
        body = reply.json()
        pages.append(([e["message"]["id"] for e in body["events"]], body["hasMore"]))
        since = body["cursor"]
        if not body["hasMore"]:
            break
    ids = [m["id"] for m in sent]
    assert pages == [(ids[0:2], True), (ids[2:4], True), (ids[4:], False)]
    everything = await api.call("GET", "/sync", ana, params={"since": start})
    assert [e["message"]["id"] for e in everything.json()["events"]] == ids
    for limit in (0, 501, -1):
        refused = await api.call("GET", "/sync", ana, params={"since": start, "limit": limit})
        assert refused.status_code == 422, (limit, refused.text)
        assert refused.json()["error"]["code"] == "validation_error"
    for cursor in ("s2.short", "nonsense", "s2." + "1" * 26):
        refused = await api.call("GET", "/sync", ana, params={"since": cursor})
        assert refused.status_code == 422, (cursor, refused.text)
    unknown = await api.call("GET", "/sync", ana, params={"since": "s2." + "a" * 26})
    assert unknown.status_code == 410 and unknown.json()["error"]["code"] == "cursor_expired"
    # Someone else's cursor is unknown to you, not a view of their conversations.
    theirs = await api.call("GET", "/sync", bob, params={"since": start})
    assert theirs.status_code == 410


async def test_a_gap_is_filled_from_the_conversations_log_by_members_only(api: Api) -> None:
    ana, bob, eve = await api.sign_up(), await api.sign_up(), await api.sign_up()
    conversation = await api.direct(ana, bob)
    sent = [await api.send(ana, conversation, f"m{i}", f"gap-{i}") for i in range(5)]
    path = f"/conversations/{conversation}/events"
    page = await api.call("GET", path, bob, params={"after": 2, "limit": 2})
    assert page.status_code == 200, page.text
    body = page.json()
    assert [e["eventSeq"] for e in body["events"]] == [3, 4]
    assert [e["message"]["id"] for e in body["events"]] == [m["id"] for m in sent[1:3]]
    assert body["hasMore"] and body["lastEventSeq"] == 6
    rest = (await api.call("GET", path, bob, params={"after": 4})).json()
    assert [e["eventSeq"] for e in rest["events"]] == [5, 6] and not rest["hasMore"]
    outsider = await api.call("GET", path, eve, params={"after": 0})
    assert outsider.status_code == 404
    for bad in ({"after": -1}, {"after": "x"}, {"limit": 0}, {"limit": 501}):
        assert (await api.call("GET", path, bob, params=bad)).status_code == 422, bad
