"""Reliability and security suites: a real `hubbub serve` subprocess, real clients.

The session server signs tokens with a known secret so the tests can mint expired and
forged tokens. Tests that need other settings (tight limits, an Origin allowlist)
start their own server with `helpers.own_server`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.reliability.helpers import own_server
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
