"""The HTTP API handlers answer as the local server does: the same routes, the same
structured errors with stable codes, request ids on every response."""

from __future__ import annotations

from tests.aws.conftest import Deployment


def test_errors_keep_their_structured_shape_and_stable_codes(deployment: Deployment) -> None:
    stage = deployment
    status, headers, body = stage.http("conversations", "GET", "/api/conversations")
    assert status == 401
    assert body["error"]["code"] == "unauthorized" and body["error"]["message"]
    assert headers["x-request-id"]
    assert headers["content-type"].startswith("application/json")

    status, _, body = stage.http(
        "auth", "POST", "/api/auth/signup", {"username": "a", "email": "nope"}
    )
    assert status == 422 and body["error"]["code"] == "validation_error"

    _, token = stage.sign_up_and_in("alice")
    status, _, body = stage.http(
        "messages", "GET", "/api/conversations/missing/messages", token=token
    )
    assert status == 404 and body["error"]["code"] == "not_found"


def test_a_client_request_id_is_echoed(deployment: Deployment) -> None:
    _, headers, _ = deployment.http(
        "auth", "POST", "/api/auth/signin", {}, headers={"x-request-id": "trace-me-42"}
    )
    assert headers["x-request-id"] == "trace-me-42"


def test_each_service_serves_only_its_own_routes(deployment: Deployment) -> None:
    stage = deployment
    _, token = stage.sign_up_and_in("alice")
    assert stage.http("conversations", "GET", "/api/users/me", token=token)[0] == 200
    status, _, body = stage.http("auth", "GET", "/api/users/me", token=token)
    assert status == 404 and body["error"]["code"] == "not_found"
    assert stage.http("messages", "GET", "/api/sync", token=token)[0] == 200
    assert stage.http("conversations", "GET", "/api/sync", token=token)[0] == 404


def test_sign_in_is_rate_limited_across_invocations(deployment: Deployment) -> None:
    """Limits live in Redis: every invocation (any container) counts against them."""
    stage = deployment
    stage.sign_up_and_in("alice")
    wrong = {"username": "alice", "password": "wrong"}
    statuses = [stage.http("auth", "POST", "/api/auth/signin", wrong)[0] for _ in range(12)]
    assert statuses[0] == 401 and statuses[-1] == 429
