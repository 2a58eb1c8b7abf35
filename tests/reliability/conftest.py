"""Reliability and security suites: a real `hubbub serve` subprocess, real clients.

The session server signs tokens with a known secret so the tests can mint expired and
forged tokens. Tests that need other settings (tight limits, an Origin allowlist)
start their own server with `helpers.own_server`. A test that takes `deployment` runs
twice: on one process, and on two processes sharing one PostgreSQL database with its
clients spread over both (servers shared by the module's tests).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.reliability.helpers import Deployment, own_server, sharing_postgres
from tests.support import Api, ServerProcess


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with own_server(Path(tmp_path_factory.mktemp("reliability-data"))) as process:
        yield process


@pytest.fixture
async def api(server: ServerProcess) -> AsyncIterator[Api]:
    client = Api(server.base_url)
    yield client
    await client.close()


@pytest.fixture(scope="module", params=["one-process", "two-processes-postgres"])
def deployed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[ServerProcess]]:
    """The servers of one module's scenarios: one process, or two sharing PostgreSQL."""
    root = tmp_path_factory.mktemp("deployment")
    if request.param == "one-process":
        with own_server(root / "data") as server:
            yield [server]
    else:
        with sharing_postgres(request.getfixturevalue("postgres"), root) as servers:
            yield servers


@pytest.fixture
async def deployment(deployed: list[ServerProcess]) -> AsyncIterator[Deployment]:
    """The module's servers, each running (a test before may have stopped one), with
    clients of the test's own. The test may stop and kill them."""
    started = Deployment(deployed)
    for n in range(len(deployed)):
        started.start(n)
    try:
        yield started
    finally:
        await started.close()
