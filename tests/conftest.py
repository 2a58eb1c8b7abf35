"""Fixtures every suite may use: the throwaway PostgreSQL server (tests/postgres.py),
Redis, and moto's server (tests/moto.py)."""

from tests.moto import moto
from tests.postgres import postgres
from tests.redis import redis_server

__all__ = ["moto", "postgres", "redis_server"]
