"""U+0000 (NUL) in text, which PostgreSQL's text cannot hold: every store answers the
same. Text that would be stored (a message body, a group title, an email) is refused as
invalid; a lookup by a value holding it (an id in a path, a search, a sign-in, a refresh
token) finds nothing, as no stored value holds it. Never a 500."""

from __future__ import annotations

from tests.proxy import ProxiedDeployment
from tests.support import Api, ServerProcess


async def test_text_holding_nul_is_refused_not_stored(api: Api) -> None:
    ana, bob = await api.sign_up(), await api.sign_up()
    direct = await api.direct(ana, bob)
    sent = await api.call(
        "POST",
        f"/conversations/{direct}/messages",
        ana,
        json={"body": "before\x00after", "clientMessageId": "nul-1"},
    )
    assert sent.status_code == 422, sent.text
    assert "U+0000" in sent.json()["error"]["message"]
    group = await api.call(
        "POST", "/conversations", ana, json={"title": "nul\x00title", "memberIds": [bob.id]}
    )
    assert group.status_code == 422, group.text
    signup = await api.http.post(
        "/api/auth/signup",
        json={
            "username": "nulmail",
            "email": "nul\x00mail@example.test",
            "password": "long enough password",
            "displayName": "Nul",
        },
    )
    assert signup.status_code == 422, signup.text
    history = await api.history_all(ana, direct)
    assert history == []


async def test_lookups_by_text_holding_nul_find_nothing(
    api: Api, server: ServerProcess | ProxiedDeployment | None
) -> None:
    ana = await api.sign_up()
    # nginx refuses a path holding %00 itself, before any server sees it: a 400 in the
    # API's error shape (scripts/nginx.py), and still nothing found. A deployment named
    # by HUBBUB_TEST_BASE_URL may have such a proxy in front, or none.
    proxy_refuses = (400, "validation_error")
    found_nothing = (404, "not_found")
    if server is None:
        in_path = {proxy_refuses, found_nothing}
    else:
        in_path = {proxy_refuses if isinstance(server, ProxiedDeployment) else found_nothing}
    for path in ("/conversations/a%00b", "/users/a%00b"):
        reply = await api.call("GET", path, ana)
        assert (reply.status_code, reply.json()["error"]["code"]) in in_path, reply.text
    search = await api.call("GET", "/users/search?q=a%00", ana)
    assert search.status_code == 200 and search.json()["users"] == [], search.text
    sign_in = await api.call(
        "POST", "/auth/signin", json={"username": "a\x00b", "password": "long enough pw"}
    )
    assert sign_in.status_code == 401, sign_in.text
    refresh = await api.call("POST", "/auth/refresh", json={"refreshToken": "a\x00b"})
    assert refresh.status_code == 401, refresh.text
