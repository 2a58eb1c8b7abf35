"""Reliability and security suites: a real `hubbub serve` subprocess, real clients.

The session server signs tokens with a known secret so the tests can mint expired and
forged tokens. Tests that need other settings (tight limits, an Origin allowlist)
start their own server with `helpers.own_server`. A test that takes `deployment` runs
twice: on one process, and on two processes sharing one PostgreSQL database with its
clients spread over both.
"""

from __future__ import annotations

import contextlib
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


@pytest.fixture(params=["one-process", "two-processes-postgres"])
async def deployment(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Deployment]:
    """Fresh servers of the test's own: they may be stopped and killed."""
    with contextlib.ExitStack() as stack:
        if request.param == "one-process":
            servers = [stack.enter_context(own_server(tmp_path / "data"))]
        else:
            servers = stack.enter_context(
                sharing_postgres(request.getfixturevalue("postgres"), tmp_path)
            )
        deployed = Deployment(servers)
        try:
            yield deployed
        finally:
            await deployed.close()
