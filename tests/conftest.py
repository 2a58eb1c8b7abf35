"""Fixtures every suite may use: the throwaway PostgreSQL server (tests/postgres.py),
Redis, moto's server (tests/moto.py) and DynamoDB on moto (tests/dynamodb.py)."""

from tests.dynamodb import dynamodb_moto
from tests.moto import moto
from tests.postgres import postgres
from tests.redis import redis_server

__all__ = ["dynamodb_moto", "moto", "postgres", "redis_server"]
