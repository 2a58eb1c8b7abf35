"""Fixtures every suite may use: the throwaway PostgreSQL server (tests/postgres.py)."""

from tests.postgres import postgres
from tests.redis import redis_server

__all__ = ["postgres", "redis_server"]
