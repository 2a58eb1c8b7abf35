"""The API suite runs against a real server: by default `hubbub serve` in a
subprocess; set HUBBUB_TEST_BASE_URL to point it at another deployment."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.api.console import start_console_server
from tests.support import Api, ServerProcess

EXTERNAL = os.environ.get("HUBBUB_TEST_BASE_URL")


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess | None]:
    if EXTERNAL:
        yield None
        return
    process = ServerProcess(data_dir=Path(tmp_path_factory.mktemp("hubbub-data")))
    process.start()
    yield process
    process.stop()


@pytest.fixture
def local_server(server: ServerProcess | None) -> ServerProcess:
    """For tests that must restart the server; meaningless against a remote target."""
    if server is None:
        pytest.skip("restarts need the local server (HUBBUB_TEST_BASE_URL is set)")
    return server


@pytest.fixture
async def api(server: ServerProcess | None) -> AsyncIterator[Api]:
    client = Api(EXTERNAL or (server.base_url if server else ""))
    yield client
    await client.close()


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server of its own in console confirmation mode, whose log holds the codes."""
    process = start_console_server(tmp_path_factory)
    yield process
    process.stop()


@pytest.fixture
async def client(console: ServerProcess) -> AsyncIterator[Api]:
    api = Api(console.base_url)
    yield api
    await api.close()
