"""Muting a conversation: the member's own setting, kept on the server so it follows them
to every device, and never shown to the other members."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from tests.support import Api, open_socket


def mute_path(conversation_id: str) -> str:
    return f"/conversations/{conversation_id}/mute"


async def test_a_mute_is_set_changed_and_cleared_for_the_caller_alone(api: Api) -> None:
    ana, bob = await api.sign_up(), await api.sign_up()
    cid = await api.direct(ana, bob)
    until = datetime.now(UTC) + timedelta(hours=8)

    timed = await api.call("PUT", mute_path(cid), ana, json={"until": until.isoformat()})
    assert timed.status_code == 200, timed.text
    assert timed.json()["muted"] is True
    assert datetime.fromisoformat(timed.json()["mutedUntil"]) == until.replace(
        microsecond=until.microsecond // 1000 * 1000
    )
    mine = (await api.call("GET", f"/conversations/{cid}", ana)).json()["conversation"]
    assert (mine["muted"], mine["mutedUntil"]) == (True, timed.json()["mutedUntil"])
    listed = (await api.call("GET", "/conversations", ana)).json()["conversations"]
    assert [(c["id"], c["muted"]) for c in listed] == [(cid, True)]

    # Bob sees his own (unmuted) view: nothing of Ana's mute.
    theirs = (await api.call("GET", f"/conversations/{cid}", bob)).json()["conversation"]
    assert (theirs["muted"], theirs["mutedUntil"]) == (False, None)
    assert not any(
        c["muted"] for c in (await api.call("GET", "/conversations", bob)).json()["conversations"]
    )

    forever = await api.call("PUT", mute_path(cid), ana, json={"until": None})
    assert forever.json() == {"muted": True, "mutedUntil": None}
    also_forever = await api.call("PUT", mute_path(cid), ana, json={})
    assert also_forever.json() == {"muted": True, "mutedUntil": None}

    cleared = await api.call("DELETE", mute_path(cid), ana)
    assert cleared.status_code == 200 and cleared.json() == {"muted": False, "mutedUntil": None}
    view = (await api.call("GET", f"/conversations/{cid}", ana)).json()["conversation"]
    assert view["muted"] is False
    again = await api.call("DELETE", mute_path(cid), ana)
    assert again.json() == {"muted": False, "mutedUntil": None}


async def test_bad_mute_times_are_refused_and_change_nothing(api: Api) -> None:
    ana, bob = await api.sign_up(), await api.sign_up()
    cid = await api.direct(ana, bob)
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    for body in (
        {"until": past},
        {"until": "2031-01-01T10:00:00"},  # no offset: whose ten o'clock?
        {"until": "tomorrow"},
        {"until": 12},
    ):
        refused = await api.call("PUT", mute_path(cid), ana, json=body)
        assert refused.status_code == 422, (body, refused.text)
        assert refused.json()["error"]["code"] == "validation_error"
    view = (await api.call("GET", f"/conversations/{cid}", ana)).json()["conversation"]
    assert view["muted"] is False


async def test_a_mute_ends_by_itself_when_its_time_comes(api: Api) -> None:
    ana, bob = await api.sign_up(), await api.sign_up()
    cid = await api.direct(ana, bob)
    until = datetime.now(UTC) + timedelta(seconds=2)
    muted = await api.call("PUT", mute_path(cid), ana, json={"until": until.isoformat()})
    assert muted.status_code == 200, muted.text

    async def lapsed() -> bool:
        view = (await api.call("GET", f"/conversations/{cid}", ana)).json()["conversation"]
        return view["muted"] is False and view["mutedUntil"] is None

    while not await lapsed():
        assert datetime.now(UTC) < until + timedelta(seconds=60), "the mute never lapsed"
        await asyncio.sleep(0.2)
    assert datetime.now(UTC) >= until - timedelta(seconds=1)  # not before its time (skew)
    async with open_socket(api, ana) as socket:
        assert socket.of_type("hello")[0]["muted"] == {}


async def test_the_callers_other_devices_hear_of_it_live_and_others_do_not(api: Api) -> None:
    ana, bob = await api.sign_up(), await api.sign_up()
    cid = await api.direct(ana, bob)
    other = await api.direct(ana, await api.sign_up())
    async with open_socket(api, ana) as phone, open_socket(api, bob) as bob_socket:
        assert phone.of_type("hello")[0]["muted"] == {}
        await api.call("PUT", mute_path(cid), ana, json={"until": None})
        told = await phone.wait_for(type="conversation.muted")
        assert told == {
            "type": "conversation.muted",
            "conversationId": cid,
            "muted": True,
            "mutedUntil": None,
        }
        until = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        await api.call("PUT", mute_path(other), ana, json={"until": until})
        timed = await phone.wait_for(type="conversation.muted", conversationId=other)
        assert timed["muted"] is True and timed["mutedUntil"] is not None

        # A device connecting later finds the mutes in its hello.
        async with open_socket(api, ana) as laptop:
            hello = laptop.of_type("hello")[0]
            assert hello["muted"] == {cid: None, other: timed["mutedUntil"]}
            await api.call("DELETE", mute_path(cid), ana)
            cleared = await laptop.wait_for(type="conversation.muted", muted=False)
            assert cleared["conversationId"] == cid and cleared["mutedUntil"] is None

        # Bob heard nothing of it: a message sent after the mutes reaches him after
        # anything they could have told him.
        await api.send(ana, cid, "after the mutes", "after-mutes")
        await bob_socket.wait_for(type="message.created")
        await bob_socket.settle()
        assert bob_socket.of_type("conversation.muted") == []
        assert bob_socket.of_type("hello")[0]["muted"] == {}

    # Nor does a catch-up replay it to anyone: it is not in the conversation's log.
    log = await api.log_all(bob, cid)
    assert all(entry["type"] != "conversation.muted" for entry in log)


async def test_outsiders_and_removed_members_get_404(api: Api) -> None:
    owner, ana, eve = [await api.sign_up() for _ in range(3)]
    group = await api.group(owner, "Team", ana)
    for method in ("PUT", "DELETE"):
        json = {"until": None} if method == "PUT" else None
        outsider = await api.call(method, mute_path(group), eve, json=json)
        assert outsider.status_code == 404 and outsider.json()["error"]["code"] == "not_found"
        unknown = await api.call(method, mute_path("nope"), ana, json=json)
        assert unknown.status_code == 404
    muted = await api.call("PUT", mute_path(group), ana, json={"until": None})
    assert muted.status_code == 200
    removed = await api.call("DELETE", f"/conversations/{group}/members/{ana.id}", owner)
    assert removed.status_code == 204
    for method in ("PUT", "DELETE"):
        json = {"until": None} if method == "PUT" else None
        gone = await api.call(method, mute_path(group), ana, json=json)
        assert gone.status_code == 404

    # Added again, Ana starts unmuted: the mute went with her membership.
    await api.call("POST", f"/conversations/{group}/members", owner, json={"userId": ana.id})
    view = (await api.call("GET", f"/conversations/{group}", ana)).json()["conversation"]
    assert view["muted"] is False
