"""Profiles and search."""

from __future__ import annotations

from tests.support import Api


async def test_me_and_profile_updates(api: Api) -> None:
    account = await api.sign_up()
    me = (await api.call("GET", "/users/me", account)).json()["user"]
    assert set(me) == {"id", "username", "displayName", "createdAt", "avatarUrl", "email"}
    updated = await api.call("PATCH", "/users/me", account, json={"displayName": "New Name"})
    assert updated.json()["user"]["displayName"] == "New Name"
    blank = await api.call("PATCH", "/users/me", account, json={"displayName": "   "})
    assert blank.status_code == 422
    public = (await api.call("GET", f"/users/{account.id}", account)).json()["user"]
    assert public["displayName"] == "New Name" and "email" not in public
    missing = await api.call("GET", "/users/doesnotexist", account)
    assert missing.status_code == 404


async def test_search_is_a_case_insensitive_prefix_match_without_the_caller(api: Api) -> None:
    tag = api.base_url[-5:]
    me = await api.sign_up(f"zed{tag}me", display="Searcher")
    zelda = await api.sign_up(f"zed{tag}zelda", display="Zelda")
    other = await api.sign_up(f"q{tag}other", display=f"ZED{tag} Lookalike")
    await api.sign_up(f"q{tag}nomatch", display="Nobody")
    reply = await api.call("GET", "/users/search", me, params={"q": f"Zed{tag}"})
    found = {u["id"] for u in reply.json()["users"]}
    assert found == {zelda.id, other.id}
    limited = await api.call("GET", "/users/search", me, params={"q": f"zed{tag}", "limit": 1})
    assert len(limited.json()["users"]) == 1
    empty = await api.call("GET", "/users/search", me, params={"q": ""})
    assert empty.status_code == 422
