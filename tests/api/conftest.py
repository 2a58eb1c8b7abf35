"""The API suite runs against a real server: by default `hubbub serve` in a
subprocess; set HUBBUB_TEST_BASE_URL to point it at another deployment.

HUBBUB_TEST_STORE=postgres runs that server on PostgreSQL (a fresh database on the
tests' throwaway server, migrated with `hubbub migrate`); HUBBUB_TEST_STORE=dynamodb on
DynamoDB (moto's server, tables created with `hubbub migrate`); `make test` runs the
suite once on each store.

HUBBUB_TEST_TOPOLOGY says how many processes serve it (with HUBBUB_TEST_STORE=postgres;
`two-processes` also with dynamodb):
`two-processes` runs two sharing that database and a throwaway Redis (tests/cluster.py),
each test's users spread over both (its first user on one process, its second on the
other); `proxy` runs it through nginx in front of two such processes, as
`make scale-out` runs them (tests/proxy.py)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.api.aws_local_gaps import GAPS
from tests.api.console import start_console_server
from tests.aws_local import AwsLocalStack, aws_local_topology
from tests.cluster import (
    Cluster,
    dynamodb_env,
    migrate,
    running_cluster,
    running_dynamodb_cluster,
)
from tests.moto import MotoServer
from tests.postgres import TEST_TOKEN_SECRET, PostgresServer
from tests.proxy import ProxiedDeployment, proxy_topology
from tests.redis import RedisServer
from tests.support import Api, ServerProcess

EXTERNAL = os.environ.get("HUBBUB_TEST_BASE_URL")
STORE = os.environ.get("HUBBUB_TEST_STORE", "sqlite")
TOPOLOGY = os.environ.get("HUBBUB_TEST_TOPOLOGY", "one-process")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """On aws-local, the tests `aws_local_gaps` lists are skipped, each with its reason
    (HUBBUB_TEST_RUN_GAPS=1 runs them anyway, to see whether a gap is still there)."""
    if TOPOLOGY != "aws-local" or os.environ.get("HUBBUB_TEST_RUN_GAPS") == "1":
        return
    for item in items:
        path = Path(item.path)
        reason = GAPS.get(f"{path.name}::{item.name}") if path.parent.name == "api" else None
        if reason is not None:
            item.add_marker(pytest.mark.skip(reason=f"not on aws-local: {reason}"))


@pytest.fixture(scope="session")
def cluster(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Cluster | None]:
    """The two processes of HUBBUB_TEST_TOPOLOGY=two-processes; None otherwise."""
    if TOPOLOGY in {"one-process", "proxy", "aws-local"} or EXTERNAL:
        yield None
        return
    if TOPOLOGY != "two-processes" or STORE not in {"postgres", "dynamodb"}:
        raise pytest.UsageError(
            "HUBBUB_TEST_TOPOLOGY must be one-process, or two-processes (with"
            " HUBBUB_TEST_STORE=postgres or dynamodb) or proxy (with postgres)"
        )
    redis: RedisServer = request.getfixturevalue("redis_server")
    root = Path(tmp_path_factory.mktemp("hubbub-cluster"))
    if STORE == "dynamodb":
        dynamodb: MotoServer = request.getfixturevalue("dynamodb_moto")
        with running_dynamodb_cluster(root, dynamodb, redis.fresh_url()) as on_dynamodb:
            yield on_dynamodb
        return
    with running_cluster(root, request.getfixturevalue("postgres"), redis.fresh_url()) as two:
        yield two


@pytest.fixture(scope="session")
def server(
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
    cluster: Cluster | None,
) -> Iterator[ServerProcess | ProxiedDeployment | AwsLocalStack | None]:
    """The server under test; on two processes the first (the one `local_server`
    restarts: its users' requests meet the restart, the other's do not)."""
    if EXTERNAL:
        yield None
        return
    if cluster is not None:
        yield cluster.processes[0]
        return
    if TOPOLOGY == "proxy":
        yield from proxy_topology(tmp_path_factory, request, STORE)
        return
    if TOPOLOGY == "aws-local":
        yield from aws_local_topology(tmp_path_factory)
        return
    if STORE not in {"sqlite", "postgres", "dynamodb"}:
        raise pytest.UsageError("HUBBUB_TEST_STORE must be sqlite, postgres or dynamodb")
    env: dict[str, str] = {}
    if STORE == "dynamodb":
        moto: MotoServer = request.getfixturevalue("dynamodb_moto")
        env = dynamodb_env(moto, f"api{os.getpid()}-")
    if STORE == "postgres":
        postgres: PostgresServer = request.getfixturevalue("postgres")
        env = {
            "HUBBUB_DATABASE_URL": postgres.fresh_database_url(migrated=False),
            "HUBBUB_TOKEN_SECRET": TEST_TOKEN_SECRET,
        }
    if env:
        # As an operator would: servers on PostgreSQL never migrate on their own, and
        # `hubbub migrate` creates DynamoDB's tables.
        migrate(env)
    process = ServerProcess(data_dir=Path(tmp_path_factory.mktemp("hubbub-data")), env=env)
    process.start()
    yield process
    process.stop()


@pytest.fixture
def local_server(
    server: ServerProcess | ProxiedDeployment | AwsLocalStack | None,
) -> ServerProcess | ProxiedDeployment:
    """For tests that must restart the server; meaningless against a remote target, and
    on Lambda, where no process outlives a request's need of it."""
    if server is None:
        pytest.skip("restarts need the local server (HUBBUB_TEST_BASE_URL is set)")
    if isinstance(server, AwsLocalStack):
        pytest.skip("restarts need a server process: on Lambda (aws-local) there is none")
    return server


@pytest.fixture
async def api(
    server: ServerProcess | ProxiedDeployment | AwsLocalStack | None, cluster: Cluster | None
) -> AsyncIterator[Api]:
    if cluster is not None:
        client = cluster.api()
    else:
        client = Api(
            EXTERNAL or (server.base_url if server else ""),
            ws_url=server.ws_url if isinstance(server, AwsLocalStack) else None,
            # The emulator runs a few Python processes per function (aws_local.py
            # --concurrency) and moto answers one request at a time: a burst of requests
            # queues there, where Lambda scales out.
            timeout=90 if isinstance(server, AwsLocalStack) else 20,
        )
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
