"""Direct chats, groups, membership changes and read markers."""

from __future__ import annotations

from tests.support import Api, open_socket


async def test_the_same_pair_always_gets_the_same_direct_conversation(api: Api) -> None:
    ana, bob = await api.sign_up(), await api.sign_up()
    created = await api.call("POST", "/conversations/direct", ana, json={"userId": bob.id})
    again = await api.call("POST", "/conversations/direct", ana, json={"userId": bob.id})
    reverse = await api.call("POST", "/conversations/direct", bob, json={"userId": ana.id})
    assert (created.status_code, again.status_code, reverse.status_code) == (201, 200, 200)
    ids = {r.json()["conversation"]["id"] for r in (created, again, reverse)}
    assert len(ids) == 1
    conversation = created.json()["conversation"]
    assert conversation["kind"] == "direct"
    assert {m["id"] for m in conversation["members"]} == {ana.id, bob.id}
    self_chat = await api.call("POST", "/conversations/direct", ana, json={"userId": ana.id})
    assert self_chat.status_code == 422
    unknown = await api.call("POST", "/conversations/direct", ana, json={"userId": "ghost"})
    assert unknown.status_code == 404


async def test_conversations_are_listed_most_recently_active_first_with_pages(api: Api) -> None:
    me = await api.sign_up()
    others = [await api.sign_up() for _ in range(3)]
    ids = [await api.direct(me, other) for other in others]
    await api.send(me, ids[0], "bump the first", "bump-1")
    first = await api.call("GET", "/conversations", me, params={"limit": 2})
    page = first.json()
    assert [c["id"] for c in page["conversations"]] == [ids[0], ids[2]]
    assert page["conversations"][0]["lastMessage"]["body"] == "bump the first"
    second = await api.call(
        "GET", "/conversations", me, params={"limit": 2, "cursor": page["nextCursor"]}
    )
    assert [c["id"] for c in second.json()["conversations"]] == [ids[1]]
    assert second.json()["nextCursor"] is None
    bad = await api.call("GET", "/conversations", me, params={"cursor": "!!!"})
    assert bad.status_code == 422


async def test_group_lifecycle_with_owner_rules(api: Api) -> None:
    owner, ana, bob, carl = [await api.sign_up() for _ in range(4)]
    group = await api.group(owner, "Team", ana, bob)
    base = f"/conversations/{group}"
    view = (await api.call("GET", base, ana)).json()["conversation"]
    assert view["kind"] == "group" and view["title"] == "Team" and view["ownerId"] == owner.id
    assert [m["id"] for m in view["members"]] == [owner.id, ana.id, bob.id]

    renamed = await api.call("PATCH", base, owner, json={"title": "Dream Team"})
    assert renamed.json()["conversation"]["title"] == "Dream Team"

    async with open_socket(api, bob) as bob_socket, open_socket(api, carl) as carl_socket:
        refused = await api.call("POST", f"{base}/members", ana, json={"userId": carl.id})
        assert refused.status_code == 403
        added = await api.call("POST", f"{base}/members", owner, json={"userId": carl.id})
        assert added.status_code == 200
        joined = await carl_socket.wait_for(type="member.added")
        assert joined["userId"] == carl.id and joined["conversation"]["title"] == "Dream Team"
        await bob_socket.wait_for(type="member.added")

        kicked = await api.call("DELETE", f"{base}/members/{bob.id}", ana)
        assert kicked.status_code == 403
        removed = await api.call("DELETE", f"{base}/members/{bob.id}", owner)
        assert removed.status_code == 204
        gone = await bob_socket.wait_for(type="member.removed")
        assert gone["userId"] == bob.id
        # Removal takes effect at once: bob hears nothing more from the group.
        await api.send(ana, group, "after bob left", "after-1")
        await carl_socket.wait_for(type="message.created")
        await bob_socket.settle()
        assert not bob_socket.of_type("message.created")
        assert (await api.call("GET", f"{base}/messages", bob)).status_code == 404

    members = (await api.call("GET", f"{base}/members", ana)).json()["members"]
    assert {m["id"] for m in members} == {owner.id, ana.id, carl.id}

    leave = await api.call("DELETE", f"{base}/members/{ana.id}", ana)
    assert leave.status_code == 204
    assert (await api.call("GET", base, ana)).status_code == 404

    not_owner = await api.call("DELETE", base, carl)
    assert not_owner.status_code == 403
    carls_cursor = await api.sync_cursor(carl)
    deleted = await api.call("DELETE", base, owner)
    assert deleted.status_code == 204
    assert (await api.call("GET", base, owner)).status_code == 404
    events, _ = await api.sync_all(carl, carls_cursor)
    assert events == [
        {"type": "conversation.deleted", "conversationId": group, "cursor": events[-1]["cursor"]}
    ]


async def test_when_the_owner_leaves_the_longest_standing_member_takes_over(api: Api) -> None:
    owner, ana, bob = await api.sign_up(), await api.sign_up(), await api.sign_up()
    group = await api.group(owner, "Handover", ana, bob)
    await api.call("DELETE", f"/conversations/{group}/members/{owner.id}", owner)
    view = (await api.call("GET", f"/conversations/{group}", bob)).json()["conversation"]
    assert view["ownerId"] == ana.id


