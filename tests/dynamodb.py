"""DynamoDB for the tests: fresh tables on the session's moto server (tests/moto.py).

Each test gets its own table prefix, with every table of `dynamodb_tables` created
under it (about 0.2 s on moto), so tests never see each other's rows and no reset is
needed between them.
"""

from __future__ import annotations

import itertools
from dataclasses import replace

import boto3
import pytest

from hubbub.adapters.dynamodb import DynamoStore
from hubbub.adapters.dynamodb_tables import create_tables
from hubbub.config import Settings
from tests.moto import MotoServer
from tests.postgres import TEST_TOKEN_SECRET

_prefixes = itertools.count(1)


def fresh_prefix(server: MotoServer) -> str:
    """A new table prefix with every table created under it."""
    prefix = f"test{next(_prefixes)}-"
    create_tables(boto3.client("dynamodb", endpoint_url=server.endpoint), prefix)
    return prefix


def dynamo_store(request: pytest.FixtureRequest) -> DynamoStore:
    """A store on fresh tables of the session's moto server."""
    server: MotoServer = request.getfixturevalue("moto")
    return DynamoStore(fresh_prefix(server))


def settings_on_dynamodb(settings: Settings, request: pytest.FixtureRequest) -> Settings:
    """`settings` on fresh DynamoDB tables, as a deployment on them is configured."""
    server: MotoServer = request.getfixturevalue("moto")
    return replace(
        settings,
        store="dynamodb",
        database_url="",
        dynamodb_table_prefix=fresh_prefix(server),
        token_secret=TEST_TOKEN_SECRET,
    )
