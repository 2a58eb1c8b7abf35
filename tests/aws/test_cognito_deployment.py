"""The handlers on the deployed identity: with HUBBUB_COGNITO_USER_POOL_ID set, the
Lambda platform signs people up and in through the Cognito user pool (moto's, over
HTTP), and its access tokens open the WebSocket like local ones."""

from __future__ import annotations

import json

import boto3
import pytest

from tests.aws.conftest import Deployment
from tests.cognito import create_pool


def test_sign_up_sign_in_and_connect_on_cognito(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    stage = deployment
    client = boto3.client("cognito-idp")
    pool_id, client_id = create_pool(client)
    monkeypatch.delenv("HUBBUB_TOKEN_SECRET")
    monkeypatch.setenv("HUBBUB_COGNITO_USER_POOL_ID", pool_id)
    monkeypatch.setenv("HUBBUB_COGNITO_CLIENT_ID", client_id)
    # moto signs with the real AWS issuer but serves the keys itself.
    monkeypatch.setenv(
        "HUBBUB_COGNITO_JWKS_URL", f"{stage.moto_endpoint}/{pool_id}/.well-known/jwks.json"
    )
    monkeypatch.setenv("HUBBUB_AUTO_CONFIRM", "true")  # the local stage's stand-in
    try:
        user_id, token = stage.sign_up_and_in("alice")
        status, _, body = stage.http("conversations", "GET", "/api/users/me", token=token)
        assert status == 200 and body["user"]["id"] == user_id
        assert stage.connect(stage.ticket(token), "c1=") == {"statusCode": 200}
        stage.pump()  # the fan-out sends the hello
        assert [f["type"] for f in stage.api.frames("c1=")] == ["hello"]
        answer = stage.frame("c1=", {"action": "ping", "requestId": "p"})
        assert json.loads(answer["body"]) == {"type": "pong", "requestId": "p"}
    finally:
        client.delete_user_pool(UserPoolId=pool_id)
