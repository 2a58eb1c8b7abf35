"""Replies (a quote that follows the original's edits and deletion) and reactions (a
fixed set, toggled, live for every member, replayed by sync)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from tests.support import Account, Api, open_socket


def reaction_path(conversation: str, message_id: str, emoji: str) -> str:
    return f"/conversations/{conversation}/messages/{message_id}/reactions/{quote(emoji)}"


async def reply(
    api: Api, account: Account, conversation: str, to: str, body: str, cmid: str
) -> Any:
    return await api.call(
        "POST",
        f"/conversations/{conversation}/messages",
        account,
        json={"clientMessageId": cmid, "body": body, "replyToId": to},
    )


async def test_a_reply_quotes_the_original_as_it_is_now_edited_then_deleted(api: Api) -> None:
    ana, bob = await api.sign_up(), await api.sign_up()
    conversation = await api.direct(ana, bob)
    original = await api.send(ana, conversation, "lunch at noon?", "o-1")
    sent = await reply(api, bob, conversation, original["id"], "yes!", "r-1")
    assert sent.status_code == 201, sent.text
    answer = sent.json()["message"]
    assert answer["replyTo"] == {
        "id": original["id"],
        "senderId": ana.id,
        "excerpt": "lunch at noon?",
        "deleted": False,
    }
    path = f"/conversations/{conversation}/messages"
    edit = await api.call("PATCH", f"{path}/{original['id']}", ana, json={"body": "lunch at one?"})
    assert edit.status_code == 200
    shown = (await api.call("GET", f"{path}/{answer['id']}", ana)).json()["message"]
    assert shown["replyTo"]["excerpt"] == "lunch at one?"

    assert (await api.call("DELETE", f"{path}/{original['id']}", ana)).status_code == 204
    history = await api.history_all(bob, conversation)
    assert history is not None
    quoted = next(m for m in history if m["id"] == answer["id"])["replyTo"]
    assert quoted == {"id": original["id"], "senderId": ana.id, "excerpt": "", "deleted": True}
    # Nothing of the deleted text anywhere: history, the log's replay, sync from nothing.
    log = await api.log_all(bob, conversation)
    events, _ = await api.sync_all(bob, "0")
    for seen in (history, log, events):
        assert "lunch" not in str(seen)
    replayed = next(
        e for e in log if e["type"] == "message.created" and e["message"]["id"] == answer["id"]
    )
    assert replayed["message"]["replyTo"]["deleted"] is True

    # A deleted message can no longer be replied to.
    late = await reply(api, bob, conversation, original["id"], "too late", "r-2")
    assert late.status_code == 409
    assert late.json()["error"]["details"] == {"field": "replyToId"}


async def test_replies_across_conversations_or_to_nothing_are_refused(api: Api) -> None:
    ana, bob, cy = await api.sign_up(), await api.sign_up(), await api.sign_up()
    ours = await api.direct(ana, bob)
    theirs = await api.direct(ana, cy)
    elsewhere = await api.send(ana, theirs, "for cy only", "x-1")
    for target in (elsewhere["id"], "no-such-message"):
        refused = await reply(api, bob, ours, target, "hm?", f"r-{target}")
        assert refused.status_code == 422, refused.text
        error = refused.json()["error"]
        assert (error["code"], error["details"]) == ("validation_error", {"field": "replyToId"})
        assert "for cy" not in refused.text
    history = await api.history_all(bob, ours)
    assert history == []  # nothing was sent
    # Over the WebSocket the same.
    async with open_socket(api, bob) as socket_:
        error = await socket_.request(
            "sendMessage",
            conversationId=ours,
            clientMessageId="ws-1",
            body="hm?",
            replyToId=elsewhere["id"],
        )
        assert (error["type"], error["error"]["code"]) == ("error", "validation_error")
        mine = await api.send(ana, ours, "quote me", "q-1")
        ack = await socket_.request(
            "sendMessage",
            conversationId=ours,
            clientMessageId="ws-2",
            body="ok",
            replyToId=mine["id"],
        )
        assert ack["message"]["replyTo"]["excerpt"] == "quote me"


async def test_reactions_toggle_idempotently_and_reach_the_other_member_live(api: Api) -> None:
    ana, bob = await api.sign_up(), await api.sign_up()
    conversation = await api.direct(ana, bob)
    message = await api.send(ana, conversation, "good news", "g-1")
    thumbs = reaction_path(conversation, message["id"], "👍")
    async with open_socket(api, ana) as ana_socket:
        added = await api.call("PUT", thumbs, bob)
        assert added.status_code == 200, added.text
        counts = [{"emoji": "👍", "count": 1, "userIds": [bob.id]}]
        assert added.json()["message"]["reactions"] == counts
        event = await ana_socket.wait_for(type="reaction.added")
        assert (event["messageId"], event["userId"], event["emoji"]) == (
            message["id"],
            bob.id,
            "👍",
        )
        assert event["reactions"] == counts and event["conversationId"] == conversation
        # Again: the same answer, and no second event.
        again = await api.call("PUT", thumbs, bob)
        assert again.json()["message"]["reactions"] == counts
        both = await api.call("PUT", thumbs, ana)
        assert both.json()["message"]["reactions"] == [
            {"emoji": "👍", "count": 2, "userIds": [bob.id, ana.id]}
        ]
        # ❤ without the variation selector is the same reaction as ❤️.
        heart = await api.call("PUT", reaction_path(conversation, message["id"], "❤"), bob)
        assert [r["emoji"] for r in heart.json()["message"]["reactions"]] == ["👍", "❤️"]
        removed = await api.call("DELETE", thumbs, bob)
        assert removed.json()["message"]["reactions"] == [
            {"emoji": "👍", "count": 1, "userIds": [ana.id]},
            {"emoji": "❤️", "count": 1, "userIds": [bob.id]},
        ]
        await ana_socket.wait_for(type="reaction.removed", userId=bob.id)
        assert (await api.call("DELETE", thumbs, bob)).status_code == 200  # not there: no-op
        await ana_socket.settle()
        kinds = [f["type"] for f in ana_socket.frames if f["type"].startswith("reaction.")]
        assert kinds == ["reaction.added", "reaction.added", "reaction.added", "reaction.removed"]
    history = await api.history_all(bob, conversation)
    assert history is not None and history[0]["reactions"][0]["userIds"] == [ana.id]

    # Outside the set: refused, with the field named.
    odd = await api.call("PUT", reaction_path(conversation, message["id"], "🦄"), bob)
    assert (odd.status_code, odd.json()["error"]["details"]) == (422, {"field": "emoji"})
    missing = await api.call("PUT", reaction_path(conversation, "nope", "👍"), bob)
    assert missing.status_code == 404


async def test_reactions_replay_in_sync_and_a_deleted_message_loses_and_refuses_them(
    api: Api,
) -> None:
    ana, bob = await api.sign_up(), await api.sign_up()
    conversation = await api.direct(ana, bob)
    message = await api.send(ana, conversation, "react to me", "s-1")
    cursor = await api.sync_cursor(ana)  # ana goes away here
    await api.call("PUT", reaction_path(conversation, message["id"], "😂"), bob)
    await api.call("PUT", reaction_path(conversation, message["id"], "🙏"), bob)
    await api.call("DELETE", reaction_path(conversation, message["id"], "😂"), bob)
    missed, _ = await api.sync_all(ana, cursor)
    assert [(e["type"], e["emoji"], e["userId"]) for e in missed] == [
        ("reaction.added", "😂", bob.id),
        ("reaction.added", "🙏", bob.id),
        ("reaction.removed", "😂", bob.id),
    ]
    # Each shows the reactions as they are now: applying any of them gives the truth.
    now = [{"emoji": "🙏", "count": 1, "userIds": [bob.id]}]
    assert all(e["reactions"] == now for e in missed)
    seqs = [e["eventSeq"] for e in missed]
    assert seqs == sorted(seqs) and len(set(seqs)) == 3

    path = f"/conversations/{conversation}/messages/{message['id']}"
    assert (await api.call("DELETE", path, ana)).status_code == 204
    gone = (await api.call("GET", path, bob)).json()["message"]
    assert gone["reactions"] == []
    refused = await api.call("PUT", reaction_path(conversation, message["id"], "👍"), bob)
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "conflict")
    undo = await api.call("DELETE", reaction_path(conversation, message["id"], "🙏"), bob)
    assert undo.status_code == 409


async def test_outsiders_and_removed_members_get_404_and_hear_no_reactions(api: Api) -> None:
    owner, member, outsider = await api.sign_up(), await api.sign_up(), await api.sign_up()
    group = await api.group(owner, "Reactors", member)
    message = await api.send(owner, group, "hello all", "h-1")
    thumbs = reaction_path(group, message["id"], "👍")
    assert (await api.call("PUT", thumbs, outsider)).status_code == 404
    assert (await api.call("DELETE", thumbs, outsider)).status_code == 404
    refused = await reply(api, outsider, group, message["id"], "me too", "o-1")
    assert refused.status_code == 404
    removed = await api.call("DELETE", f"/conversations/{group}/members/{member.id}", owner)
    assert removed.status_code == 204
    async with open_socket(api, member) as member_socket, open_socket(api, outsider) as seen:
        assert (await api.call("PUT", thumbs, member)).status_code == 404
        assert (await api.call("PUT", thumbs, owner)).status_code == 200
        await member_socket.settle()
        await seen.settle()
        for socket_ in (member_socket, seen):
            assert not [f for f in socket_.frames if f.get("type", "").startswith("reaction.")]
    shown = (
        await api.call("GET", f"/conversations/{group}/messages/{message['id']}", owner)
    ).json()
    assert shown["message"]["reactions"] == [{"emoji": "👍", "count": 1, "userIds": [owner.id]}]
