"""The history page is served outside FastAPI (server/hot_reads.py): the same
answers, errors, headers and metrics as every other route."""

from __future__ import annotations

from tests.support import Api


async def test_the_page_answers_like_any_route_with_its_headers(api: Api) -> None:
    ana, bob = await api.sign_up(), await api.sign_up()
    conversation = await api.direct(ana, bob)
    sent = await api.send(ana, conversation, "hello", "hr-1")
    path = f"/conversations/{conversation}/messages"
    reply = await api.call("GET", path, bob, params={"limit": 5})
    assert reply.status_code == 200
    media_type, _, parameters = reply.headers["content-type"].partition(";")
    assert media_type == "application/json"
    # serverless-offline's HTTP server (hapi) adds this one; JSON is UTF-8 either way.
    assert parameters.strip() in {"", "charset=utf-8"}
    assert len(reply.headers["x-request-id"]) == 32
    assert "content-security-policy" in reply.headers
    assert reply.json() == {"messages": [sent], "hasMore": False}
    traced = await api.call("GET", path, bob, headers={"X-Request-ID": "trace-hr.1"})
    assert traced.headers["x-request-id"] == "trace-hr.1"


async def test_its_errors_are_the_apis_errors(api: Api) -> None:
    ana, bob, eve = await api.sign_up(), await api.sign_up(), await api.sign_up()
    conversation = await api.direct(ana, bob)
    path = f"/api/conversations/{conversation}/messages"
    outsider = await api.call("GET", path.removeprefix("/api"), eve)
    assert outsider.status_code == 404 and outsider.json()["error"]["code"] == "not_found"
    bad_token = await api.http.get(path, headers={"Authorization": "Bearer nope"})
    assert bad_token.status_code == 401 and bad_token.headers["www-authenticate"] == "Bearer"
    assert bad_token.json()["error"]["code"] == "unauthorized"
    for headers in ({}, {"Authorization": "Basic abc"}):
        refused = await api.http.get(path, headers=headers)
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "unauthorized"
    both = await api.call("GET", path.removeprefix("/api"), bob, params={"before": 3, "after": 1})
    assert both.status_code == 422 and both.json()["error"]["code"] == "validation_error"
    # Queries the fast path leaves to FastAPI get its field-by-field answer.
    for query in ("limit=0", "limit=201", "before=x", "before=0", "limit=5&limit=6"):
        odd = await api.http.get(f"{path}?{query}", headers=bob.headers)
        assert odd.status_code in (200, 422), query
        if odd.status_code == 422:
            assert odd.json()["error"]["code"] == "validation_error"
            assert odd.json()["error"]["fields"], query


async def test_the_fast_answer_is_the_frameworks_answer(api: Api) -> None:
    """A query the fast path leaves alone (an extra parameter) goes through FastAPI:
    both give the same page, byte for byte."""
    ana, bob = await api.sign_up(), await api.sign_up()
    conversation = await api.direct(ana, bob)
    first = await api.send(ana, conversation, "one", "eq-1")
    reply = {"body": "two", "clientMessageId": "eq-2", "replyToId": first["id"]}
    path = f"/api/conversations/{conversation}/messages"
    assert (await api.http.post(path, json=reply, headers=ana.headers)).status_code == 201
    await api.call("PUT", f"/conversations/{conversation}/messages/{first['id']}/reactions/👍", bob)
    fast = await api.http.get(f"{path}?limit=10", headers=bob.headers)
    framework = await api.http.get(f"{path}?limit=10&unused=1", headers=bob.headers)
    assert fast.status_code == framework.status_code == 200
    assert fast.content == framework.content
    assert fast.headers["content-type"] == framework.headers["content-type"]


async def test_a_page_shows_every_change_at_once_and_only_to_members(api: Api) -> None:
    """Pages are kept per position of the conversation's log (services/page_cache.py):
    a change moves it, and membership is checked on every read."""
    ana, bob, cid = await api.sign_up(), await api.sign_up(), await api.sign_up()
    group = await api.group(ana, "pages", bob, cid)
    first = await api.send(ana, group, "before", "pc-1")
    path = f"/conversations/{group}/messages"

    async def bodies(account: object = bob) -> list[str]:
        reply = await api.call("GET", path, account)  # type: ignore[arg-type]
        assert reply.status_code == 200, reply.text
        return [m["body"] for m in reply.json()["messages"]]

    assert await bodies() == await bodies() == ["before"]
    edit = await api.call("PATCH", f"{path}/{first['id']}", ana, json={"body": "after"})
    assert edit.status_code == 200
    assert await bodies() == ["after"]
    await api.call("PUT", f"{path}/{first['id']}/reactions/👍", cid)
    page = (await api.call("GET", path, bob)).json()["messages"]
    assert page[0]["reactions"] == [{"emoji": "👍", "count": 1, "userIds": [cid.id]}]
    assert (await api.call("DELETE", f"/conversations/{group}/members/{bob.id}", ana)).status_code
    gone = await api.call("GET", path, bob)
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "not_found"
    assert await bodies(cid) == ["after"]
