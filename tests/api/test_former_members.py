"""What the web app needs to name the authors of messages who left or were removed.

The history keeps their `senderId`; the conversation's `members` no longer list them, so
the client reads their public profile (GET /api/users/{id}) to keep showing who wrote
what (issue 13, defect 3). This pins that contract.
"""

from __future__ import annotations

from tests.support import Api


async def test_authors_who_left_or_were_removed_can_still_be_named(api: Api) -> None:
    owner, leaver, removed = [await api.sign_up(display=d) for d in ("Ana", "Bob", "Cy")]
    group = await api.group(owner, "Leavers", leaver, removed)
    await api.send(leaver, group, "bye from Bob", "bob-1")
    await api.send(removed, group, "hi from Cy", "cy-1")
    base = f"/conversations/{group}"
    assert (await api.call("DELETE", f"{base}/members/{leaver.id}", leaver)).status_code == 204
    assert (await api.call("DELETE", f"{base}/members/{removed.id}", owner)).status_code == 204

    members = (await api.call("GET", base, owner)).json()["conversation"]["members"]
    assert [m["id"] for m in members] == [owner.id]
    history = (await api.call("GET", f"{base}/messages", owner)).json()["messages"]
    senders = {m["body"]: m["senderId"] for m in history}
    assert senders == {"bye from Bob": leaver.id, "hi from Cy": removed.id}

    for body, account, name in (("bye from Bob", leaver, "Bob"), ("hi from Cy", removed, "Cy")):
        reply = await api.call("GET", f"/users/{senders[body]}", owner)
        assert reply.status_code == 200
        profile = reply.json()["user"]
        assert profile["id"] == account.id and profile["displayName"] == name
        assert profile["username"] == account.username
        assert "email" not in profile
