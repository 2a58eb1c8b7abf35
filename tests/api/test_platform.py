"""What the server offers besides the chat: health, the OpenAPI contract, the web app."""

from __future__ import annotations

from tests.support import Api

CONTRACT = {
    ("post", "/api/auth/signup"),
    ("post", "/api/auth/confirm"),
    ("post", "/api/auth/resend-code"),
    ("post", "/api/auth/signin"),
    ("post", "/api/auth/refresh"),
    ("post", "/api/auth/signout"),
    ("post", "/api/auth/ws-ticket"),
    ("get", "/api/users/me"),
    ("patch", "/api/users/me"),
    ("get", "/api/users/search"),
    ("get", "/api/users/{user_id}"),
    ("post", "/api/conversations/direct"),
    ("post", "/api/conversations"),
    ("get", "/api/conversations"),
    ("get", "/api/conversations/{conversation_id}"),
    ("patch", "/api/conversations/{conversation_id}"),
    ("delete", "/api/conversations/{conversation_id}"),
    ("get", "/api/conversations/{conversation_id}/members"),
    ("post", "/api/conversations/{conversation_id}/members"),
    ("delete", "/api/conversations/{conversation_id}/members/{user_id}"),
    ("post", "/api/conversations/{conversation_id}/read"),
    ("get", "/api/conversations/{conversation_id}/messages"),
    ("post", "/api/conversations/{conversation_id}/messages"),
    ("get", "/api/conversations/{conversation_id}/messages/{message_id}"),
    ("patch", "/api/conversations/{conversation_id}/messages/{message_id}"),
    ("delete", "/api/conversations/{conversation_id}/messages/{message_id}"),
    ("get", "/api/sync"),
}


async def test_health_reports_ok(api: Api) -> None:
    reply = await api.http.get("/healthz")
    assert reply.status_code == 200 and reply.json()["status"] == "ok"


async def test_the_openapi_document_covers_the_whole_contract(api: Api) -> None:
    document = (await api.http.get("/api/openapi.json")).json()
    served = {(method, path) for path, ops in document["paths"].items() for method in ops}
    assert served >= CONTRACT
    assert (await api.http.get("/api/docs")).status_code == 200


async def test_the_web_app_is_served_for_any_client_route(api: Api) -> None:
    root = await api.http.get("/")
    deep = await api.http.get("/conversations/some-id")
    assert root.status_code == deep.status_code == 200
    assert root.headers["content-type"].startswith("text/html")
    assert deep.text == root.text


async def test_unknown_api_paths_are_json_404s_for_every_method(api: Api) -> None:
    for method in ("GET", "POST", "DELETE"):
        reply = await api.http.request(method, "/api/no-such-thing")
        assert reply.status_code == 404
        assert reply.json()["error"]["code"] == "not_found"
