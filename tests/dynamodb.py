"""DynamoDB for the tests: fresh tables on a moto server over HTTP.

Each test gets its own table prefix, with every table of `dynamodb_tables` created
under it (about 0.2 s on moto), so tests never see each other's rows and no reset is
needed between them.

The tables live on a moto server of their own that answers one request at a time
(`dynamodb_moto`, scripts/serial_moto.py says why), not on the shared threaded one
(tests/moto.py).
"""

from __future__ import annotations

import itertools
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import boto3
import httpx
import pytest

from hubbub.adapters.dynamodb import DynamoStore
from hubbub.adapters.dynamodb_tables import create_tables
from hubbub.config import Settings
from tests.moto import MotoServer
from tests.postgres import TEST_TOKEN_SECRET

_prefixes = itertools.count(1)


class SerialMotoServer(MotoServer):
    """A `moto_server` that answers one request at a time (module docstring)."""

    def start(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "scripts.serial_moto", str(self.port)],
            cwd=Path(__file__).resolve().parent.parent,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"moto's server exited with {self._process.returncode}")
            try:
                httpx.get(f"{self.endpoint}/moto-api/", timeout=1)
                return
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError("moto's server did not answer within 30 s")

    def stop(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait(timeout=10)


@pytest.fixture(scope="session")
def dynamodb_moto() -> Iterator[SerialMotoServer]:
    """The session's DynamoDB (moto, one request at a time), started on first use."""
    server = SerialMotoServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def client_of(server: MotoServer) -> object:
    return boto3.client(
        "dynamodb",
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def fresh_prefix(server: MotoServer) -> str:
    """A new table prefix with every table created under it."""
    prefix = f"test{next(_prefixes)}-"
    create_tables(client_of(server), prefix)
    return prefix


def dynamo_store(request: pytest.FixtureRequest) -> DynamoStore:
    """A store on fresh tables of the session's DynamoDB."""
    server: SerialMotoServer = request.getfixturevalue("dynamodb_moto")
    return DynamoStore(fresh_prefix(server), dynamodb=client_of(server))


def settings_on_dynamodb(settings: Settings, request: pytest.FixtureRequest) -> Settings:
    """`settings` on fresh DynamoDB tables, as a deployment on them is configured; the
    endpoint is set for this process (AWS_ENDPOINT_URL_DYNAMODB), as an operator would."""
    server: SerialMotoServer = request.getfixturevalue("dynamodb_moto")
    monkeypatch: pytest.MonkeyPatch = request.getfixturevalue("monkeypatch")
    for key, value in server.env.items():
        if key != "AWS_ENDPOINT_URL":  # other AWS services stay where they were
            monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", server.endpoint)
    return replace(
        settings,
        store="dynamodb",
        database_url="",
        dynamodb_table_prefix=fresh_prefix(server),
        token_secret=TEST_TOKEN_SECRET,
    )
