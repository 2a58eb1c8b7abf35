"""The Lambda handlers, invoked as Lambda invokes them: with API Gateway and SNS
payloads (the JSON fixtures under tests/events/), a Lambda context, and the
environment a deployed function gets, pointed at moto's server (DynamoDB, SNS, SQS)
over HTTP, a real throwaway Redis, and a real HTTP server speaking the API Gateway
Management API (`POST`/`DELETE /{stage}/@connections/{id}`).

The Management API server is ours because moto's `post_to_connection` accepts anything
and never answers 410: here a test says which connections are gone (410) or throttled
(429 a number of times), and reads what each connection was sent.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import boto3
import pytest

from hubbub.adapters.dynamodb_tables import create_tables
from hubbub.aws import platform
from tests.aws.lambda_context import Context
from tests.moto import MotoServer, moto
from tests.redis import RedisServer

__all__ = ["Context", "moto"]

EVENTS = Path(__file__).parent.parent / "events"
ORIGIN = "https://d111111abcdef8.cloudfront.net"
STAGE = "prod"


def event(name: str) -> dict[str, Any]:
    """A fresh copy of the fixture tests/events/<name>.json."""
    loaded: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    return copy.deepcopy(loaded)


class _Server(ThreadingHTTPServer):
    request_queue_size = 256  # the fan-out opens dozens of connections at once
    daemon_threads = True


class ManagementApi:
    """A real HTTP server speaking API Gateway's `@connections` API."""

    def __init__(self) -> None:
        self.sent: dict[str, list[bytes]] = {}
        self.gone: set[str] = set()  # answered 410 (GoneException)
        self.bare_gone: set[str] = set()  # answered a bare 410, as serverless-offline does
        self.throttle: dict[str, int] = {}  # answered 429 this many times first
        # Answered 410 this many times first: a handshake API Gateway has not finished.
        self.opening: dict[str, int] = {}
        self.throttled = 0
        self.deleted: list[str] = []
        self._lock = threading.Lock()
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                connection_id = api._connection(self.path)
                data = self.rfile.read(int(self.headers.get("content-length", "0")))
                with api._lock:
                    if connection_id in api.gone:
                        return self._answer(410, "GoneException")
                    if connection_id in api.bare_gone:
                        return self._answer(410, None)
                    if api.opening.get(connection_id, 0) > 0:
                        api.opening[connection_id] -= 1
                        return self._answer(410, "GoneException")
                    if api.throttle.get(connection_id, 0) > 0:
                        api.throttle[connection_id] -= 1
                        api.throttled += 1
                        return self._answer(429, "TooManyRequestsException")
                    api.sent.setdefault(connection_id, []).append(data)
                self._answer(200, None)

            def do_DELETE(self) -> None:
                with api._lock:
                    api.deleted.append(api._connection(self.path))
                self._answer(204, None)

            def _answer(self, status: int, error_type: str | None) -> None:
                body = b"" if status in (200, 204) else json.dumps({"message": "x"}).encode()
                self.send_response(status)
                if error_type:
                    self.send_header("x-amzn-ErrorType", error_type)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = _Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/{STAGE}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @staticmethod
    def _connection(path: str) -> str:
        prefix = f"/{STAGE}/@connections/"
        assert path.startswith(prefix), path
        return unquote(path[len(prefix) :])

    def frames(self, connection_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return [json.loads(d) for d in self.sent.get(connection_id, [])]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class Deployment:
    """One stage's resources on moto, and the handlers invoked with real payloads."""

    def __init__(self, moto: MotoServer, redis_url: str, api: ManagementApi) -> None:
        self.api = api
        self.moto_endpoint = moto.endpoint
        self.prefix = f"hubbub-t{uuid.uuid4().hex[:8]}-"
        self.dynamodb = boto3.client("dynamodb")
        self.table = f"{self.prefix}websocket-connections"
        create_tables(self.dynamodb, self.prefix, only={"websocket-connections"})
        sns = boto3.client("sns")
        self.topic = sns.create_topic(Name=f"{self.prefix}fanout")["TopicArn"]
        # The fan-out subscription, as an SQS queue the tests drain into the fan-out
        # handler (moto cannot invoke a Lambda without Docker).
        self.sqs = boto3.client("sqs")
        self.queue = self.sqs.create_queue(QueueName=f"{self.prefix}fanout")["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(QueueUrl=self.queue, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        sns.subscribe(TopicArn=self.topic, Protocol="sqs", Endpoint=queue_arn)
        self.env = {
            "HUBBUB_STORE": "memory",
            "HUBBUB_REDIS_URL": redis_url,
            "HUBBUB_TOKEN_SECRET": "x" * 40,
            "HUBBUB_PASSWORD_HASH_MEMORY_KIB": "64",
            "HUBBUB_ALLOWED_ORIGINS": ORIGIN,
            "HUBBUB_DYNAMODB_TABLE_PREFIX": self.prefix,
            "HUBBUB_SNS_TOPIC_ARN": self.topic,
            "HUBBUB_WS_MANAGEMENT_URL": api.url,
        }
        # The fan-out runs outside the VPC: no Redis (nor anything else of the
        # services'), only the connections table and the Management API.
        self.fanout_env = {
            "HUBBUB_DYNAMODB_TABLE_PREFIX": self.prefix,
            "HUBBUB_WS_MANAGEMENT_URL": api.url,
        }
        self._fanout: subprocess.Popen[str] | None = None
        self._moto_env = moto.env

    # -- HTTP API ------------------------------------------------------------------

    def http(
        self,
        handler: str,
        method: str,
        path: str,
        body: Any = None,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], Any]:
        from hubbub.aws import http

        request = event("http_api_v2")
        raw = "" if body is None else json.dumps(body)
        path, _, query = path.partition("?")
        request["rawPath"] = request["requestContext"]["http"]["path"] = path
        request["rawQueryString"] = query
        request["requestContext"]["http"]["method"] = method
        request["routeKey"] = request["requestContext"]["routeKey"] = "$default"
        request["body"] = raw or None
        request["headers"]["content-length"] = str(len(raw))
        if token:
            request["headers"]["authorization"] = f"Bearer {token}"
        request["headers"].update(headers or {})
        response = getattr(http, handler)(request, Context())
        text = response.get("body") or ""
        return (
            response["statusCode"],
            {k.lower(): v for k, v in response.get("headers", {}).items()},
            json.loads(text) if text else None,
        )

    def sign_up_and_in(self, username: str) -> tuple[str, str]:
        """(user id, access token) of a new confirmed user."""
        status, _, body = self.http(
            "auth",
            "POST",
            "/api/auth/signup",
            {
                "username": username,
                "email": f"{username}@example.com",
                "password": "correct horse battery staple",
                "displayName": username.title(),
            },
        )
        assert status == 201, body
        return self.sign_in(username)

    def sign_in(self, username: str) -> tuple[str, str]:
        """(user id, access token) of a new sign-in of a user made by `sign_up_and_in`."""
        status, _, body = self.http(
            "auth",
            "POST",
            "/api/auth/signin",
            {"username": username, "password": "correct horse battery staple"},
        )
        assert status == 200, body
        return str(body["user"]["id"]), str(body["accessToken"])

    def ticket(self, token: str) -> str:
        status, _, body = self.http("auth", "POST", "/api/auth/ws-ticket", token=token)
        assert status == 200, body
        return str(body["ticket"])

    # -- WebSocket API -------------------------------------------------------------

    def connect(
        self, ticket: str, connection_id: str, origin: str | None = ORIGIN
    ) -> dict[str, Any]:
        from hubbub.aws import realtime

        request = event("ws_connect")
        request["queryStringParameters"] = {"ticket": ticket}
        request["multiValueQueryStringParameters"] = {"ticket": [ticket]}
        request["requestContext"]["connectionId"] = connection_id
        if origin is None:
            del request["headers"]["Origin"]
        else:
            request["headers"]["Origin"] = origin
        response: dict[str, Any] = realtime.connect(request, Context())
        return response

    def frame(self, connection_id: str, frame: dict[str, Any]) -> dict[str, Any]:
        from hubbub.aws import realtime

        request = event("ws_message")
        request["requestContext"]["connectionId"] = connection_id
        request["body"] = json.dumps(frame)
        response: dict[str, Any] = realtime.default(request, Context())
        return response

    def disconnect(self, connection_id: str) -> dict[str, Any]:
        from hubbub.aws import realtime

        request = event("ws_disconnect")
        request["requestContext"]["connectionId"] = connection_id
        response: dict[str, Any] = realtime.disconnect(request, Context())
        return response

    # -- SNS -----------------------------------------------------------------------

    def pump(self, *, failures: bool = False) -> list[dict[str, Any]]:
        """Hands what the topic received to the fan-out handler, one SNS event per
        message as Lambda would, in a warm fan-out container of its own (a process with
        the fan-out's environment only: `tests/aws/fanout_container.py`); returns the
        handler's responses. Each invocation must have left the services unbuilt and
        Redis unloaded; one that raised fails the test unless `failures` (then it is
        `{"error": ...}` among the responses)."""
        responses: list[dict[str, Any]] = []
        while True:
            got = self.sqs.receive_message(QueueUrl=self.queue, MaxNumberOfMessages=10)
            messages = got.get("Messages", [])
            if not messages:
                return responses
            for message in messages:
                envelope = json.loads(message["Body"])
                notification = event("sns_notification")
                record = notification["Records"][0]
                record["Sns"]["Message"] = envelope["Message"]
                record["Sns"]["MessageId"] = envelope["MessageId"]
                record["Sns"]["TopicArn"] = envelope["TopicArn"]
                answer = self._invoke_fanout(notification)
                assert not answer["servicesBuilt"] and answer["loaded"] == [], answer
                if "error" in answer:
                    assert failures, answer["trace"]
                    responses.append({"error": answer["error"]})
                else:
                    responses.append(answer["response"])
                self.sqs.delete_message(QueueUrl=self.queue, ReceiptHandle=message["ReceiptHandle"])

    def _invoke_fanout(self, notification: dict[str, Any]) -> dict[str, Any]:
        if self._fanout is None:
            env = {k: v for k, v in os.environ.items() if not k.startswith(("HUBBUB_", "AWS_"))}
            env.update(self._moto_env)
            env.update(self.fanout_env)
            env["PYTHONPATH"] = os.pathsep.join(["src", "."])
            self._fanout = subprocess.Popen(
                [sys.executable, "-m", "tests.aws.fanout_container"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env=env,
                cwd=Path(__file__).resolve().parents[2],
                text=True,
            )
        assert self._fanout.stdin is not None and self._fanout.stdout is not None
        self._fanout.stdin.write(json.dumps(notification) + "\n")
        self._fanout.stdin.flush()
        from tests.aws.fanout_container import ANSWER

        while True:  # the handler's own logs and metrics come out there too
            line = self._fanout.stdout.readline()
            assert line, "the fan-out container died"
            if line.startswith(ANSWER):
                answer: dict[str, Any] = json.loads(line[len(ANSWER) :])
                return answer

    def close(self) -> None:
        if self._fanout is not None:
            assert self._fanout.stdin is not None
            self._fanout.stdin.close()
            try:
                self._fanout.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._fanout.kill()
                self._fanout.wait()
            if self._fanout.stdout is not None:
                self._fanout.stdout.close()
            self._fanout = None


@pytest.fixture
def management_api() -> Iterator[ManagementApi]:
    api = ManagementApi()
    try:
        yield api
    finally:
        api.stop()


@pytest.fixture
def deployment(
    moto: MotoServer,
    redis_server: RedisServer,
    management_api: ManagementApi,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Deployment]:
    """A fresh stage (its own tables, topic and Redis database) and a cold container:
    what `hubbub.aws.platform` built for an earlier test is forgotten."""
    stage = Deployment(moto, redis_server.fresh_url(), management_api)
    for name in [n for n in os.environ if n.startswith("HUBBUB_")]:
        monkeypatch.delenv(name)
    for name, value in stage.env.items():
        monkeypatch.setenv(name, value)
    platform.reset()
    try:
        yield stage
    finally:
        stage.close()
        platform.reset()