async def test_direct_conversations_have_fixed_members(api: Api) -> None:
    ana, bob, carl = await api.sign_up(), await api.sign_up(), await api.sign_up()
    direct = await api.direct(ana, bob)
    add = await api.call("POST", f"/conversations/{direct}/members", ana, json={"userId": carl.id})
    rename = await api.call("PATCH", f"/conversations/{direct}", ana, json={"title": "x"})
    assert add.status_code == rename.status_code == 403


async def test_read_markers_count_unread_and_only_move_forward(api: Api) -> None:
    ana, bob = await api.sign_up(), await api.sign_up()
    conversation = await api.direct(ana, bob)
    for i in range(3):
        await api.send(ana, conversation, f"m{i}", f"u-{i}")
    view = (await api.call("GET", f"/conversations/{conversation}", bob)).json()["conversation"]
    assert (view["unreadCount"], view["readSeq"], view["lastSeq"]) == (3, 0, 3)
    sender_view = (await api.call("GET", f"/conversations/{conversation}", ana)).json()
    assert sender_view["conversation"]["unreadCount"] == 0

    async with open_socket(api, ana) as ana_socket:
        read = await api.call("POST", f"/conversations/{conversation}/read", bob, json={"seq": 2})
        assert read.json() == {"readSeq": 2}
        receipt = await ana_socket.wait_for(type="read")
        assert (receipt["userId"], receipt["seq"]) == (bob.id, 2)
    back = await api.call("POST", f"/conversations/{conversation}/read", bob, json={"seq": 1})
    assert back.json() == {"readSeq": 2}
    beyond = await api.call("POST", f"/conversations/{conversation}/read", bob, json={"seq": 99})
    assert beyond.json() == {"readSeq": 3}
    view = (await api.call("GET", f"/conversations/{conversation}", bob)).json()["conversation"]
    assert (view["unreadCount"], view["memberReadSeqs"][bob.id]) == (0, 3)
    negative = await api.call("POST", f"/conversations/{conversation}/read", bob, json={"seq": -1})
    assert negative.status_code == 422


async def test_groups_joined_after_a_cursor_and_lost_since_are_reported(api: Api) -> None:
    """A client learns live of a group it joined after its resume cursor; if it is
    removed (or the group deleted) while offline, the catch-up must say so: the
    cursor's snapshot never had that group to compare with."""
    ana, bob = await api.sign_up(), await api.sign_up()
    cursor = await api.sync_cursor(ana)
    removed_from = await api.group(bob, "removed from", ana)
    deleted = await api.group(bob, "deleted", ana)
    kept = await api.group(bob, "kept", ana)
    assert (
        await api.call("DELETE", f"/conversations/{removed_from}/members/{ana.id}", bob)
    ).status_code == 204
    assert (await api.call("DELETE", f"/conversations/{deleted}", bob)).status_code == 204
    events, _ = await api.sync_all(ana, cursor)
    assert [(e["type"], e["conversationId"]) for e in events] == [
        ("member.removed", removed_from),
        ("conversation.deleted", deleted),
        ("conversation.created", kept),
    ]
    assert events[0]["userId"] == ana.id


async def test_only_the_owner_renames_a_group(api: Api) -> None:
    """A member's rename is refused with 403 `forbidden` and changes nothing."""
    ana, bob = await api.sign_up(), await api.sign_up()
    base = f"/conversations/{await api.group(ana, 'Club', bob)}"
    refused = await api.call("PATCH", base, bob, json={"title": "Mine"})
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "forbidden"
    assert "owner" in refused.json()["error"]["message"]
    assert (await api.call("GET", base, bob)).json()["conversation"]["title"] == "Club"
    assert (await api.call("PATCH", base, ana, json={"title": "Ours"})).status_code == 200


async def test_member_events_say_who_made_the_change(api: Api) -> None:
    """`actorId` on member.added / member.removed, live and replayed from /events: the
    timeline tells "Ana removed Carl" from "Carl left"."""
    ana, bob, carl = [await api.sign_up() for _ in range(3)]
    group = await api.group(ana, "Club", bob)
    base = f"/conversations/{group}"
    async with open_socket(api, bob) as bob_socket:
        await api.call("POST", f"{base}/members", ana, json={"userId": carl.id})
        added = await bob_socket.wait_for(type="member.added")
        await api.call("DELETE", f"{base}/members/{carl.id}", ana)
        removed = await bob_socket.wait_for(type="member.removed")
    assert (added["userId"], added["actorId"]) == (carl.id, ana.id)
    assert (removed["userId"], removed["actorId"]) == (carl.id, ana.id)
    await api.call("DELETE", f"{base}/members/{bob.id}", bob)
    log = (await api.call("GET", f"{base}/events", ana, params={"after": 0})).json()["events"]
    members = [
        (e["type"], e["userId"], e["actorId"]) for e in log if e["type"].startswith("member.")
    ]
    assert members == [
        ("member.added", carl.id, ana.id),
        ("member.removed", carl.id, ana.id),
        ("member.removed", bob.id, bob.id),
    ]
