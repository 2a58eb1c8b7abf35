"""Profiles as contacts see them: a rename reaches every contact live (`user.updated`),
and "last seen" is shown to contacts only (issue 13)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tests.support import Account, Api, open_socket


async def public_view(api: Api, viewer: Account, user: Account) -> dict[str, Any]:
    reply = await api.call("GET", f"/users/{user.id}", viewer)
    assert reply.status_code == 200, reply.text
    view: dict[str, Any] = reply.json()["user"]
    return view


async def member_view(api: Api, viewer: Account, conversation_id: str, user: Account) -> Any:
    reply = await api.call("GET", f"/conversations/{conversation_id}", viewer)
    assert reply.status_code == 200, reply.text
    members = reply.json()["conversation"]["members"]
    return next(m for m in members if m["id"] == user.id)


async def test_a_rename_reaches_every_contact_live_and_no_stranger(api: Api) -> None:
    ana, bob, carol = await api.sign_up(), await api.sign_up(), await api.sign_up()
    group = await api.group(bob, "Book club", ana)
    async with (
        open_socket(api, bob) as bob_socket,
        open_socket(api, ana) as ana_other_device,
        open_socket(api, carol) as carol_socket,
    ):
        reply = await api.call("PATCH", "/users/me", ana, json={"displayName": "Ana Renamed"})
        assert reply.status_code == 200, reply.text
        seen = await bob_socket.wait_for(type="user.updated")
        assert seen["user"]["id"] == ana.id
        assert seen["user"]["displayName"] == "Ana Renamed"
        assert seen["user"]["username"] == ana.username
        assert "email" not in seen["user"]
        mine = await ana_other_device.wait_for(type="user.updated")
        assert mine["user"]["displayName"] == "Ana Renamed"
        await carol_socket.settle()
        assert not carol_socket.of_type("user.updated")
    # Whoever was offline sees the new name in what they load next.
    assert (await member_view(api, bob, group, ana))["displayName"] == "Ana Renamed"
    # A rename to a blank name is refused with the usual structured error and tells no one.
    async with open_socket(api, bob) as bob_socket:
        blank = await api.call("PATCH", "/users/me", ana, json={"displayName": "  "})
        assert blank.status_code == 422
        assert blank.json()["error"]["code"] == "validation_error"
        await bob_socket.settle()
        assert not bob_socket.of_type("user.updated")


async def test_last_seen_is_told_to_contacts_when_the_last_socket_closes(api: Api) -> None:
    ana, bob, carol = await api.sign_up(), await api.sign_up(), await api.sign_up()
    direct = await api.direct(ana, bob)
    # Never connected: a contact sees that there is no last seen yet; a stranger sees nothing.
    assert (await public_view(api, bob, ana))["lastSeenAt"] is None
    assert "lastSeenAt" not in await public_view(api, carol, ana)
    async with open_socket(api, bob) as bob_socket:
        async with open_socket(api, ana), open_socket(api, ana):
            await bob_socket.wait_for(type="presence", userId=ana.id, online=True)
        offline = await bob_socket.wait_for(type="presence", userId=ana.id, online=False)
    last_seen = offline["lastSeenAt"]
    assert isinstance(last_seen, str)
    datetime.fromisoformat(last_seen)
    # Only one offline for two sockets: the last one to close.
    assert len([f for f in bob_socket.of_type("presence") if f["online"] is False]) == 1
    assert (await public_view(api, bob, ana))["lastSeenAt"] == last_seen
    assert (await member_view(api, bob, direct, ana))["lastSeenAt"] == last_seen
    listed = (await api.call("GET", "/conversations", bob)).json()["conversations"]
    ana_listed = next(m for c in listed for m in c["members"] if m["id"] == ana.id)
    assert ana_listed["lastSeenAt"] == last_seen
    # A stranger learns nothing: not from the profile, nor from search.
    assert "lastSeenAt" not in await public_view(api, carol, ana)
    found = await api.call("GET", "/users/search", carol, params={"q": ana.username})
    assert found.json()["users"] and all("lastSeenAt" not in u for u in found.json()["users"])


async def test_signing_off_sets_last_seen_for_contacts_only(api: Api) -> None:
    ana, bob, carol = await api.sign_up(), await api.sign_up(), await api.sign_up()
    await api.direct(ana, bob)
    async with open_socket(api, bob) as bob_socket, open_socket(api, carol) as carol_socket:
        async with open_socket(api, ana):
            await bob_socket.wait_for(type="presence", userId=ana.id, online=True)
            signed_out = await api.call(
                "POST", "/auth/signout", ana, json={"refreshToken": ana.refresh_token}
            )
            assert signed_out.status_code == 204
            offline = await bob_socket.wait_for(type="presence", userId=ana.id, online=False)
        await carol_socket.settle()
        assert not carol_socket.of_type("presence")
    assert offline["lastSeenAt"]
    assert (await public_view(api, bob, ana))["lastSeenAt"] == offline["lastSeenAt"]
    assert "lastSeenAt" not in await public_view(api, carol, ana)


async def test_a_removed_member_hears_no_rename_and_sees_no_last_seen(api: Api) -> None:
    ana, bob, cy = await api.sign_up(), await api.sign_up(), await api.sign_up()
    group = await api.group(ana, "Club", bob, cy)
    assert (await public_view(api, cy, ana))["lastSeenAt"] is None  # a contact, for now
    removed = await api.call("DELETE", f"/conversations/{group}/members/{cy.id}", ana)
    assert removed.status_code == 204, removed.text
    async with open_socket(api, cy) as cy_socket, open_socket(api, bob) as bob_socket:
        async with open_socket(api, ana):
            await bob_socket.wait_for(type="presence", userId=ana.id, online=True)
            reply = await api.call("PATCH", "/users/me", ana, json={"displayName": "Ana Again"})
            assert reply.status_code == 200
            await bob_socket.wait_for(type="user.updated")
        await bob_socket.wait_for(type="presence", userId=ana.id, online=False)
        await cy_socket.settle()
        assert not cy_socket.of_type("user.updated") and not cy_socket.of_type("presence")
    assert "lastSeenAt" not in await public_view(api, cy, ana)
