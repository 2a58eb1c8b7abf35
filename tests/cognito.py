"""Cognito for the tests: a user pool and its app client on moto's Cognito, as the
shared stack makes them where the tests rely on it (email auto-verified, a password
policy of length only, 8 like our own rule, and a client without a secret allowing
USER_PASSWORD_AUTH and REFRESH_TOKEN_AUTH); and what the tiny local servers standing in
for Cognito's endpoints share (answering JSON, serving on a thread)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

AUTH_FLOWS = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]


def create_pool(client: Any) -> tuple[str, str]:
    """Creates a uniquely named pool and its `web` client with `client` (a boto3
    `cognito-idp` client); returns (pool id, client id). The caller deletes the pool."""
    pool_id = str(
        client.create_user_pool(
            PoolName=f"hubbub-{time.monotonic_ns()}",
            AutoVerifiedAttributes=["email"],
            Policies={
                "PasswordPolicy": {
                    "MinimumLength": 8,
                    "RequireUppercase": False,
                    "RequireLowercase": False,
                    "RequireNumbers": False,
                    "RequireSymbols": False,
                }
            },
        )["UserPool"]["Id"]
    )
    return pool_id, create_client(client, pool_id, "web")


def create_client(client: Any, pool_id: str, name: str) -> str:
    """Another app client of the pool, with the same auth flows; returns its id."""
    made = client.create_user_pool_client(
        UserPoolId=pool_id, ClientName=name, ExplicitAuthFlows=AUTH_FLOWS
    )
    return str(made["UserPoolClient"]["ClientId"])


class JsonHandler(BaseHTTPRequestHandler):
    """A request handler that answers JSON and logs nothing."""

    def send_json(self, status: int, payload: object, content_type: str) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: Any) -> None:
        pass


@contextmanager
def serving(server: ThreadingHTTPServer) -> Iterator[None]:
    """Serves `server` on a thread for the block's length, then closes it."""
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
